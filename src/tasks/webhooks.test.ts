// Webhooks for async tasks: a receiver on loopback verifies every signature; one that fails twice gets the third try.
import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { after, before, test } from "node:test";
import { startHarness, type Harness } from "../testing/harness.js";
import { createWebhookSender } from "./webhooks.js";

let h: Harness;
before(async () => {
  // The receiver is on loopback: the operator's allow-list lets the gateway call it (public addresses only otherwise).
  h = await startHarness({ GATEWAY_FETCH_ALLOW: "127.0.0.1" }, { webhookDelaysMs: [20, 20] });
});
after(() => h.close());

/** Verifies a Standard Webhooks signature as a receiver would, from the secret alone. */
function verify(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const id = String(headers["webhook-id"]);
  const timestamp = String(headers["webhook-timestamp"]);
  const expected = createHmac("sha256", Buffer.from(secret.replace(/^whsec_/, ""), "base64")).update(`${id}.${timestamp}.${body}`).digest();
  return String(headers["webhook-signature"]).split(" ").some((part) => {
    const given = Buffer.from(part.replace(/^v1,/, ""), "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** A webhook receiver on loopback answering the n-th delivery with `status(n)`; `arrived` settles at the `expected`-th. */
async function listen(status: (count: number) => number, expected: number) {
  const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  let done: () => void = () => undefined;
  const arrived = new Promise<void>((resolve) => (done = resolve));
  const receiver = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      received.push({ headers: request.headers, body });
      response.writeHead(status(received.length)).end();
      if (received.length === expected) done();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  return { received, arrived, receiver };
}

test("a task's result is POSTed, signed, to webhook_url; a receiver that fails twice gets it on the third try", async () => {
  const { received, arrived: third, receiver } = await listen((count) => (count < 3 ? 500 : 204), 3);
  try {
    const target = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks/doubao`;
    const submitted = await h.post(`/doubao/drawing?async=true&webhook_url=${encodeURIComponent(target)}`, { prompt: "a heron", width: 256, height: 256, use_sr: false });
    assert.equal(submitted.status, 202);
    await third;
    const secret = (await h.get("/v1/webhook_secret")).json().secret as string;
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(received.length, 3);
    for (const delivery of received) {
      assert.ok(verify(secret, delivery.headers, delivery.body), "signature verifies");
      assert.equal(delivery.headers["webhook-id"], `msg_${submitted.json.task_id}`);
      assert.equal(delivery.headers["content-type"], "application/json");
    }
    assert.ok(!verify(secret, received[0]?.headers as IncomingHttpHeaders, `${received[0]?.body} `), "a changed body does not verify");
    const message = JSON.parse(received[2]?.body as string);
    assert.equal(message.type, "task.completed");
    assert.equal(message.data.task_id, submitted.json.task_id);
    assert.equal(message.data.status_code, 200);
    assert.equal(JSON.parse(message.data.data).code, 10000);
  } finally {
    receiver.close();
  }
});

test("webhook_url must be an http(s) URL; one inside the network is not called unless allowed", async () => {
  const bad = await h.post("/doubao/drawing?async=true&webhook_url=ftp%3A%2F%2Fexample.com", { prompt: "x", width: 256, height: 256, use_sr: false });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.message, "Invalid parameter `webhook_url`: must be an http(s) URL of at most 2048 characters.");
  // Without the operator's allow-list, an address inside the network is refused before any connection is made.
  const sender = createWebhookSender({ policy: { resolve: async () => ["10.0.0.7"] } });
  const outcome = await sender.send("http://hooks.internal.test/x", "whsec_AAAA", "msg_t1", "{}");
  assert.equal(outcome.delivered, false);
  assert.match(outcome.failure as string, /10\.0\.0\.7/);
});

test("a key's default webhook_url reports its tasks when the request names none", async () => {
  const { received, arrived, receiver } = await listen(() => 200, 1);
  try {
    const created = await h.post("/admin/keys", { name: "hooked", webhook_url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/default` });
    assert.equal(created.status, 201);
    assert.match(created.json.key.webhook_url, /^http:\/\/127\.0\.0\.1:\d+\/default$/);
    const submitted = await h.post("/doubao/drawing?async=true", { prompt: "a wren", width: 256, height: 256, use_sr: false }, { authorization: `Bearer ${created.json.secret}` });
    await arrived;
    assert.equal(JSON.parse(received[0]?.body as string).data.task_id, submitted.json.task_id);
    const bad = await h.post("/admin/keys", { name: "badhook", webhook_url: "ftp://x" });
    assert.equal(bad.json.error.message, 'Invalid parameter `webhook_url`: must be an http(s) URL of at most 2048 characters, or null for none (got "ftp://x").');
  } finally {
    receiver.close();
  }
});
