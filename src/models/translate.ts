/**
 * Sizes asked of a model that cannot make them as asked: a retired model's request served by its replacement, a
 * SeedEdit input's adaptive size asked of Seedream 4.x/5.x.
 */
import { parsePixelSize, pixelSizeFits } from "./capabilities.js";
import type { Capabilities } from "./types.js";

/**
 * The `"<W>x<H>"` a model makes closest to `width`×`height` with the same ratio: the size itself when the
 * model can make it, else scaled until its pixel count fits (the result is then resized back).
 */
export function sizeFor(capabilities: Capabilities, width: number, height: number): { size: string; resize: boolean } {
  if (pixelSizeFits(capabilities, width, height)) return { size: `${width}x${height}`, resize: false };
  const { min_pixels: min, max_pixels: max } = capabilities.sizes;
  const pixels = width * height;
  const scale = pixels < min ? Math.sqrt(min / pixels) : Math.sqrt((max ?? pixels) / pixels);
  let scaledWidth = pixels < min ? Math.ceil(width * scale) : Math.floor(width * scale);
  let scaledHeight = pixels < min ? Math.ceil(height * scale) : Math.floor(height * scale);
  while (scaledWidth * scaledHeight < min) {
    scaledWidth += 1;
    scaledHeight = Math.ceil((scaledWidth * height) / width);
  }
  return { size: `${scaledWidth}x${scaledHeight}`, resize: true };
}

/**
 * A 4.x/5.x `size` for a retired model's replacement: kept when the replacement takes it; a keyword it lacks
 * becomes its nearest keyword; a `"<W>x<H>"` it cannot make is asked at the nearest size it can, and resized.
 */
export function translateSize(capabilities: Capabilities, size: string): { size: string; resizeTo: { width: number; height: number } | undefined } {
  if (capabilities.sizes.keywords.includes(size)) return { size, resizeTo: undefined };
  const keyword = /^(\d+(?:\.\d+)?)K$/.exec(size);
  if (keyword && capabilities.sizes.keywords.length > 0) {
    const wanted = Number(keyword[1]);
    const distance = (candidate: string) => Math.abs(Number(candidate.slice(0, -1)) - wanted);
    const nearest = [...capabilities.sizes.keywords].sort((a, b) => distance(a) - distance(b) || Number(b.slice(0, -1)) - Number(a.slice(0, -1)))[0] as string;
    return { size: nearest, resizeTo: undefined };
  }
  const target = parsePixelSize(size);
  if (!target) return { size, resizeTo: undefined };
  const fitted = sizeFor(capabilities, target.width, target.height);
  return { size: fitted.size, resizeTo: fitted.resize ? target : undefined };
}

