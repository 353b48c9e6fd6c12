// The transport's bounds, over real loopback HTTP on both ways out (the shared undici pool and an injected fetch):
// an attempt's deadline ends a wait for the answer, a body that stops, and a body that trickles in; it does not end a
// stream after its answer has come; the request's signal ends any of them with its own reason.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { BodyTooLarge, postForEvents, postJson, readBody, type Transport } from "./http.js";
import { MAX_EVENT_BYTES } from "./sse.js";
import { UpstreamError } from "./upstream-error.js";

/** What each path of the fake upstream does; every one of them answers eventually, so nothing is left hanging. */
const routes: Record<string, (response: ServerResponse) => Promise<void>> = {
  "/fast": async (response) => void response.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}'),
  "/late-headers": async (response) => {
    await sleep(1_500);
    response.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
  },
  "/stalled-body": async (response) => {
    response.writeHead(200, { "content-type": "application/json" }).write('{"ok":');
    await sleep(1_500);
    response.end("true}");
  },
  // Never silent for long (undici's idle timeout does not fire), but done only after 1.6 s.
  "/trickle": async (response) => {
    response.writeHead(200, { "content-type": "application/json" }).write('{"pad":"');
    for (let index = 0; index < 16; index += 1) {
      await sleep(100);
      if (response.destroyed) return;
      response.write("x");
    }
    response.end('"}');
  },
  // One event whose line does not end (up to four times the most an event may hold, so the test cannot hang).
  "/endless-event": async (response) => {
    response.writeHead(200, { "content-type": "text/event-stream" }).write("data: ");
    const megabyte = Buffer.alloc(1024 * 1024, 0x61);
    for (let sent = 0; sent <= 4 * MAX_EVENT_BYTES && !response.destroyed; sent += megabyte.length) {
      if (!response.write(megabyte)) await new Promise((resolve) => response.once("drain", resolve).once("close", resolve));
    }
    response.end();
  },
  // Events after the attempt's deadline: the stream is not the attempt's to end.
  "/events": async (response) => {
    response.writeHead(200, { "content-type": "text/event-stream" }).flushHeaders();
    for (const index of [1, 2]) {
      await sleep(250);
      response.write(`event: image\ndata: {"index":${index}}\n\n`);
    }
    response.end();
  },
};

let base: string;
/** Each answer's end as the upstream saw it: whether it was sent whole or the client gave up before. */
const ends: Array<{ path: string; whole: boolean }> = [];
const server = createServer((request: IncomingMessage, response: ServerResponse) => {
  request.resume();
  response.on("close", () => ends.push({ path: request.url ?? "", whole: response.writableFinished }));
  void routes[request.url ?? ""]?.(response);
});

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const noAbort = () => new AbortController().signal;
const post = (transport: Transport, path: string, limits: { signal: AbortSignal; deadline?: number }) =>
  postJson(transport, "Ark", `${base}${path}`, { "content-type": "application/json" }, "{}", limits);

async function rejectsAsTimeout(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof UpstreamError, String(error));
    assert.equal(error.status, 504);
    assert.equal(error.code, "UpstreamTimeout");
    assert.equal(error.message, "The upstream (Ark) did not answer in time.");
    return true;
  });
}

for (const [way, transport] of [["undici", undefined], ["an injected fetch", globalThis.fetch]] as const) {
  describe(`an attempt's deadline, through ${way}`, () => {
    test("an answer within it is read", async () => {
      const answer = await post(transport, "/fast", { signal: noAbort(), deadline: Date.now() + 1_000 });
      assert.deepEqual(answer, { status: 200, json: { ok: true }, retryAfter: undefined });
    });

    for (const path of ["/late-headers", "/stalled-body", "/trickle"]) {
      test(`${path}: a 504 UpstreamTimeout once it passes, and the connection is given up`, async () => {
        const seen = ends.length;
        await rejectsAsTimeout(post(transport, path, { signal: noAbort(), deadline: Date.now() + 300 }));
        // Ended by the deadline, not by the upstream finishing: the upstream sees its answer cut off before its end.
        while (ends.length === seen) await sleep(10);
        assert.deepEqual(ends.slice(seen), [{ path, whole: false }]);
      });
    }

    test("without one, the same slow answers are waited for", async () => {
      assert.deepEqual((await post(transport, "/stalled-body", { signal: noAbort() })).json, { ok: true });
      assert.deepEqual((await post(transport, "/trickle", { signal: noAbort() })).json, { pad: "x".repeat(16) });
    });

    test("the request's signal ends the wait with its own reason", async () => {
      const controller = new AbortController();
      const reason = new Error("client disconnected");
      setTimeout(() => controller.abort(reason), 100);
      await assert.rejects(post(transport, "/late-headers", { signal: controller.signal, deadline: Date.now() + 5_000 }), (error) => error === reason);
    });

    test("a stream's events after the deadline still come: it bounds the wait for the answer only", async () => {
      const answer = await postForEvents(transport, "Ark", `${base}/events`, {}, "{}", { signal: noAbort(), deadline: Date.now() + 200 });
      assert.ok("events" in answer);
      const events = [];
      for await (const event of answer.events) events.push({ event: event.event, data: event.data.toString() });
      assert.deepEqual(events, [{ event: "image", data: '{"index":1}' }, { event: "image", data: '{"index":2}' }]);
    });
  });
}

test("an event stream whose event outgrows the limit is refused as the upstream's malformed answer, and given up", async () => {
  const answer = await postForEvents(undefined, "Ark", `${base}/endless-event`, {}, "{}", { signal: noAbort() });
  assert.ok("events" in answer);
  const seen = ends.length;
  await assert.rejects(
    (async () => {
      for await (const event of answer.events) void event;
    })(),
    (error: unknown) => error instanceof UpstreamError && error.status === 502 && error.code === "UpstreamBadResponse" &&
      error.message === `The upstream (Ark) sent an answer the gateway cannot read (a server-sent event is larger than ${MAX_EVENT_BYTES} bytes).`,
  );
  while (ends.length === seen) await sleep(10);
  assert.deepEqual(ends.slice(seen), [{ path: "/endless-event", whole: false }]);
});

test("a body read with a limit is refused once it outgrows it", async () => {
  const { request } = await import("undici");
  const answer = await request(`${base}/stalled-body`, { method: "POST", body: "{}" });
  const small = await request(`${base}/fast`, { method: "POST", body: "{}" });
  assert.deepEqual(JSON.parse((await readBody(small.body, undefined, 11)).toString()), { ok: true });
  await assert.rejects(readBody(answer.body, undefined, 3), (error: unknown) => error instanceof BodyTooLarge && error.message === "the body is larger than 3 bytes");
});
