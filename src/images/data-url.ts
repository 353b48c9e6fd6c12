/** Strict parsing of `data:image/<png|jpeg>;base64,<…>` inputs (lower-case format, as Ark requires). */
import { invalidParameter } from "../errors/errors.js";
import { imageTooLarge, MAX_INPUT_BYTES, type InputFormat } from "./inspect.js";

const PREFIX = /^data:([^;,]*)(;base64)?,/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface DataUrl {
  declaredFormat: InputFormat;
  bytes: Buffer;
}

export function parseDataUrl(value: string, field: string, formats: readonly InputFormat[] = ["png", "jpeg"]): DataUrl {
  const fail = (rule: string): never => {
    throw invalidParameter(field, `Invalid parameter \`${field}\`: ${rule}`);
  };
  const match = PREFIX.exec(value.slice(0, 100));
  if (!match) return fail("a data URL must look like data:image/<png|jpeg>;base64,<base64 bytes> (no comma found after the media type).");
  const mediaType = match[1] ?? "";
  if (!match[2]) return fail(`a data URL must be base64-encoded (data:${mediaType};base64,…).`);
  const format = /^image\/([a-z]+)$/i.exec(mediaType)?.[1];
  const known = format && [...formats, "jpg"].includes(format.toLowerCase()) ? format : undefined;
  if (!known) return fail(`the data URL's media type is "${mediaType}"; it must be ${formats.map((name) => `image/${name}`).join(", ").replace(/, ([^,]*)$/, " or $1")}.`);
  if (known !== known.toLowerCase()) return fail(`the data URL's format must be lower case (image/${known.toLowerCase()}), as the upstream requires; got image/${known}.`);
  // Without whitespace the decoded size is known from the length: an oversized payload is refused
  // before any copy of it is made (a 10 MB image is a 14 MB string).
  let payload = value.slice(match[0].length);
  if (/\s/.test(payload)) payload = payload.replace(/\s+/g, "");
  const padding = payload.endsWith("==") ? 2 : payload.endsWith("=") ? 1 : 0;
  const decodedLength = Math.floor((payload.length * 3) / 4) - padding;
  if (decodedLength > MAX_INPUT_BYTES) throw imageTooLarge(field, decodedLength);
  if (payload.length === 0 || payload.length % 4 === 1 || !BASE64.test(payload)) return fail("the data URL's payload is not valid base64.");
  const lower = known.toLowerCase();
  return { declaredFormat: lower === "jpg" ? "jpeg" : (lower as InputFormat), bytes: Buffer.from(payload, "base64") };
}

/** Ark's form of an image: a data URL with the lower-case format. */
export function toDataUrl(bytes: Buffer, format: InputFormat): string {
  return `data:image/${format};base64,${bytes.toString("base64")}`;
}
