/**
 * Hostile image inputs and the exact answer a client gets for each (issue: "Image inputs and outputs that
 * hostile input cannot break"). Kept as data: each case says what the client sends as SeedEdit's `image`
 * and what it must get back. The test (src/images/hostile-corpus.test.ts) serves the `served` bodies
 * from a server on 127.0.0.1 and resolves the `*.test` names through an injected table — no packet goes
 * anywhere but loopback, not even to prove that an address is blocked.
 */

/** Names the injected resolver knows; `93.184.216.34` is dialled as 127.0.0.1 (the test server). */
export const RESOLVER_TABLE: Readonly<Record<string, readonly string[]>> = {
  "images.test": ["93.184.216.34"],
  "internal.test": ["10.0.0.7"],
  "mixed.test": ["93.184.216.34", "192.168.1.1"],
  "v6private.test": ["fd12:3456::1"],
  "metadata.google.internal": ["169.254.169.254"],
};
export const PUBLIC_TEST_ADDRESS = "93.184.216.34";

/** What the test server answers on a path. */
export type Served =
  | { kind: "file"; file: CorpusFile; contentType: string; contentLength?: boolean }
  | { kind: "redirect"; location: string }
  | { kind: "drip"; bytesPerTick: number; tickMs: number }
  | { kind: "endless" }
  | { kind: "status"; status: number };

/** Generated inputs (src/images/hostile-corpus.test.ts builds them; nothing large is kept in git). */
export type CorpusFile =
  | "png-1000x800" | "jpeg-1000x800" | "gif" | "webp" | "svg" | "html" | "empty"
  | "png-truncated" | "jpeg-truncated" | "png-10mb-plus-1" | "png-bomb-20000" | "png-bomb-20000-header-only"
  | "png-900x300" | "png-300x900" | "png-14x40" | "png-15x40" | "jpeg-6001x1200"
  | "jpeg-exif-1600x900-rotated";

export interface HostileCase {
  name: string;
  /** A URL (`{port}` is the test server's port; `{host}` is images.test:{port}), or `data:<file>` / `data-raw:<text>`. */
  image: string;
  /** For `{host}/<path>` URLs: what the server answers there. */
  served?: Readonly<Record<string, Served>>;
  status: number;
  /** The exact `error.message` (400s), or for a 200 the output size SeedEdit returns. */
  message?: string;
  size?: string;
}

const refusal = (rule: string) => `Invalid parameter \`image\`: ${rule}`;
const blocked = (host: string, address: string) => refusal(`the image URL's host ${host} points to a non-public address (${address}); the gateway only fetches public addresses.`);
const loopbackName = (host: string) => refusal(`the image URL's host ${host} points to a loopback name; the gateway only fetches public addresses.`);
const notImage = (what: string) => refusal(`the image must be PNG or JPEG; its bytes are ${what}.`);
const png = (file: CorpusFile): Served => ({ kind: "file", file, contentType: "image/png" });

export const HOSTILE_CORPUS: readonly HostileCase[] = [
  // Loopback, private, link-local and metadata addresses, in every notation.
  { name: "IPv4 loopback", image: "http://127.0.0.1:{port}/ok.png", status: 400, message: blocked("127.0.0.1", "127.0.0.1") },
  { name: "IPv4 loopback, short form 127.1", image: "http://127.1:{port}/ok.png", status: 400, message: blocked("127.0.0.1", "127.0.0.1") },
  { name: "IPv4 loopback, decimal", image: "http://2130706433:{port}/ok.png", status: 400, message: blocked("127.0.0.1", "127.0.0.1") },
  { name: "IPv4 loopback, octal", image: "http://017700000001:{port}/ok.png", status: 400, message: blocked("127.0.0.1", "127.0.0.1") },
  { name: "IPv4 loopback, hex", image: "http://0x7f000001:{port}/ok.png", status: 400, message: blocked("127.0.0.1", "127.0.0.1") },
  { name: "IPv4 loopback, mixed hex and decimal parts", image: "http://0x7f.0.0.1:{port}/ok.png", status: 400, message: blocked("127.0.0.1", "127.0.0.1") },
  { name: "IPv6 loopback", image: "http://[::1]:{port}/ok.png", status: 400, message: blocked("::1", "::1") },
  { name: "IPv4-mapped IPv6 loopback, dotted", image: "http://[::ffff:127.0.0.1]:{port}/ok.png", status: 400, message: blocked("::ffff:7f00:1", "127.0.0.1") },
  { name: "IPv4-mapped IPv6 private, hex, uncompressed", image: "http://[0:0:0:0:0:ffff:a00:1]/x.png", status: 400, message: blocked("::ffff:a00:1", "10.0.0.1") },
  { name: "NAT64 form of the metadata address", image: "http://[64:ff9b::a9fe:a9fe]/x.png", status: 400, message: blocked("64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe") },
  { name: "unspecified address 0.0.0.0", image: "http://0.0.0.0:{port}/ok.png", status: 400, message: blocked("0.0.0.0", "0.0.0.0") },
  { name: "private 10/8", image: "http://10.0.0.1/x.png", status: 400, message: blocked("10.0.0.1", "10.0.0.1") },
  { name: "private 172.16/12", image: "http://172.16.5.4/x.png", status: 400, message: blocked("172.16.5.4", "172.16.5.4") },
  { name: "private 192.168/16", image: "http://192.168.1.1/x.png", status: 400, message: blocked("192.168.1.1", "192.168.1.1") },
  { name: "carrier-grade NAT (Alibaba Cloud metadata 100.100.100.200)", image: "http://100.100.100.200/latest/meta-data/", status: 400, message: blocked("100.100.100.200", "100.100.100.200") },
  { name: "link-local metadata 169.254.169.254", image: "http://169.254.169.254/latest/meta-data/", status: 400, message: blocked("169.254.169.254", "169.254.169.254") },
  { name: "IPv6 metadata (AWS fd00:ec2::254)", image: "http://[fd00:ec2::254]/latest/meta-data/", status: 400, message: blocked("fd00:ec2::254", "fd00:ec2::254") },
  { name: "IPv6 link-local", image: "http://[fe80::1]/x.png", status: 400, message: blocked("fe80::1", "fe80::1") },
  { name: "localhost", image: "http://localhost:{port}/ok.png", status: 400, message: loopbackName("localhost") },
  { name: "a subdomain of localhost", image: "http://images.localhost:{port}/ok.png", status: 400, message: loopbackName("images.localhost") },
  { name: "a name resolving to a private address", image: "http://internal.test:{port}/ok.png", status: 400, message: blocked("internal.test", "10.0.0.7") },
  { name: "a name resolving to a public and a private address", image: "http://mixed.test:{port}/ok.png", status: 400, message: blocked("mixed.test", "192.168.1.1") },
  { name: "a name resolving to a private IPv6 address", image: "http://v6private.test/x.png", status: 400, message: blocked("v6private.test", "fd12:3456::1") },
  { name: "the GCP metadata name", image: "http://metadata.google.internal/computeMetadata/v1/", status: 400, message: blocked("metadata.google.internal", "169.254.169.254") },
  // Redirects.
  {
    name: "a public URL redirecting to a private one", image: "http://{host}/to-private",
    served: { "/to-private": { kind: "redirect", location: "http://internal.test/x.png" } }, status: 400, message: blocked("internal.test", "10.0.0.7"),
  },
  {
    name: "a public URL redirecting to the metadata address", image: "http://{host}/to-metadata",
    served: { "/to-metadata": { kind: "redirect", location: "http://169.254.169.254/latest/meta-data/" } }, status: 400, message: blocked("169.254.169.254", "169.254.169.254"),
  },
  {
    name: "a redirect loop", image: "http://{host}/loop",
    served: { "/loop": { kind: "redirect", location: "/loop" } }, status: 400, message: refusal("the image URL redirected more than 3 times."),
  },
  {
    name: "a redirect to file://", image: "http://{host}/to-file",
    served: { "/to-file": { kind: "redirect", location: "file:///etc/passwd" } }, status: 400, message: refusal("only http and https URLs are fetched; got file."),
  },
  // Servers that never finish, and bodies over the limit.
  {
    name: "a slow drip server (1 byte every 50 ms)", image: "http://{host}/drip",
    served: { "/drip": { kind: "drip", bytesPerTick: 1, tickMs: 50 } }, status: 400, message: refusal("fetching the image URL took longer than 1 s."),
  },
  {
    name: "an endless body", image: "http://{host}/endless",
    served: { "/endless": { kind: "endless" } }, status: 400, message: refusal("the image is larger than the limit of 10485760 bytes (10 MB)."),
  },
  {
    name: "a 10 MB + 1 byte image with Content-Length", image: "http://{host}/big.png",
    served: { "/big.png": { kind: "file", file: "png-10mb-plus-1", contentType: "image/png", contentLength: true } }, status: 400,
    message: refusal("the image is 10485761 bytes; the limit is 10485760 bytes (10 MB)."),
  },
  {
    name: "a 10 MB + 1 byte image, chunked", image: "http://{host}/big-chunked.png",
    served: { "/big-chunked.png": png("png-10mb-plus-1") }, status: 400, message: refusal("the image is larger than the limit of 10485760 bytes (10 MB)."),
  },
  { name: "a 10 MB + 1 byte image as a data URL", image: "data:png-10mb-plus-1", status: 400, message: refusal("the image is 10.00 MB (10485761 bytes); the limit is 10 MB (10485760 bytes).") },
  // Decompression bombs and broken images.
  {
    name: "a 20000x20000 PNG bomb (1-bit, all data present)", image: "http://{host}/bomb.png",
    served: { "/bomb.png": png("png-bomb-20000") }, status: 400, message: refusal("the image is 20000x20000 px; each side must be at most 6000 px."),
  },
  { name: "a 20000x20000 PNG header with a few bytes of data", image: "data:png-bomb-20000-header-only", status: 400, message: refusal("the image is 20000x20000 px; each side must be at most 6000 px.") },
  { name: "a 6001 px wide JPEG", image: "data:jpeg-6001x1200", status: 400, message: refusal("the image is 6001x1200 px; each side must be at most 6000 px.") },
  { name: "a truncated PNG", image: "http://{host}/truncated.png", served: { "/truncated.png": png("png-truncated") }, status: 400, message: refusal("the PNG image is corrupt or truncated and cannot be decoded.") },
  { name: "a truncated JPEG", image: "data:jpeg-truncated", status: 400, message: refusal("the JPEG image is corrupt or truncated and cannot be decoded.") },
  { name: "an empty body", image: "http://{host}/empty.png", served: { "/empty.png": png("empty") }, status: 400, message: refusal("the image is empty (0 bytes).") },
  // Not images, whatever the Content-Type says.
  { name: "a GIF served as image/png", image: "http://{host}/gif.png", served: { "/gif.png": png("gif") }, status: 400, message: notImage("GIF") },
  { name: "a WebP served as image/png", image: "http://{host}/webp.png", served: { "/webp.png": png("webp") }, status: 400, message: notImage("WEBP") },
  { name: "an SVG served as image/png", image: "http://{host}/svg.png", served: { "/svg.png": png("svg") }, status: 400, message: notImage("SVG") },
  { name: "an HTML page served as image/png", image: "http://{host}/html.png", served: { "/html.png": png("html") }, status: 400, message: notImage("HTML") },
  // Other URL shapes.
  { name: "an upstream answering 404", image: "http://{host}/missing.png", served: { "/missing.png": { kind: "status", status: 404 } }, status: 400, message: refusal("the image URL answered HTTP 404.") },
  { name: "credentials in the URL", image: "http://user:secret@{host}/ok.png", status: 400, message: refusal("URLs with credentials are not fetched.") },
  { name: "a name that does not resolve", image: "http://nowhere.test/x.png", status: 400, message: refusal("the image URL's host nowhere.test does not resolve.") },
  { name: "an ftp URL", image: "ftp://images.test/x.png", status: 400, message: refusal("must be an http(s) URL or a data URL data:image/<png|jpeg>;base64,<…>.") },
  // Data URLs.
  { name: "a data URL with an upper-case format", image: "data-raw:data:image/PNG;base64,iVBORw0KGgo=", status: 400, message: refusal("the data URL's format must be lower case (image/png), as the upstream requires; got image/PNG.") },
  { name: "a data URL whose format is not its bytes", image: "data-as-jpeg:png-1000x800", status: 400, message: refusal("the data URL says image/jpeg but its bytes are PNG.") },
  { name: "a data URL with bad base64", image: "data-raw:data:image/png;base64,iVBOR*w0KGgo=", status: 400, message: refusal("the data URL's payload is not valid base64.") },
  { name: "a data URL without a comma", image: "data-raw:data:image/png;base64iVBORw0KGgo", status: 400, message: refusal("a data URL must look like data:image/<png|jpeg>;base64,<base64 bytes> (no comma found after the media type).") },
  { name: "a data URL that is not base64", image: "data-raw:data:image/png,rawbytes", status: 400, message: refusal("a data URL must be base64-encoded (data:image/png;base64,…).") },
  // The shape rules, at their edges.
  { name: "ratio exactly 3", image: "data:png-900x300", status: 400, message: refusal("the image is 900x300 px (width/height 3.000); width/height must be strictly between 1/3 and 3.") },
  { name: "ratio exactly 1/3", image: "data:png-300x900", status: 400, message: refusal("the image is 300x900 px (width/height 0.333); width/height must be strictly between 1/3 and 3.") },
  { name: "a 14 px side", image: "data:png-14x40", status: 400, message: refusal("the image is 14x40 px; each side must be over 14 px.") },
  { name: "a 15 px side (accepted)", image: "data:png-15x40", status: 200, size: "576x1536" },
  { name: "an EXIF-rotated JPEG, stored 1600x900, shown 900x1600 (accepted, sized as shown)", image: "data:jpeg-exif-1600x900-rotated", status: 200, size: "736x1312" },
  { name: "a plain public PNG (accepted)", image: "http://{host}/ok.png", served: { "/ok.png": png("png-1000x800") }, status: 200, size: "1152x928" },
];
