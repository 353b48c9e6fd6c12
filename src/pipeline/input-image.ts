/**
 * Turns a client's image reference into checked bytes before any upstream call: a data URL, one of the
 * gateway's own `/files/` URLs (read from storage, never over the network), or a public http(s) URL
 * fetched under CONTRACT.md §5.
 */
import { invalidParameter } from "../errors/errors.js";
import { parseDataUrl } from "../images/data-url.js";
import { fetchInput, type FetchPolicy } from "../images/fetch-input.js";
import { inspectImage, type InputFormat, type InspectRules } from "../images/inspect.js";
import type { InputImage } from "../providers/types.js";
import type { BlobStorage } from "../storage/types.js";

export interface InputDeps {
  storage: BlobStorage;
  publicBaseUrl: string;
  fetchPolicy: FetchPolicy;
}

/** The storage key of one of our own result URLs (absolute under PUBLIC_BASE_URL, or a bare `/files/…` path). */
export function ownFileKey(value: string, publicBaseUrl: string): string | undefined {
  const prefixes = [`${publicBaseUrl}/files/`, "/files/"];
  const prefix = prefixes.find((candidate) => value.startsWith(candidate));
  return prefix ? value.slice(prefix.length).split(/[?#]/)[0] : undefined;
}

/** Loads and checks one input image; `rules` are inspectImage's (the field named in errors, ratio, formats). */
export async function loadInputImage(value: string, rules: InspectRules, deps: InputDeps, signal: AbortSignal): Promise<InputImage> {
  const { field } = rules;
  let bytes: Buffer;
  let declared: InputFormat | undefined;
  const ownKey = ownFileKey(value, deps.publicBaseUrl);
  if (value.startsWith("data:")) {
    const parsed = parseDataUrl(value, field, rules.formats);
    bytes = parsed.bytes;
    declared = parsed.declaredFormat;
  } else if (ownKey !== undefined) {
    const stored = await deps.storage.get(ownKey);
    if (!stored) throw invalidParameter(field, `Invalid parameter \`${field}\`: the gateway file ${value.slice(0, 120)} does not exist or has expired.`);
    bytes = stored.bytes;
  } else if (/^https?:\/\//i.test(value)) {
    bytes = (await fetchInput(value, field, deps.fetchPolicy, signal)).bytes;
  } else {
    throw invalidParameter(field, `Invalid parameter \`${field}\`: must be an http(s) URL or a data URL data:image/<${(rules.formats ?? ["png", "jpeg"]).join("|")}>;base64,<…>.`);
  }
  const image = await inspectImage(bytes, rules);
  if (declared && declared !== image.format) {
    throw invalidParameter(field, `Invalid parameter \`${field}\`: the data URL says image/${declared} but its bytes are ${image.format.toUpperCase()}.`);
  }
  return image;
}
