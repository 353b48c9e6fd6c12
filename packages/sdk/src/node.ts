/**
 * Node helpers: inputs from paths, results saved to files (never overwriting one). Kept apart from the
 * client so that the main entry stays browser-safe.
 */
import { mkdir, open, readFile as readFileBytes } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { imageBytes, imagesOf, type ImageRef } from "./images.js";
import type { DrawingResponse, ImagesResponse, PortraitResponse } from "./types.js";

const SIGNATURES: Array<[string, number[]]> = [
  ["png", [0x89, 0x50, 0x4e, 0x47]], ["jpeg", [0xff, 0xd8, 0xff]], ["gif", [0x47, 0x49, 0x46, 0x38]], ["webp", [0x52, 0x49, 0x46, 0x46]],
  ["tiff", [0x49, 0x49, 0x2a, 0x00]], ["tiff", [0x4d, 0x4d, 0x00, 0x2a]],
];

/** The image format of some bytes, from their signature. */
export function sniff(bytes: Uint8Array): string | undefined {
  return SIGNATURES.find(([, signature]) => signature.every((byte, index) => bytes[index] === byte))?.[0];
}

/** Bytes as a data URL `data:image/<format>;base64,…` (the format from the bytes). */
export function toDataUrl(bytes: Uint8Array): string {
  const format = sniff(bytes);
  if (!format) throw new Error("not an image the API takes (PNG, JPEG, WebP, GIF or TIFF)");
  return `data:image/${format};base64,${Buffer.from(bytes).toString("base64")}`;
}

/**
 * An image input as the API takes it: an `http(s)` URL or data URL unchanged, a file path read and sent as a
 * data URL, bytes or a Blob as a data URL.
 */
export async function readInput(value: string | Uint8Array | Blob): Promise<string> {
  if (value instanceof Blob) return toDataUrl(new Uint8Array(await value.arrayBuffer()));
  if (typeof value !== "string") return toDataUrl(value);
  if (/^(https?:|data:)/i.test(value)) return value;
  return toDataUrl(await readImageFile(value));
}

/** A file's bytes, with an error that names the path. */
async function readImageFile(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFileBytes(path));
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
}

/** A file as a Blob (for `images.edit`). */
export async function readFile(path: string): Promise<Blob> {
  const bytes = await readImageFile(path);
  return new Blob([bytes as Uint8Array<ArrayBuffer>], { type: `image/${sniff(bytes) ?? "octet-stream"}` });
}

/** A file name from a prompt and a time: `a-red-fox-20261122-071530`. */
export function nameFor(prompt: string, at: Date = new Date()): string {
  const slug = prompt.normalize("NFKC").replace(/\[\[[^\]]*\]\]/g, "").replace(/[^\p{L}\p{N}]+/gu, "-").replace(/^-+|-+$/g, "").slice(0, 40).toLowerCase() || "image";
  const stamp = at.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${slug}-${stamp}`;
}

/** Writes bytes to `path` (making its folder), or to `path-2`, `path-3`, … when it exists: an existing file is never overwritten. */
export async function writeNew(path: string, bytes: Uint8Array): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  const extension = extname(path);
  const stem = path.slice(0, path.length - extension.length);
  for (let number = 1; ; number += 1) {
    const candidate = number === 1 ? path : `${stem}-${number}${extension}`;
    try {
      const handle = await open(candidate, "wx");
      try {
        await handle.writeFile(bytes);
      } finally {
        await handle.close();
      }
      return candidate;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
}

export interface SaveOptions {
  /** The folder to save in; default the current one. */
  dir?: string;
  /** The file name without extension (numbered when there are several); default from `prompt` and the time. */
  name?: string;
  prompt?: string;
  /** Downloads URL results; default the global fetch. */
  fetch?: typeof fetch;
}

/** Saves every image of an answer; their paths, in order. */
export async function saveImages(answer: ImagesResponse | DrawingResponse | PortraitResponse, options: SaveOptions = {}): Promise<string[]> {
  return saveImageRefs(imagesOf(answer), options);
}

/** Saves images (from `imagesOf` or stream events); their paths, in order. */
export async function saveImageRefs(images: readonly ImageRef[], options: SaveOptions = {}): Promise<string[]> {
  const base = options.name ?? nameFor(options.prompt ?? "image");
  const paths: string[] = [];
  for (const [index, image] of images.entries()) {
    const bytes = await imageBytes(image, options.fetch);
    const extension = sniff(bytes) === "png" ? ".png" : ".jpeg";
    const name = images.length > 1 ? `${basename(base)}-${index + 1}${extension}` : `${basename(base)}${extension}`;
    paths.push(await writeNew(join(options.dir ?? ".", name), bytes));
  }
  return paths;
}
