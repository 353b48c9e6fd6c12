/** Getting the images out of an answer, wherever they are: base64 in the body, or a URL to download. */
import type { DrawingResponse, ImageData, ImageDataError, ImagesResponse, PortraitResponse } from "./types.js";

/** One image of an answer: inline base64, or a URL. */
export type ImageRef = { b64: string; url?: undefined; size?: string; format?: string } | { url: string; b64?: undefined; size?: string; format?: string };

/** The images of any image answer, in order (error items skipped). */
export function imagesOf(answer: ImagesResponse | DrawingResponse | PortraitResponse | { data?: unknown }): ImageRef[] {
  const data = (answer as { data?: unknown }).data;
  if (Array.isArray(data)) {
    return (data as Array<ImageData | ImageDataError>).flatMap((item): ImageRef[] => {
      if ("error" in item && item.error) return [];
      const image = item as ImageData;
      const extra = { ...(image.size ? { size: image.size } : {}), ...(image.output_format ? { format: image.output_format } : {}) };
      if (typeof image.b64_json === "string") return [{ b64: image.b64_json, ...extra }];
      if (typeof image.url === "string") return [{ url: image.url, ...extra }];
      return [];
    });
  }
  const envelope = data as { image_urls?: string[] | null; binary_data_base64?: string[] | null } | undefined;
  return [...(envelope?.image_urls ?? []).map((url): ImageRef => ({ url })), ...(envelope?.binary_data_base64 ?? []).map((b64): ImageRef => ({ b64 }))];
}

/** The bytes of an image: decoded base64, or downloaded with `fetchFunction`. */
export async function imageBytes(image: ImageRef, fetchFunction: typeof fetch = (...args) => globalThis.fetch(...args)): Promise<Uint8Array> {
  if (image.b64 !== undefined) return Uint8Array.from(atob(image.b64), (char) => char.charCodeAt(0));
  let response: Response;
  try {
    response = await fetchFunction(image.url);
  } catch (error) {
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    throw new Error(`downloading ${image.url} failed: ${typeof cause?.code === "string" ? cause.code : (error as Error).message}`, { cause: error });
  }
  if (!response.ok) throw new Error(`downloading ${image.url} failed: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}
