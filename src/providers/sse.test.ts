// The byte-level event reader against eventsource-parser (a text parser of the same standard), on streams with every
// kind of line ending, comments, fields and BOMs, fed whole, a byte at a time and in random cuts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createParser } from "eventsource-parser";
import { EventTooLarge, SseReader } from "./sse.js";

const image = Buffer.alloc(300_000, 7).toString("base64");

const streams: Record<string, string> = {
  "LF, one data line each": 'event: image_generation.partial_succeeded\ndata: {"image_index":0}\n\nevent: image_generation.completed\ndata: {"usage":{}}\n\ndata: [DONE]\n\n',
  "CRLF": 'event: a\r\ndata: {"x":1}\r\n\r\ndata: two\r\n\r\n',
  "CR alone": "event: a\rdata: one\r\rdata: two\r\rdata: end\n\n",
  "mixed endings": "data: one\r\n\ndata: two\r\rdata: three\n\r\n",
  "several data lines join with LF": "data: first\ndata: second\ndata:\ndata:  two spaces\n\n",
  "comments and unknown fields": ": stream opened\n\n:keep-alive\nfoo: bar\ndata: x\nid: 7\nretry: 100\n\n",
  "a field without a colon": "data\n\ndata\ndata\n\nevent\ndata: y\n\n",
  "no space after the colon": "event:a\ndata:b\n\n",
  "an empty event name": "event:\ndata: z\n\n",
  "no data: nothing dispatched": "event: lonely\n\nid: 3\n\n",
  "a BOM first": "\uFEFFdata: after the BOM\n\n",
  "a BOM later is data": "data: \uFEFFkept\n\n",
  "an unfinished event at the end is dropped": "data: done\n\ndata: cut off",
  "an unfinished line at the end is dropped": "data: done\n\ndata: cut",
  "UTF-8 text": "event: 图\ndata: 多字节 ✓ 🎨\n\n",
  "a large image event": `event: image_generation.partial_succeeded\ndata: {"image_index":0,"b64_json":"${image}","size":"1024x1024"}\n\ndata: [DONE]\n\n`,
};

function oracle(bytes: Buffer): Array<{ event: string | undefined; data: string }> {
  const events: Array<{ event: string | undefined; data: string }> = [];
  const parser = createParser({ onEvent: (message) => events.push({ event: message.event || undefined, data: message.data }) });
  parser.feed(new TextDecoder().decode(bytes));
  return events;
}

function read(chunks: Buffer[]): Array<{ event: string | undefined; data: string }> {
  const reader = new SseReader();
  return chunks.flatMap((chunk) => reader.feed(chunk)).map((message) => ({ event: message.event, data: message.data.toString("utf8") }));
}

/** Cuts at pseudo-random places (a fixed seed: the same cuts every run). */
function cuts(bytes: Buffer, seed: number): Buffer[] {
  const chunks: Buffer[] = [];
  let state = seed;
  for (let at = 0; at < bytes.length; ) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const size = 1 + (state % (bytes.length > 1000 ? 20_000 : 7));
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

for (const [name, text] of Object.entries(streams)) {
  test(`events as the standard reads them: ${name}`, () => {
    const bytes = Buffer.from(text);
    const expected = oracle(bytes);
    assert.deepEqual(read([bytes]), expected, "whole");
    if (bytes.length < 10_000) assert.deepEqual(read([...bytes].map((byte) => Buffer.from([byte]))), expected, "a byte at a time");
    for (const seed of [1, 2, 3, 4, 5]) assert.deepEqual(read(cuts(bytes, seed)), expected, `cut with seed ${seed}`);
  });
}

test("the oracle's readings are what the standard says, for the cases that decide it", () => {
  assert.deepEqual(oracle(Buffer.from(streams["several data lines join with LF"] as string)), [{ event: undefined, data: "first\nsecond\n\n two spaces" }]);
  assert.deepEqual(oracle(Buffer.from(streams["mixed endings"] as string)), [{ event: undefined, data: "one" }, { event: undefined, data: "two" }, { event: undefined, data: "three" }]);
  assert.deepEqual(oracle(Buffer.from(streams["a BOM first"] as string)), [{ event: undefined, data: "after the BOM" }]);
  assert.deepEqual(oracle(Buffer.from(streams["an unfinished event at the end is dropped"] as string)), [{ event: undefined, data: "done" }]);
});

test("a lone CR that ends the stream ends its line: the event before it is dispatched", () => {
  // The standard's end-of-line is CRLF, LF or CR; a text parser that waits to see whether an LF follows never sees one.
  assert.deepEqual(read([Buffer.from("data: one\r\r")]), [{ event: undefined, data: "one" }]);
  assert.deepEqual(read([Buffer.from("data: one\r"), Buffer.from("\r")]), [{ event: undefined, data: "one" }]);
  assert.deepEqual(read([Buffer.from("data: one\r"), Buffer.from("\n"), Buffer.from("\r\n")]), [{ event: undefined, data: "one" }]);
});

test("an event's data is a view of the bytes that came, not a copy, when its line came in one chunk", () => {
  const chunk = Buffer.from("data: abc\n\n");
  const [message] = new SseReader().feed(chunk);
  assert.equal(message?.data.buffer, chunk.buffer);
  assert.equal(message?.data.toString(), "abc");
});

test("Seedream's events from those bytes: an image decoded without its base64 becoming a string, [DONE] the end, data that is not an object refused", async () => {
  const { seedreamEvents } = await import("./ark/seedream.js");
  const { UpstreamError } = await import("./upstream-error.js");
  const bytes = Buffer.alloc(3_000, 9);
  const stream = (text: string) => (async function* () {
    yield* new SseReader().feed(Buffer.from(text));
  })();
  const events = [];
  for await (const event of seedreamEvents(stream(
    `event: image_generation.partial_succeeded\ndata: {"image_index":1,"b64_json":"${bytes.toString("base64")}","size":"64x64"}\n\n` +
      'data: {"type":"image_generation.completed","usage":{"generated_images":1}}\n\ndata: [DONE]\n\ndata: {"type":"image_generation.completed"}\n\n',
  ), "Ark")) events.push(event);
  assert.deepEqual(events, [
    { type: "image", index: 1, image: { bytes, mediaType: "image/jpeg", size: "64x64" } },
    { type: "completed", usage: { generated_images: 1 } },
  ]);
  for (const data of ["null", "12", "{broken"]) {
    await assert.rejects(
      (async () => {
        for await (const event of seedreamEvents(stream(`data: ${data}\n\n`), "Ark")) void event;
      })(),
      (error: unknown) => error instanceof UpstreamError && error.status === 502 && error.code === "UpstreamBadResponse" && /an event's data is not (JSON|a JSON object)/.test(error.message),
    );
  }
});

test("an event that outgrows the limit is refused, by its unfinished line or by its data lines; one within it is read", () => {
  assert.throws(() => {
    const reader = new SseReader(100);
    for (let index = 0; index < 20; index += 1) reader.feed(Buffer.from("data: 0123456789"));
  }, (error: unknown) => error instanceof EventTooLarge && error.message === "a server-sent event is larger than 100 bytes");
  assert.throws(() => new SseReader(100).feed(Buffer.from("data: 0123456789\n".repeat(10))), EventTooLarge);
  const reader = new SseReader(100);
  // The limit is per event: many events of 60 bytes each go through.
  for (let index = 0; index < 5; index += 1) assert.equal(reader.feed(Buffer.from(`data: ${"x".repeat(54)}\n\n`)).length, 1);
});
