// One log line per request: its id, the key's id (never the secret), the model, the provider, the status and the latency.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { startHarness, TEST_KEY } from "./testing/harness.js";

test("one line per request with id, key id, model, provider, status and latency; no secret", async () => {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const h = await startHarness({}, { logger: { level: "info", stream } });
  try {
    const ok = await h.post("/doubao/images/generations", { model: "seedream-4.5", prompt: "a log", size: "2K", response_format: "b64_json" });
    const refused = await h.post("/doubao/images/generations", { model: "doubao-seedream-4-5-251128", prompt: "x", size: "1x1" });
    const key = await h.gateway.keys.findBySecret(TEST_KEY);
    const of = (id: unknown) => lines.filter((line) => line.reqId === id && line.msg === "request");
    const [line] = of(ok.headers["x-request-id"]);
    assert.equal(of(ok.headers["x-request-id"]).length, 1, "one line for the request");
    const { time: _time, pid: _pid, hostname: _hostname, ms, ...rest } = line as Record<string, unknown>;
    assert.ok(typeof ms === "number" && ms >= 0);
    assert.deepEqual(rest, {
      level: 30, reqId: ok.headers["x-request-id"], method: "POST", url: "/doubao/images/generations", status: 200, key: key?.id,
      model: "doubao-seedream-4-5-251128", provider: "emulator", msg: "request",
    });
    const [refusedLine] = of(refused.headers["x-request-id"]);
    assert.deepEqual([refusedLine?.status, refusedLine?.key, refusedLine?.model], [400, key?.id, undefined], "refused before admission: no model was admitted");
    assert.equal(lines.some((entry) => JSON.stringify(entry).includes(TEST_KEY)), false, "the secret is never logged");
  } finally {
    await h.close();
  }
});
