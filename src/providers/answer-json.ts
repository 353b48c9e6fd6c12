/**
 * An upstream's JSON answer read from its bytes. An answer carrying images as base64 (`b64_json`, Visual's
 * `binary_data_base64`) is mostly one long string; decoding the body to text, `JSON.parse` copying that string out,
 * and decoding it again from base64 cost ~2 ms of CPU for a 300 KB image here (each a fresh large allocation). So
 * the strings under those two keys are decoded from the body's bytes in small slices, without ever becoming one
 * string, and the answer reaches its reader with a `Base64Bytes` in their place. Everything else parses exactly as
 * `JSON.parse(text)` would: a long string under any other key is put back as the same string, and a body the fast
 * reading cannot prove equivalent (an escape inside the string, a character outside base64, missing padding) is
 * parsed the plain way.
 */
import { Base64Bytes } from "./types.js";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Strings shorter than this stay strings (the saving is in the large allocations). */
const MIN_BLOB_CHARS = 64;
/** Bodies shorter than this are parsed the plain way. */
const MIN_FAST_BYTES = 1024;
/** Characters decoded per slice: short-lived strings in the young generation, a multiple of 4. */
const SLICE_CHARS = 16_384;
const IMAGE_KEYS = new Set(["b64_json", "binary_data_base64"]);
const MARKER = "\u0000doubao-gateway-blob:";
/** The placeholder string that stands for blob `index` in the text given to JSON.parse (JSON escapes the NUL). */
const placeholder = (index: number | "") => JSON.stringify(`${MARKER}${index}`);
const MARKER_JSON = Buffer.from(placeholder("").slice(0, -1));
const IMAGE_KEY_PATTERNS = [...IMAGE_KEYS].map((key) => Buffer.from(JSON.stringify(key)));

/** The body as JSON; `undefined` for an empty body. Throws `SyntaxError` as `JSON.parse` does. */
export function parseAnswer(body: Buffer): unknown {
  // A UTF-8 byte-order mark is dropped, as undici's and fetch's text() drop it.
  const bytes = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? body.subarray(3) : body;
  if (bytes.length === 0) return undefined;
  // An answer without an image in it (a URL, an error) is small: JSON.parse alone, without searching it first.
  if (bytes.length >= MIN_FAST_BYTES && IMAGE_KEY_PATTERNS.some((pattern) => bytes.includes(pattern)) && !bytes.includes(MARKER_JSON)) {
    const fast = parseWithBlobs(bytes);
    if (fast) return fast.value;
  }
  return JSON.parse(bytes.toString("utf8"));
}

/** Where the closing quote of the string opened at `open` is, or -1. */
function closingQuote(bytes: Buffer, open: number): number {
  let close = bytes.indexOf(QUOTE, open + 1);
  while (close !== -1) {
    let backslashes = 0;
    while (bytes[close - 1 - backslashes] === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return close;
    close = bytes.indexOf(QUOTE, close + 1);
  }
  return -1;
}

/** Whether the string that ends at `close` is an object's key (a colon follows it). */
function isKey(bytes: Buffer, close: number): boolean {
  let next = close + 1;
  while (bytes[next] === 0x20 || bytes[next] === 0x0a || bytes[next] === 0x0d || bytes[next] === 0x09) next += 1;
  return bytes[next] === 0x3a;
}

/** Strict padded base64 (either alphabet) decoded slice by slice; undefined when the text is not exactly that. */
function decodeBase64(bytes: Buffer, start: number, end: number): Buffer | undefined {
  const length = end - start;
  if (length % 4 !== 0) return undefined;
  const padding = bytes[end - 1] === 0x3d ? (bytes[end - 2] === 0x3d ? 2 : 1) : 0;
  const size = (length / 4) * 3 - padding;
  const out = Buffer.allocUnsafeSlow(size);
  let written = 0;
  for (let from = start; from < end; from += SLICE_CHARS) {
    const to = Math.min(end, from + SLICE_CHARS);
    const expected = to === end ? size - written : ((to - from) / 4) * 3;
    // Node's decoder skips what is not base64 and stops at "="; a slice that decodes short held such a character.
    if (out.write(bytes.toString("latin1", from, to), written, "base64") !== expected) return undefined;
    written += expected;
  }
  return out;
}

function parseWithBlobs(bytes: Buffer): { value: unknown } | undefined {
  const parts: Buffer[] = [];
  const blobs: Array<{ start: number; end: number; decoded: Buffer }> = [];
  let copied = 0;
  for (let open = bytes.indexOf(QUOTE); open !== -1; ) {
    const close = closingQuote(bytes, open);
    if (close === -1) return undefined;
    if (close - open - 1 >= MIN_BLOB_CHARS && !isKey(bytes, close)) {
      const inside = bytes.indexOf(BACKSLASH, open + 1);
      const decoded = inside === -1 || inside > close ? decodeBase64(bytes, open + 1, close) : undefined;
      if (decoded) {
        parts.push(bytes.subarray(copied, open), Buffer.from(placeholder(blobs.length)));
        blobs.push({ start: open + 1, end: close, decoded });
        copied = close + 1;
      }
    }
    open = bytes.indexOf(QUOTE, close + 1);
  }
  if (blobs.length === 0) return undefined;
  parts.push(bytes.subarray(copied));
  const blobOf = (value: unknown) => (typeof value === "string" && value.startsWith(MARKER) ? blobs[Number(value.slice(MARKER.length))] : undefined);
  // Bottom-up: a string under an image key becomes its bytes; one inside an array waits for the array's own key.
  const value: unknown = JSON.parse(Buffer.concat(parts).toString("utf8"), function revive(this: unknown, key, value: unknown) {
    const blob = blobOf(value);
    if (blob) {
      if (key === "b64_json") return new Base64Bytes(blob.decoded);
      return Array.isArray(this) ? value : bytes.toString("latin1", blob.start, blob.end);
    }
    if (Array.isArray(value) && value.some((item) => blobOf(item))) {
      return value.map((item) => {
        const inner = blobOf(item);
        if (!inner) return item;
        return IMAGE_KEYS.has(key) ? new Base64Bytes(inner.decoded) : bytes.toString("latin1", inner.start, inner.end);
      });
    }
    return value;
  });
  return { value };
}
