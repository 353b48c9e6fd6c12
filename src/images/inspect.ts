/**
 * Reads what an input image really is: the format from its bytes, the size from its header (before any
 * decoding), the displayed size after EXIF orientation. Then the contract's rules (CONTRACT.md §2.2).
 */
import type { Metadata } from "sharp";
import { loadSharp } from "./sharp.js";
import { invalidParameter } from "../errors/errors.js";

export type SniffedFormat = "png" | "jpeg" | "gif" | "webp" | "bmp" | "tiff" | "svg" | "html" | "unknown";

export const MAX_INPUT_BYTES = 10 * 1024 * 1024;
export const MAX_SIDE = 6000;
export const MIN_SIDE_EXCLUSIVE = 14;

export function sniffFormat(bytes: Uint8Array): SniffedFormat {
  const startsWith = (...signature: number[]) => signature.every((byte, index) => bytes[index] === byte);
  if (startsWith(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "png";
  if (startsWith(0xff, 0xd8, 0xff)) return "jpeg";
  if (startsWith(0x47, 0x49, 0x46, 0x38)) return "gif";
  if (startsWith(0x52, 0x49, 0x46, 0x46) && bytes[8] === 0x57 && bytes[9] === 0x45 && bytes[10] === 0x42 && bytes[11] === 0x50) return "webp";
  if (startsWith(0x42, 0x4d)) return "bmp";
  if (startsWith(0x49, 0x49, 0x2a, 0x00) || startsWith(0x4d, 0x4d, 0x00, 0x2a)) return "tiff";
  const head = Buffer.from(bytes.subarray(0, 512)).toString("latin1").trimStart().toLowerCase();
  if (head.startsWith("<svg") || (head.startsWith("<?xml") && head.includes("<svg"))) return "svg";
  if (head.startsWith("<!doctype html") || head.startsWith("<html")) return "html";
  return "unknown";
}

/**
 * A JPEG's or PNG's format and stored size from its header alone (the PNG's IHDR; the JPEG's first frame
 * marker, walking the segments before it), or undefined when the bytes are neither or the header is cut short.
 * What an upstream's result is checked with: the same depth as libvips' header read, without its ~0.4 ms of CPU.
 */
export function readHeader(bytes: Buffer): { format: "jpeg" | "png"; width: number; height: number } | undefined {
  const sized = (format: "jpeg" | "png", width: number, height: number) => (width > 0 && height > 0 ? { format, width, height } : undefined);
  const format = sniffFormat(bytes);
  if (format === "png") {
    if (bytes.length < 24 || bytes.toString("latin1", 12, 16) !== "IHDR") return undefined;
    return sized("png", bytes.readUInt32BE(16), bytes.readUInt32BE(20));
  }
  if (format !== "jpeg") return undefined;
  let at = 2;
  while (at + 9 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1] as number;
    // Fill bytes, and the markers that have no length (TEM, RSTn, a second SOI).
    if (marker === 0xff) at += 1;
    else if (marker === 0x01 || marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7)) at += 2;
    // The end of the image or the start of its scan before any frame header: no size.
    else if (marker === 0xd9 || marker === 0xda) return undefined;
    // SOF0–SOF15 (not DHT C4, JPG C8, DAC CC): precision, height, width.
    else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return sized("jpeg", bytes.readUInt16BE(at + 7), bytes.readUInt16BE(at + 5));
    else {
      const length = bytes.readUInt16BE(at + 2);
      if (length < 2) return undefined;
      at += 2 + length;
    }
  }
  return undefined;
}

/** Formats an input may have: PNG and JPEG everywhere; the Seedream 4.x/5.x references also WebP, GIF and TIFF (LIVE-MODELS.md §1.3). */
export type InputFormat = "png" | "jpeg" | "webp" | "gif" | "tiff";
export const CLASSIC_FORMATS: readonly InputFormat[] = ["png", "jpeg"];
/** Ark also lists BMP, which the gateway cannot decode to check (libvips has no BMP loader): it is refused with that reason. */
export const SEEDREAM_4_FORMATS: readonly InputFormat[] = ["png", "jpeg", "webp", "gif", "tiff"];

export interface InspectedImage {
  bytes: Buffer;
  format: InputFormat;
  mediaType: `image/${InputFormat}`;
  /** Displayed width and height, EXIF orientation applied. */
  width: number;
  height: number;
}

export interface InspectRules {
  /** The request field the image came from, named in every error. */
  field: string;
  /** Enforce width/height strictly between 1/3 and 3 (SeedEdit), not for portraits. */
  checkRatio: boolean;
  /** Width/height within [min, max], inclusive (Seedream 4.x/5.x: [1/16, 16]). */
  ratio?: { min: number; max: number };
  /** Accepted formats; PNG and JPEG when not given. */
  formats?: readonly InputFormat[];
}

const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

/** The 400 for an image over 10 MB (also raised from a data URL's length, before decoding it). */
export function imageTooLarge(field: string, bytes: number) {
  return invalidParameter(field, `Invalid parameter \`${field}\`: the image is ${megabytes(bytes)} (${bytes} bytes); the limit is 10 MB (${MAX_INPUT_BYTES} bytes).`);
}

export async function inspectImage(input: Buffer, rules: InspectRules): Promise<InspectedImage> {
  const { field } = rules;
  if (input.length === 0) throw invalidParameter(field, `Invalid parameter \`${field}\`: the image is empty (0 bytes).`);
  if (input.length > MAX_INPUT_BYTES) throw imageTooLarge(field, input.length);
  const sniffed = sniffFormat(input);
  const formats = rules.formats ?? CLASSIC_FORMATS;
  if (!(formats as readonly string[]).includes(sniffed)) {
    const names = formats.map((name) => name.toUpperCase());
    const list = names.length === 2 ? names.join(" or ") : `${names.slice(0, -1).join(", ")} or ${names.at(-1) as string}`;
    throw invalidParameter(field, `Invalid parameter \`${field}\`: the image must be ${list}; its bytes are ${sniffed === "unknown" ? "not a known image format" : sniffed.toUpperCase()}.`);
  }
  const format = sniffed as InputFormat;
  let metadata: Metadata;
  try {
    metadata = await (await loadSharp())(input, { limitInputPixels: false }).metadata();
  } catch {
    throw invalidParameter(field, `Invalid parameter \`${field}\`: the ${format.toUpperCase()} image is corrupt or truncated and cannot be read.`);
  }
  const storedWidth = metadata.width ?? 0;
  const storedHeight = metadata.height ?? 0;
  if (storedWidth === 0 || storedHeight === 0) {
    throw invalidParameter(field, `Invalid parameter \`${field}\`: the ${format.toUpperCase()} image has no readable dimensions.`);
  }
  const rotated = (metadata.orientation ?? 1) >= 5;
  const width = rotated ? storedHeight : storedWidth;
  const height = rotated ? storedWidth : storedHeight;
  const shape = `${width}x${height} px`;
  if (width <= MIN_SIDE_EXCLUSIVE || height <= MIN_SIDE_EXCLUSIVE) {
    throw invalidParameter(field, `Invalid parameter \`${field}\`: the image is ${shape}; each side must be over ${MIN_SIDE_EXCLUSIVE} px.`);
  }
  if (width > MAX_SIDE || height > MAX_SIDE) {
    throw invalidParameter(field, `Invalid parameter \`${field}\`: the image is ${shape}; each side must be at most ${MAX_SIDE} px.`);
  }
  if (rules.checkRatio && (width * 3 <= height || height * 3 <= width)) {
    throw invalidParameter(
      field,
      `Invalid parameter \`${field}\`: the image is ${shape} (width/height ${(width / height).toFixed(3)}); width/height must be strictly between 1/3 and 3.`,
    );
  }
  if (rules.ratio && (width < height * rules.ratio.min || width > height * rules.ratio.max)) {
    const show = (value: number) => (value < 1 ? `1/${Math.round(1 / value)}` : String(value));
    throw invalidParameter(
      field,
      `Invalid parameter \`${field}\`: the image is ${shape} (width/height ${(width / height).toFixed(3)}); width/height must be in [${show(rules.ratio.min)}, ${show(rules.ratio.max)}].`,
    );
  }
  // Decode once, shrunk (JPEG shrinks on load; PNG streams in strips), so a truncated or corrupt body is
  // caught here as a 400 rather than by the upstream. The side limit above bounds the work.
  try {
    await (await loadSharp())(input, { failOn: "truncated", limitInputPixels: MAX_SIDE * MAX_SIDE }).resize(32, 32, { fit: "inside" }).raw().toBuffer();
  } catch {
    throw invalidParameter(field, `Invalid parameter \`${field}\`: the ${format.toUpperCase()} image is corrupt or truncated and cannot be decoded.`);
  }
  return { bytes: input, format, mediaType: `image/${format}`, width, height };
}
