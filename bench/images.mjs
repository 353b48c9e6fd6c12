// Image work, in-process: each of the gateway's image operations against sharp doing the bare operation on the same
// input; prints one JSON line (milliseconds per operation, medians of 3 rounds of N runs each).
import { randomBytes } from "node:crypto";
import sharp from "sharp";
import { inspectImage } from "../dist/images/inspect.js";
import { drawMark, markBox, ARK_MARK } from "../dist/images/watermark.js";

const RUNS = Number(process.env.IMAGE_RUNS ?? 10);

async function time(work) {
  const rounds = [];
  for (let round = 0; round < 3; round += 1) {
    const started = performance.now();
    for (let run = 0; run < RUNS; run += 1) await work();
    rounds.push((performance.now() - started) / RUNS);
  }
  return rounds;
}

// A 10 MB JPEG: noise at quality 100 is nearly incompressible, so the side is chosen for ~10 MB.
let big;
for (let side = 3000; ; side -= 100) {
  big = await sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } }).jpeg({ quality: 100 }).toBuffer();
  if (big.length <= 10 * 1024 * 1024) break;
}
const bigMeta = await sharp(big).metadata();
const photo = async (side) => sharp({ create: { width: side, height: side, channels: 3, background: { r: 60, g: 120, b: 180 } } }).jpeg({ quality: 90 }).toBuffer();
const images = { 1024: await photo(1024), 2048: await photo(2048) };

const results = {
  input: { bytes: big.length, width: bigMeta.width, height: bigMeta.height },
  inspect: {
    gateway: await time(() => inspectImage(big, { field: "image", checkRatio: false })),
    // What the inspection asks of sharp: the header, then a decode that fails on a truncated file.
    sharp: await time(async () => {
      await sharp(big, { limitInputPixels: false }).metadata();
      await sharp(big, { failOn: "truncated" }).resize(32, 32, { fit: "inside" }).raw().toBuffer();
    }),
  },
};
for (const side of [1024, 2048]) {
  const image = images[side];
  // The bare operation: the same outline, already made, composited and encoded.
  await drawMark(image, ARK_MARK);
  const box = markBox(side, side, ARK_MARK.text, 0);
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}"><rect x="${box.left}" y="${box.top}" width="${box.width}" height="${box.height}" fill="#ffffff" fill-opacity="0.5"/></svg>`);
  results[`watermark ${side}²`] = {
    gateway: await time(() => drawMark(image, ARK_MARK)),
    sharp: await time(() => sharp(image).composite([{ input: svg, left: 0, top: 0 }]).jpeg({ quality: 90 }).toBuffer()),
  };
}
const encoded = images[2048];
results["b64_json 2048²"] = {
  // The answer's item as the gateway builds it, against the bare base64 of the bytes.
  gateway: await time(async () => JSON.stringify({ data: [{ b64_json: encoded.toString("base64"), size: "2048x2048" }] })),
  sharp: await time(async () => encoded.toString("base64")),
};
process.stdout.write(`${JSON.stringify(results)}\n`);
