// Writes src/generated/ui-sc.otf: the glyphs of Noto Sans SC (the font the gateway draws its marks with, already a
// dependency) that the app's own text uses — every non-ASCII character of src/i18n.ts — so Chinese labels render the
// same on every machine, and nothing is fetched from a font service. The CSS loads it only for CJK text
// (unicode-range). Run before `vite build` (the package's build script).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import opentype from "opentype.js";

const here = new URL("..", import.meta.url);
const source = readFileSync(new URL("src/i18n.ts", here), "utf8");
const characters = [...new Set([...source].filter((char) => char.codePointAt(0) > 0x2e7f))].sort();
const path = createRequire(import.meta.url).resolve("@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf");
const file = readFileSync(path);
const full = opentype.parse(file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength), { lowMemory: true });
const glyphs = [full.glyphs.get(0)];
for (const char of characters) {
  const glyph = full.charToGlyph(char);
  if (glyph.index !== 0) glyphs.push(new opentype.Glyph({ name: `uni${char.codePointAt(0).toString(16)}`, unicode: char.codePointAt(0), advanceWidth: glyph.advanceWidth, path: glyph.path }));
}
const subset = new opentype.Font({
  familyName: "Doubao UI SC", styleName: "Regular", unitsPerEm: full.unitsPerEm, ascender: full.ascender, descender: full.descender, glyphs,
  copyright: "Noto Sans SC © Google, SIL Open Font License 1.1 (a subset)",
});
mkdirSync(new URL("src/generated/", here), { recursive: true });
const bytes = Buffer.from(subset.toArrayBuffer());
writeFileSync(new URL("src/generated/ui-sc.otf", here), bytes);
process.stderr.write(`ui-font: ${glyphs.length - 1} glyphs of Noto Sans SC, ${Math.round(bytes.length / 1024)} KB\n`);
