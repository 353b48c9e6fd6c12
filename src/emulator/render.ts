/**
 * The emulator's pictures: real JPEGs, deterministic for (prompt, seed, size). Colours and shapes come
 * from a hash of the prompt and seed, so a different prompt or seed is visibly a different picture;
 * edits and portraits start from the input image and lay the prompt's shapes over it.
 */
import { createHash } from "node:crypto";
import sharp from "sharp";

/** mulberry32, seeded from SHA-256 of the inputs. */
function randomFor(...parts: Array<string | number>): () => number {
  let state = createHash("sha256").update(parts.join("\u0000")).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

function shapesSvg(random: () => number, width: number, height: number, opacity: number, background: boolean): string {
  const hue = Math.floor(random() * 360);
  const color = (shift: number, lightness: number) => `hsl(${(hue + shift) % 360},${55 + Math.floor(random() * 35)}%,${lightness}%)`;
  const parts: string[] = [];
  if (background) {
    parts.push(
      `<defs><linearGradient id="g" x1="0" y1="0" x2="${random().toFixed(2)}" y2="1">` +
        `<stop offset="0" stop-color="${color(0, 30 + Math.floor(random() * 30))}"/>` +
        `<stop offset="1" stop-color="${color(150, 40 + Math.floor(random() * 30))}"/></linearGradient></defs>`,
      `<rect width="${width}" height="${height}" fill="url(#g)"/>`,
    );
  }
  const count = 6 + Math.floor(random() * 7);
  const unit = Math.min(width, height);
  for (let index = 0; index < count; index += 1) {
    const x = Math.round(random() * width);
    const y = Math.round(random() * height);
    const size = Math.round(unit * (0.08 + random() * 0.3));
    const fill = color(Math.floor(random() * 360), 35 + Math.floor(random() * 45));
    const alpha = (opacity * (0.45 + random() * 0.55)).toFixed(2);
    const kind = Math.floor(random() * 3);
    if (kind === 0) parts.push(`<circle cx="${x}" cy="${y}" r="${size}" fill="${fill}" fill-opacity="${alpha}"/>`);
    else if (kind === 1) parts.push(`<rect x="${x - size}" y="${y - size / 2}" width="${size * 2}" height="${size}" rx="${size / 5}" fill="${fill}" fill-opacity="${alpha}" transform="rotate(${Math.round(random() * 90)} ${x} ${y})"/>`);
    else parts.push(`<polygon points="${x},${y - size} ${x + size},${y + size} ${x - size},${y + size}" fill="${fill}" fill-opacity="${alpha}"/>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join("")}</svg>`;
}

export interface RenderInput {
  prompt: string;
  seed: number;
  width: number;
  height: number;
}

/** A text-to-image picture. */
export async function renderPicture(input: RenderInput): Promise<Buffer> {
  const random = randomFor("t2i", input.prompt, input.seed, input.width, input.height);
  return sharp(Buffer.from(shapesSvg(random, input.width, input.height, 1, true)))
    .jpeg({ quality: 88 })
    .toBuffer();
}

/** An edit or portrait: the input image, fitted to the output size, under the prompt's shapes. */
export async function renderFromImage(source: Buffer, input: RenderInput): Promise<Buffer> {
  const random = randomFor("i2i", input.prompt, input.seed, input.width, input.height);
  const base = await sharp(source, { limitInputPixels: 6000 * 6000 })
    .rotate()
    .resize(input.width, input.height, { fit: "cover" })
    .toBuffer();
  return sharp(base)
    .composite([{ input: Buffer.from(shapesSvg(random, input.width, input.height, 0.45, false)), left: 0, top: 0 }])
    .jpeg({ quality: 88 })
    .toBuffer();
}
