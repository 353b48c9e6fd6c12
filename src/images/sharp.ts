/**
 * sharp (libvips) loaded on the first image that needs it, not at start: a gateway that only passes upstream URLs
 * through never pays its ~28 MB of resident memory. libvips' own thread pool is set by SHARP_CONCURRENCY (default: 2,
 * so that image work at 8 requests at a time does not multiply native memory by the core count; 0 keeps sharp's).
 */
import type sharpModule from "sharp";

let loading: Promise<typeof sharpModule> | undefined;

export function loadSharp(): Promise<typeof sharpModule> {
  loading ??= import("sharp").then((module) => {
    const sharp = module.default;
    const concurrency = Number(process.env.SHARP_CONCURRENCY ?? 2);
    if (Number.isInteger(concurrency) && concurrency > 0) sharp.concurrency(concurrency);
    // libvips' operation cache keeps decoded images around between requests; results are never asked for twice.
    sharp.cache(false);
    return sharp;
  });
  return loading;
}
