// The hostile-input corpus (src/testing/hostile-corpus.ts) against a gateway on the embedded emulator: each
// case gets exactly its answer, none is a 5xx, and running the whole corpus does not raise the process's
// memory by more than a few tens of MB. Connections only ever go to the test server on 127.0.0.1.
import assert from "node:assert/strict";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { createDeflate, deflateSync } from "node:zlib";
import sharp from "sharp";
import { HOSTILE_CORPUS, PUBLIC_TEST_ADDRESS, RESOLVER_TABLE, type CorpusFile, type HostileCase, type Served } from "../testing/hostile-corpus.js";
import { startHarness, testImage, type Harness } from "../testing/harness.js";

let server: Server;
let port = 0;
let harness: Harness;
const files = new Map<CorpusFile, Buffer>();
const resolved: string[] = [];

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = (CRC_TABLE[(c ^ byte) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** IHDR of a 1-bit greyscale PNG. */
function ihdr(width: number, height: number): Buffer {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width, 0);
  data.writeUInt32BE(height, 4);
  data.writeUInt8(1, 8);
  return chunk("IHDR", data);
}

/** A complete, valid 20000×20000 1-bit PNG: 50 MB of zero rows deflated while streaming (never held whole). */
async function pngBomb(): Promise<Buffer> {
  const side = 20_000;
  const row = Buffer.alloc(1 + side / 8);
  const deflate = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on("data", (part: Buffer) => parts.push(part));
  const done = new Promise((resolve) => deflate.on("end", resolve));
  const batch = Buffer.concat(Array.from({ length: 400 }, () => row));
  for (let rows = 0; rows < side; rows += 400) {
    if (!deflate.write(batch)) await new Promise((resolve) => deflate.once("drain", resolve));
  }
  deflate.end();
  await done;
  return Buffer.concat([SIGNATURE, ihdr(side, side), chunk("IDAT", Buffer.concat(parts)), chunk("IEND", Buffer.alloc(0))]);
}

async function buildFiles(): Promise<void> {
  const png1000 = await testImage(1000, 800, "png");
  const jpeg1000 = await testImage(1000, 800, "jpeg");
  const tenMbPlusOne = Buffer.alloc(10 * 1024 * 1024 + 1);
  SIGNATURE.copy(tenMbPlusOne);
  const built: Record<CorpusFile, Buffer> = {
    "png-1000x800": png1000,
    "jpeg-1000x800": jpeg1000,
    gif: Buffer.from("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==", "base64"),
    webp: await sharp(png1000).webp().toBuffer(),
    svg: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="800"><rect width="100%" height="100%"/></svg>'),
    html: Buffer.from("<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>"),
    empty: Buffer.alloc(0),
    "png-truncated": png1000.subarray(0, Math.floor(png1000.length * 0.6)),
    "jpeg-truncated": jpeg1000.subarray(0, Math.floor(jpeg1000.length * 0.6)),
    "png-10mb-plus-1": tenMbPlusOne,
    "png-bomb-20000": await pngBomb(),
    "png-bomb-20000-header-only": Buffer.concat([SIGNATURE, ihdr(20_000, 20_000), chunk("IDAT", deflateSync(Buffer.alloc(2501 * 4)))]),
    "png-900x300": await testImage(900, 300, "png"),
    "png-300x900": await testImage(300, 900, "png"),
    "png-14x40": await testImage(14, 40, "png"),
    "png-15x40": await testImage(15, 40, "png"),
    "jpeg-6001x1200": await testImage(6001, 1200, "jpeg"),
    "jpeg-exif-1600x900-rotated": await sharp(await testImage(1600, 900, "jpeg")).withMetadata({ orientation: 6 }).jpeg().toBuffer(),
  };
  for (const [name, bytes] of Object.entries(built)) files.set(name as CorpusFile, bytes);
}

function answer(served: Served, response: ServerResponse): void {
  switch (served.kind) {
    case "file": {
      const bytes = files.get(served.file) as Buffer;
      response.writeHead(200, { "content-type": served.contentType, ...(served.contentLength ? { "content-length": bytes.length } : {}) });
      if (served.contentLength) response.end(bytes);
      else {
        response.write(bytes);
        response.end();
      }
      return;
    }
    case "redirect":
      response.writeHead(302, { location: served.location }).end();
      return;
    case "status":
      response.writeHead(served.status, { "content-type": "text/plain" }).end("no");
      return;
    case "drip": {
      response.writeHead(200, { "content-type": "image/png" });
      const timer = setInterval(() => response.write(Buffer.alloc(served.bytesPerTick)), served.tickMs);
      response.on("close", () => clearInterval(timer));
      return;
    }
    case "endless": {
      response.writeHead(200, { "content-type": "image/png" });
      const block = Buffer.alloc(64 * 1024, 0x41);
      let open = true;
      response.on("close", () => (open = false));
      const pump = () => {
        while (open && response.write(block)) {
          /* keep writing until the socket pushes back */
        }
        if (open) response.once("drain", pump);
      };
      pump();
      return;
    }
  }
}

before(async () => {
  await buildFiles();
  const routes = new Map<string, Served>([["/ok.png", { kind: "file", file: "png-1000x800", contentType: "image/png" }]]);
  for (const entry of HOSTILE_CORPUS) for (const [path, served] of Object.entries(entry.served ?? {})) routes.set(path, served);
  server = createServer((request, response) => {
    const served = routes.get(request.url ?? "");
    if (served) answer(served, response);
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
  harness = await startHarness({}, {
    fetchPolicy: {
      resolve: async (hostname) => {
        resolved.push(hostname);
        // A rebinding name: public at the first lookup, private at any later one.
        if (hostname === "rebind.test") return [resolved.filter((name) => name === hostname).length === 1 ? PUBLIC_TEST_ADDRESS : "10.0.0.9"];
        const found = RESOLVER_TABLE[hostname];
        if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
        return [...found];
      },
      // The only address ever dialled is the test server's; anything else would be a bug, sent nowhere.
      dial: (address) => (address === PUBLIC_TEST_ADDRESS ? "127.0.0.1" : "192.0.2.255"),
      timeoutMs: 1000,
    },
  });
});
after(async () => {
  await harness.close();
  server.closeAllConnections();
  server.close();
});

function imageFor(entry: HostileCase): string {
  const [scheme, rest = ""] = entry.image.split(/:(.*)/s, 2);
  if (scheme === "data") return `data:image/${(rest.startsWith("jpeg") ? "jpeg" : "png")};base64,${(files.get(rest as CorpusFile) as Buffer).toString("base64")}`;
  if (scheme === "data-as-jpeg") return `data:image/jpeg;base64,${(files.get(rest as CorpusFile) as Buffer).toString("base64")}`;
  if (scheme === "data-raw") return rest;
  return entry.image.replaceAll("{host}", `images.test:${port}`).replaceAll("{port}", String(port));
}

/** The request body for a case, built before any memory is measured (the client's copy is not the gateway's). */
const bodyFor = (entry: HostileCase) =>
  JSON.stringify({ model: "doubao-seededit-3-0-i2i-250628", prompt: "make it blue", image: imageFor(entry), response_format: "b64_json", watermark: false });

async function run(entry: HostileCase, body = bodyFor(entry)) {
  const response = await harness.post("/doubao/images/generations", body);
  assert.ok(response.status < 500, `${entry.name}: ${response.status}`);
  assert.equal(response.status, entry.status, `${entry.name}: ${JSON.stringify(response.json).slice(0, 300)}`);
  if (entry.status === 400) {
    assert.deepEqual(response.json.error, {
      code: "InvalidParameter", message: entry.message, message_cn: response.json.error.message_cn, param: "image", type: "invalid_request_error", err_code: -10003,
    }, entry.name);
    // The Chinese is a Chinese sentence about the same field, not the English in a Chinese frame.
    assert.ok(response.json.error.message_cn.startsWith("参数 `image` 无效"), `${entry.name}: ${response.json.error.message_cn}`);
    assert.doesNotMatch(response.json.error.message_cn, /\b[a-z]{3,} [a-z]{2,} [a-z]{2,}\b/, `${entry.name}: English words in ${response.json.error.message_cn}`);
  } else {
    const { width, height } = await sharp(Buffer.from(response.json.data[0].b64_json, "base64")).metadata();
    assert.equal(`${width}x${height}`, entry.size, entry.name);
  }
}

/** A full garbage collection where the runner allows it (`npm test` runs node with --expose-gc). */
const collect = () => (globalThis as { gc?: () => void }).gc?.();

/** Runs `work` and returns how far the process's RSS rose above where it was when it started, in MB. */
async function rssGrowth(work: () => Promise<void>): Promise<number> {
  collect();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 1);
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  return (Math.max(peak, process.memoryUsage().rss) - baseline) / 1024 / 1024;
}

test(`the corpus holds at least 40 hostile inputs (${HOSTILE_CORPUS.filter((entry) => entry.status >= 400).length} refused, ${HOSTILE_CORPUS.filter((entry) => entry.status === 200).length} just inside the rules)`, () => {
  assert.ok(HOSTILE_CORPUS.filter((entry) => entry.status >= 400).length >= 40);
  assert.equal(new Set(HOSTILE_CORPUS.map((entry) => entry.name)).size, HOSTILE_CORPUS.length);
});

for (const entry of HOSTILE_CORPUS) test(entry.name, () => run(entry));

test("a name is resolved once per fetch: the connection goes to the address that was checked (no rebinding)", async () => {
  const before = resolved.filter((name) => name === "rebind.test").length;
  const entry: HostileCase = { name: "rebinding", image: "http://rebind.test:{port}/ok.png", status: 200, size: "1152x928" };
  await run(entry);
  assert.equal(resolved.filter((name) => name === "rebind.test").length - before, 1);
});

test("no input raises the process's memory (RSS) by more than 64 MB while it is handled, and the corpus leaves less than 32 MB behind", async () => {
  const bodies = HOSTILE_CORPUS.map(bodyFor);
  const each: Array<[number, string]> = [];
  collect();
  const before = process.memoryUsage().rss;
  for (const [index, entry] of HOSTILE_CORPUS.entries()) each.push([await rssGrowth(() => run(entry, bodies[index])), entry.name]);
  collect();
  const retained = (process.memoryUsage().rss - before) / 1024 / 1024;
  each.sort((a, b) => b[0] - a[0]);
  process.stdout.write(
    `# corpus memory: retained after the run ${retained.toFixed(1)} MB; peaks: ${each.slice(0, 4).map(([mb, name]) => `${name} +${mb.toFixed(1)} MB`).join(", ")}\n`,
  );
  // The largest is the 10 MB + 1 data URL: its 14 MB JSON body exists as the request bytes, the body
  // string and the parsed string at once (the client's own copy, in this process too, is built beforehand).
  for (const [mb, name] of each) assert.ok(mb < 64, `${name}: RSS +${mb.toFixed(1)} MB`);
  assert.ok(retained < 32, `RSS +${retained.toFixed(1)} MB retained`);
});
