// Streaming (LIVE-MODELS.md §2.4) over a real socket, read with a real SSE parser (eventsource-parser).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createParser } from "eventsource-parser";
import OpenAI from "openai";
import { jpegSize, startHarness, TEST_KEY, type Harness, type Json } from "../testing/harness.js";

const V40 = "doubao-seedream-4-0-250828";
let h: Harness;
let origin = "";
before(async () => {
  h = await startHarness({}, { streamKeepAliveMs: 100 });
  await h.gateway.app.listen({ port: 0, host: "127.0.0.1" });
  origin = `http://127.0.0.1:${(h.gateway.app.server.address() as { port: number }).port}`;
});
after(() => h.close());

interface Read {
  status: number;
  headers: Headers;
  events: Array<{ event: string | undefined; data: string }>;
  comments: string[];
  /** The emulator's opened streams when the client got its first byte. */
  upstreamOpenedAtFirstByte: number;
}

const group = (prompt: string, extra: Record<string, unknown> = {}) => ({
  model: V40, prompt, size: "1280x720", sequential_image_generation: "auto", sequential_image_generation_options: { max_images: 3 }, stream: true, watermark: false, ...extra,
});

/** POSTs and reads the whole event stream; `leaveAfter` aborts once that event arrived. */
async function readStream(path: string, body: unknown, leaveAfter?: (event: string | undefined) => boolean): Promise<Read> {
  const controller = new AbortController();
  const response = await fetch(`${origin}${path}`, {
    method: "POST", signal: controller.signal, headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" }, body: JSON.stringify(body),
  });
  const read: Read = { status: response.status, headers: response.headers, events: [], comments: [], upstreamOpenedAtFirstByte: -1 };
  let leave = false;
  const parser = createParser({
    onEvent: (message) => {
      read.events.push({ event: message.event, data: message.data });
      if (leaveAfter?.(message.event)) leave = true;
    },
    onComment: (comment) => read.comments.push(comment.trim()),
  });
  const decoder = new TextDecoder();
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      if (read.upstreamOpenedAtFirstByte === -1) read.upstreamOpenedAtFirstByte = h.gateway.emulator?.stats.streamsOpened ?? -1;
      parser.feed(decoder.decode(chunk, { stream: true }));
      if (leave) {
        controller.abort();
        break;
      }
    }
  } catch (error) {
    if (!leave) throw error;
  }
  return read;
}

/** The ledger row of a request once it is settled (a stream's row settles after its last event). */
async function settledRow(id: string): Promise<Json> {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    const row = (await h.gateway.accounts.ledger.get(id));
    if (row?.state === "settled") return row;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`row ${id} never settled`);
}

test("Ark's events in order: headers and a comment at once while the upstream holds its headers, keep-alives, each image stored first, [DONE]", async () => {
  const opened = h.gateway.emulator?.stats.streamsOpened ?? 0;
  const read = await readStream("/doubao/images/generations", group("a lighthouse in three moods [[refuse-image:2]] [[fault:slow:3000]]"));
  assert.equal(read.status, 200);
  assert.equal(read.headers.get("content-type"), "text/event-stream; charset=utf-8");
  assert.equal(read.upstreamOpenedAtFirstByte, opened, "the client had its first byte before the upstream sent its headers");
  assert.equal(h.gateway.emulator?.stats.streamsOpened, opened + 1);
  assert.equal(read.comments[0], "stream opened; images follow as they are made");
  assert.ok(read.comments.slice(1).every((comment) => comment === "keep-alive") && read.comments.length >= 2, "keep-alive comments while the upstream was silent");
  assert.deepEqual(read.events.map((event) => event.event), [
    "image_generation.partial_succeeded", "image_generation.partial_failed", "image_generation.partial_succeeded", "image_generation.completed", undefined,
  ]);
  assert.equal(read.events.at(-1)?.data, "[DONE]");
  const [first, failed, third, completed] = read.events.slice(0, 4).map((event) => JSON.parse(event.data) as Json);
  assert.deepEqual(Object.keys(first), ["type", "model", "created", "image_index", "url", "size"]);
  assert.deepEqual([first.image_index, failed.image_index, third.image_index], [0, 1, 2]);
  assert.equal(first.model, V40);
  assert.equal(first.size, "1280x720");
  assert.deepEqual(failed.error, { code: "OutputImageSensitiveContentDetected", message: "The request failed because the output image may contain sensitive information." });
  for (const image of [first, third]) {
    assert.ok(image.url.startsWith("http://gateway.test/files/"));
    assert.deepEqual(await jpegSize((await h.get(image.url, {})).body), { format: "jpeg", width: 1280, height: 720 });
  }
  assert.deepEqual(completed.usage, { generated_images: 2, output_tokens: 7200, total_tokens: 7200 });
  const row = await settledRow(read.headers.get("x-request-id") as string);
  assert.deepEqual([row.reserved_images, row.images, row.charged, row.cost_micros, row.error_code], [3, 2, 1, 400000, "PartialFailure"]);
});

test("a client that leaves after the first image is charged 1, and the upstream stream is cut", async () => {
  const aborted = h.gateway.emulator?.stats.aborted ?? 0;
  const read = await readStream("/doubao/images/generations", group("slow painter [[image-pause:3000]]"), (event) => event === "image_generation.partial_succeeded");
  assert.equal(read.events.length, 1);
  const row = await settledRow(read.headers.get("x-request-id") as string);
  assert.deepEqual([row.status, row.images, row.charged, row.cost_micros, row.error_code], [200, 1, 1, 200000, "ClientClosedRequest"]);
  assert.deepEqual(JSON.parse(row.files).length, 1);
  for (let attempt = 0; attempt < 200 && (h.gateway.emulator?.stats.aborted ?? 0) === aborted; attempt += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(h.gateway.emulator?.stats.aborted, aborted + 1, "the upstream request was aborted");
});

test("an upstream failure after 2 images: a partial_failed event and the end; charged 2", async () => {
  const read = await readStream("/doubao/images/generations", group("cut short [[drop-after:2]]"));
  assert.deepEqual(read.events.map((event) => event.event), ["image_generation.partial_succeeded", "image_generation.partial_succeeded", "image_generation.partial_failed", undefined]);
  const failed = JSON.parse(read.events[2]?.data as string) as Json;
  assert.equal(failed.image_index, 2);
  assert.equal(failed.error.code, "UpstreamUnavailable");
  assert.match(failed.error.message, /^The upstream \(Ark\) could not be reached/);
  const row = await settledRow(read.headers.get("x-request-id") as string);
  assert.deepEqual([row.images, row.charged, row.cost_micros, row.error_code], [2, 1, 400000, "UpstreamUnavailable"]);
});

test("bad input with stream: true is a plain JSON 400; stream with ?async=true is refused", async () => {
  const calls = h.gateway.emulator?.stats.byApi.ark;
  const pro = await fetch(`${origin}/doubao/images/generations`, {
    method: "POST", headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "doubao-seedream-5-0-pro-260628", prompt: "x", stream: true }),
  });
  assert.equal(pro.status, 400);
  assert.equal(pro.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(((await pro.json()) as Json).error.param, "stream");
  const queued = await h.post("/doubao/images/generations?async=true", group("x"));
  assert.equal(queued.status, 400);
  assert.equal(queued.json.error.message, "Invalid parameter `stream`: a streamed answer cannot be an async task; send stream: true without ?async=true, or ?async=true without stream.");
  assert.equal(h.gateway.emulator?.stats.byApi.ark, calls);
});

test("the openai SDK iterates the /v1 events: image_generation.completed per image with b64_json", async () => {
  const client = new OpenAI({ apiKey: TEST_KEY, baseURL: `${origin}/v1`, maxRetries: 0 });
  const stream = await client.images.generate({ ...(group("two kites [[images:2]]") as object), model: V40, prompt: "two kites [[images:2]]", stream: true } as OpenAI.ImageGenerateParamsStreaming);
  const events: Json[] = [];
  for await (const event of stream) events.push(event);
  assert.deepEqual(events.map((event) => [event.type, event.image_index, event.size, event.output_format]), [
    ["image_generation.completed", 0, "1280x720", "jpeg"], ["image_generation.completed", 1, "1280x720", "jpeg"],
  ]);
  assert.deepEqual(Object.keys(events[0]), ["type", "b64_json", "created_at", "size", "output_format", "image_index"]);
  assert.deepEqual(await jpegSize(Buffer.from(events[1].b64_json, "base64")), { format: "jpeg", width: 1280, height: 720 });
  const failing = await client.images.generate({ ...(group("cut [[drop-after:1]]") as object), model: V40, prompt: "cut [[drop-after:1]]", stream: true } as OpenAI.ImageGenerateParamsStreaming);
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const event of failing) seen.push(event.type);
    })(),
    (error: Error) => {
      assert.match(error.message, /The upstream \(Ark\) could not be reached/);
      return true;
    },
  );
  assert.deepEqual(seen, ["image_generation.completed"]);
});
