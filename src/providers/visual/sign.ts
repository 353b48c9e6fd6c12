/**
 * Volcengine OpenAPI request signing (HMAC-SHA256, UPSTREAMS.md §3.1), in node:crypto.
 * Used by the Visual adapter to sign and by the emulator to verify; tested against the vectors of §3.3.
 */
import { createHash, createHmac } from "node:crypto";

export interface SignInput {
  method: string;
  /** Canonical URI; `/` for every Visual action. */
  path: string;
  query: Readonly<Record<string, string>>;
  /** Headers to sign, any case; `host` and `x-date` must be among them. */
  headers: Readonly<Record<string, string>>;
  /** Hex SHA-256 of the exact body bytes sent. */
  payloadHash: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  service: string;
}

export interface Signature {
  authorization: string;
  signedHeaders: string;
  canonicalRequestHash: string;
  signingKey: string;
  signature: string;
}

export const sha256Hex = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string): Buffer => createHmac("sha256", key).update(data, "utf8").digest();

/** `YYYYMMDD'T'HHMMSS'Z'` in UTC. */
export function formatXDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/** RFC 3986 encoding: unreserved characters kept, everything else percent-encoded (space → %20). */
function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function canonicalQuery(query: Readonly<Record<string, string>>): string {
  return Object.entries(query)
    .map(([key, value]) => [rfc3986(key), rfc3986(value)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join("&");
}

export function sign(input: SignInput): Signature {
  const headers = Object.entries(input.headers)
    .map(([name, value]) => [name.toLowerCase(), value.trim()] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const xDate = headers.find(([name]) => name === "x-date")?.[1];
  if (!xDate) throw new Error("sign: the x-date header must be signed");
  const signedHeaders = headers.map(([name]) => name).join(";");
  const canonicalRequest = [
    input.method.toUpperCase(),
    input.path,
    canonicalQuery(input.query),
    headers.map(([name, value]) => `${name}:${value}\n`).join(""),
    signedHeaders,
    input.payloadHash,
  ].join("\n");
  const canonicalRequestHash = sha256Hex(canonicalRequest);
  const shortDate = xDate.slice(0, 8);
  const credentialScope = `${shortDate}/${input.region}/${input.service}/request`;
  const stringToSign = ["HMAC-SHA256", xDate, credentialScope, canonicalRequestHash].join("\n");
  const signingKey = hmac(hmac(hmac(hmac(input.secretAccessKey, shortDate), input.region), input.service), "request");
  const signature = createHmac("sha256", signingKey).update(stringToSign, "utf8").digest("hex");
  return {
    authorization: `HMAC-SHA256 Credential=${input.accessKeyId}/${credentialScope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    signedHeaders,
    canonicalRequestHash,
    signingKey: signingKey.toString("hex"),
    signature,
  };
}

export interface ParsedAuthorization {
  accessKeyId: string;
  shortDate: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

/** Parses `HMAC-SHA256 Credential=AK/date/region/service/request, SignedHeaders=a;b, Signature=hex`. */
export function parseAuthorization(header: string | undefined): ParsedAuthorization | undefined {
  const match = /^HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
    header?.trim() ?? "",
  );
  if (!match) return undefined;
  const [, accessKeyId, shortDate, region, service, signedHeaders, signature] = match as unknown as [string, string, string, string, string, string, string];
  return { accessKeyId, shortDate, region, service, signedHeaders: signedHeaders.split(";"), signature };
}
