import assert from "node:assert/strict";
import { test } from "node:test";
import sharp from "sharp";
import { readHeader } from "./inspect.js";

const pixels = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: { r: 200, g: 80, b: 30 } } });

test("readHeader gives the format and stored size libvips reads, for the JPEGs and PNGs upstreams send", async () => {
  const images = [
    await pixels(1024, 768).jpeg().toBuffer(),
    await pixels(33, 2000).jpeg({ progressive: true }).toBuffer(),
    await pixels(640, 480).jpeg({ quality: 90 }).withMetadata({ orientation: 6 }).withIccProfile("srgb").toBuffer(),
    await pixels(1, 1).png().toBuffer(),
    await pixels(2048, 2048).png({ palette: true }).toBuffer(),
  ];
  for (const image of images) {
    const metadata = await sharp(image).metadata();
    assert.deepEqual(readHeader(image), { format: metadata.format, width: metadata.width, height: metadata.height });
  }
});

test("readHeader refuses what is not a JPEG or PNG with a size: other formats, text, cut-short headers", async () => {
  const jpeg = await pixels(64, 64).jpeg().toBuffer();
  const png = await pixels(64, 64).png().toBuffer();
  const frame = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
  const zeroWidth = Buffer.from(jpeg);
  zeroWidth.writeUInt16BE(0, frame + 7);
  const cases: Array<[string, Buffer]> = [
    ["empty", Buffer.alloc(0)],
    ["WebP", await pixels(64, 64).webp().toBuffer()],
    ["an HTML error page", Buffer.from("<!doctype html><title>502 Bad Gateway</title>")],
    ["JPEG cut before its frame header", jpeg.subarray(0, frame + 4)],
    ["JPEG whose scan starts before any frame header", Buffer.concat([jpeg.subarray(0, 2), Buffer.from([0xff, 0xda, 0x00, 0x08]), Buffer.alloc(16)])],
    ["JPEG with a segment length under 2", Buffer.concat([jpeg.subarray(0, 2), Buffer.from([0xff, 0xe0, 0x00, 0x01]), Buffer.alloc(16)])],
    ["JPEG with garbage between segments", Buffer.concat([jpeg.subarray(0, 2), Buffer.from("garbage garbage garbage")])],
    ["JPEG of width 0", zeroWidth],
    ["PNG cut inside IHDR", png.subarray(0, 20)],
    ["PNG whose first chunk is not IHDR", Buffer.concat([png.subarray(0, 12), Buffer.from("IDAT"), png.subarray(16)])],
  ];
  for (const [name, bytes] of cases) assert.equal(readHeader(bytes), undefined, name);
});
