// Pixel tests of the mark the gateway draws for an upstream that cannot (and the emulator draws as Volcengine
// would): it is there, in the asked corner, at the asked opacity, and nowhere else.
import assert from "node:assert/strict";
import { test } from "node:test";
import sharp from "sharp";
import { drawMark, MARK_TEXT, markBox, type MarkBox, type MarkPosition } from "./watermark.js";

const WIDTH = 800;
const HEIGHT = 600;
const GREY = 64;

async function flat(): Promise<Buffer> {
  return sharp({ create: { width: WIDTH, height: HEIGHT, channels: 3, background: { r: GREY, g: GREY, b: GREY } } }).png().toBuffer();
}

/** Per-pixel luminance (the image is grey: channel 0 is enough). */
async function pixels(image: Buffer): Promise<Uint8Array> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width, WIDTH);
  assert.equal(info.height, HEIGHT);
  return new Uint8Array(data.buffer, data.byteOffset, data.length).filter((_, index) => index % 3 === 0);
}

const inside = (box: MarkBox, x: number, y: number, pad = 0) =>
  x >= box.left - pad && x < box.left + box.width + pad && y >= box.top - pad && y < box.top + box.height + pad;

/** Changed pixels (|Δ| > 24) inside the box and outside it (beyond an 8 px JPEG block margin), and the brightest one. */
async function survey(position: MarkPosition, opacity: number, text: string = MARK_TEXT.chinese) {
  const marked = await pixels(await drawMark(await flat(), { text, position, opacity }));
  const box = markBox(WIDTH, HEIGHT, text, position);
  let changedInside = 0;
  let changedOutside = 0;
  let brightest = 0;
  for (let y = 0; y < HEIGHT; y += 1) {
    for (let x = 0; x < WIDTH; x += 1) {
      const value = marked[y * WIDTH + x] as number;
      const changed = Math.abs(value - GREY) > 24;
      if (inside(box, x, y)) {
        if (changed) changedInside += 1;
        brightest = Math.max(brightest, value);
      } else if (!inside(box, x, y, 8) && changed) {
        changedOutside += 1;
      }
    }
  }
  return { box, changedInside, changedOutside, brightest };
}

const CORNERS: Record<MarkPosition, string> = { 0: "bottom-right", 1: "bottom-left", 2: "top-left", 3: "top-right" };

for (const position of [0, 1, 2, 3] as const) {
  test(`position ${position}: the mark is in the ${CORNERS[position]} corner and nowhere else`, async () => {
    const { box, changedInside, changedOutside } = await survey(position, 1);
    const right = position === 0 || position === 3;
    const bottom = position === 0 || position === 1;
    assert.equal(right ? box.left + box.width > WIDTH * 0.75 : box.left < WIDTH * 0.25, true, JSON.stringify(box));
    assert.equal(bottom ? box.top > HEIGHT * 0.75 : box.top + box.height < HEIGHT * 0.25, true, JSON.stringify(box));
    assert.ok(changedInside > 300, `${changedInside} pixels of the mark`);
    assert.equal(changedOutside, 0);
  });
}

test("opacity: the glyphs' white fill is blended at the asked opacity; 0 draws nothing visible", async () => {
  for (const opacity of [1, 0.6, 0.3]) {
    const { brightest } = await survey(0, opacity);
    const expected = GREY + (255 - GREY) * opacity;
    assert.ok(Math.abs(brightest - expected) <= 8, `opacity ${opacity}: brightest ${brightest}, expected ${expected.toFixed(0)}`);
  }
  const invisible = await survey(0, 0);
  assert.equal(invisible.changedInside, 0);
  assert.equal(invisible.changedOutside, 0);
});

test("the CJK glyphs are drawn (not blank boxes), and English text gets a wider box", async () => {
  const chinese = await survey(0, 1, MARK_TEXT.chinese);
  const english = await survey(0, 1, MARK_TEXT.english);
  assert.ok(english.box.width > chinese.box.width * 1.5, `${english.box.width} vs ${chinese.box.width}`);
  // "生成" is the right half of "AI生成": its pixels must be drawn too.
  const marked = await pixels(await drawMark(await flat(), { text: MARK_TEXT.chinese, position: 0, opacity: 1 }));
  const { box } = chinese;
  let rightHalf = 0;
  for (let y = box.top; y < box.top + box.height; y += 1) {
    for (let x = box.left + Math.floor(box.width / 2); x < box.left + box.width; x += 1) if (Math.abs((marked[y * WIDTH + x] as number) - GREY) > 24) rightHalf += 1;
  }
  assert.ok(rightHalf > 150, `${rightHalf} pixels in 生成`);
});

test("a long custom logo text is set smaller so that all of it is drawn inside the picture", async () => {
  const text = "W".repeat(50); // the longest logo_text_content the API accepts, in its widest letter
  const box = markBox(WIDTH, HEIGHT, text, 0);
  assert.ok(box.left > 0 && box.left + box.width < WIDTH, JSON.stringify(box));
  assert.ok(box.fontSize < markBox(WIDTH, HEIGHT, MARK_TEXT.chinese, 0).fontSize);
  const { changedInside, changedOutside } = await survey(0, 1, text);
  assert.ok(changedInside > 300);
  assert.equal(changedOutside, 0);
});
