// `?async=true` and `/async_result` (CONTRACT.md §1) on the embedded emulator.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../config/environment.js";
import { createGateway } from "../server/runtime.js";
import { openSqliteDataDir } from "../stores/sql/sqlite.js";
import { BASE, dataUrl, startHarness, testImage, TEST_KEY, type Harness, type Json } from "../testing/harness.js";

let h: Harness;
before(async () => (h = await startHarness()));
after(() => h.close());

const SEEDREAM = "doubao-seedream-3-0-t2i-250415";

async function poll(taskId: string, path = "/async_result", key = TEST_KEY): Promise<Json> {
  for (;;) {
    const response = await h.get(`${path}?task_id=${taskId}`, { authorization: `Bearer ${key}` });
    assert.equal(response.status, 200, response.body.toString());
    const body = response.json();
    if (body.err !== "result pending") return body;
    assert.deepEqual(body, { status_code: 202, err: "result pending" });
    await sleep(5);
  }
}

test("?async=true answers 202 {task_id} at once; the poll says pending, then gives the synchronous status and body", async () => {
  const submitted = await h.post("/doubao/images/generations?async=true", { model: SEEDREAM, prompt: "later [[fault:slow:150]]", size: "512x512", response_format: "b64_json" });
  assert.equal(submitted.status, 202);
  assert.deepEqual(Object.keys(submitted.json), ["task_id"]);
  const first = await h.get(`/async_result?task_id=${submitted.json.task_id}`);
  assert.deepEqual(first.json(), { status_code: 202, err: "result pending" });
  const done = await poll(submitted.json.task_id);
  assert.equal(done.status_code, 200);
  assert.equal(done.content_type, "application/json; charset=utf-8");
  assert.equal(done.err, "");
  const body = JSON.parse(done.data);
  assert.deepEqual(Object.keys(body), ["model", "created", "data", "usage"]);
  assert.equal(body.usage.generated_images, 1);
});

test("every generation endpoint takes it, /v1/async_result is an alias, and a refusal comes back as the synchronous 400", async () => {
  const photo = dataUrl(await testImage(600, 800));
  const submissions = await Promise.all([
    h.post("/v1/images/generations?async=true", { model: SEEDREAM, prompt: "n two", size: "512x512", n: 2 }),
    h.post("/doubao/drawing?async=true", { prompt: "drawing", width: 256, height: 256 }),
    h.post("/doubao/drawing/portrait?async=true&response_format=b64_json", { image_input: photo, width: 512, height: 512 }),
    h.post("/doubao/images/generations?async=true", { model: SEEDREAM, prompt: "x", size: "100x100" }),
  ]);
  for (const submission of submissions) assert.equal(submission.status, 202);
  const [v1, drawing, portrait, bad] = await Promise.all(submissions.map((submission) => poll(submission.json.task_id, "/v1/async_result")));
  assert.equal(JSON.parse(v1.data).data.length, 2);
  assert.equal(JSON.parse(drawing.data).code, 10000);
  assert.equal(JSON.parse(portrait.data).data.binary_data_base64.length, 1);
  assert.equal(bad.status_code, 400);
  assert.equal(JSON.parse(bad.data).error.param, "size");
});

test("multipart /v1/images/edits is replayed byte for byte", async () => {
  const form = new FormData();
  form.append("image", new Blob([await testImage(800, 600, "png")], { type: "image/png" }), "photo.png");
  form.append("prompt", "make it blue");
  form.append("response_format", "b64_json");
  const request = new Request("http://x/", { method: "POST", body: form });
  const submitted = await h.gateway.app.inject({
    method: "POST", url: "/v1/images/edits?async=true",
    headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": request.headers.get("content-type") as string },
    payload: Buffer.from(await request.arrayBuffer()),
  });
  assert.equal(submitted.statusCode, 202);
  const done = await poll(submitted.json().task_id);
  assert.equal(done.status_code, 200);
  assert.equal(JSON.parse(done.data).data.length, 1);
});

test("a task belongs to the key that made it; unknown, foreign and missing ids are refused", async () => {
  const submitted = await h.post("/doubao/images/generations?async=true", { model: SEEDREAM, prompt: "mine", size: "512x512" });
  const other = await h.post("/admin/keys", { name: "other" });
  const foreign = await h.get(`/async_result?task_id=${submitted.json.task_id}`, { authorization: `Bearer ${other.json.secret}` });
  assert.equal(foreign.status, 404);
  assert.equal(foreign.json().error.message, `No task ${submitted.json.task_id} belongs to this API key (tasks are kept as long as result files).`);
  assert.equal((await h.get("/async_result?task_id=nope")).status, 404);
  const missing = await h.get("/async_result");
  assert.equal(missing.status, 400);
  assert.equal(missing.json().error.message, "Missing required parameter `task_id`.");
  assert.equal((await h.post("/doubao/images/generations?async=true", { model: SEEDREAM, prompt: "x" }, { authorization: "Bearer dg_wrong_key_000000000000000000000000" })).status, 401);
  await poll(submitted.json.task_id);
});

/** A gateway configuration on a data folder of its own (restart tests start gateways on it), removed afterwards. */
async function withDataDir(extra: Record<string, string>, work: (config: ReturnType<typeof loadConfig>, dataDir: string) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "doubao-gateway-async-"));
  try {
    await work(loadConfig({ DATA_DIR: dataDir, GATEWAY_EMULATE: "1", GATEWAY_BOOTSTRAP_KEY: TEST_KEY, PUBLIC_BASE_URL: BASE, ...extra }), dataDir);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

test("a task its process was running reads as interrupted (and uncharged) after a restart, never run twice", async () => {
  await withDataDir({}, async (config, dataDir) => {
    const first = await createGateway(config);
    // A task a process that died was running: claimed by it, never finished.
    const database = openSqliteDataDir(dataDir);
    database
      .prepare("INSERT INTO tasks (id, key_id, state, created_at, started_at, instance_id, request_url, request_headers, request_body) VALUES (?, ?, 'running', ?, ?, ?, ?, '{}', ?)")
      .run("T-left-pending", (await first.keys.findBySecret(TEST_KEY))?.id as string, Date.now(), Date.now(), config.instanceId, "/doubao/images/generations", Buffer.from("{}"));
    database.close();
    await first.close();
    const second = await createGateway(config);
    try {
      const response = await second.app.inject({ method: "GET", url: "/async_result?task_id=T-left-pending", headers: { authorization: `Bearer ${TEST_KEY}` } });
      const body = response.json();
      assert.equal(body.status_code, 500);
      assert.equal(JSON.parse(body.data).error.message, "The gateway restarted before this task finished; it was not charged. Submit it again.");
    } finally {
      await second.close();
    }
  });
});

test("a task still queued when its process stopped runs after the restart, once, without the client's key in the queue", async () => {
  await withDataDir({}, async (config, dataDir) => {
    const first = await createGateway(config);
    const keyId = (await first.keys.findBySecret(TEST_KEY))?.id as string;
    // Stopped before its worker started: the task the client was answered 202 for is only in the queue.
    await first.tasks.enqueue({
      id: "T-queued", keyId, now: Date.now(),
      request: { url: "/doubao/drawing", headers: { "content-type": "application/json" }, body: Buffer.from(JSON.stringify({ prompt: "queued", width: 256, height: 256, use_sr: false, return_url: false })), webhookUrl: null },
      instanceId: config.instanceId,
    });
    await first.tasks.queue("T-queued");
    await first.close();
    const raw = openSqliteDataDir(dataDir);
    const stored = raw.prepare("SELECT state, request_headers FROM tasks WHERE id = 'T-queued'").get() as { state: string; request_headers: string };
    raw.close();
    assert.deepEqual(stored, { state: "queued", request_headers: '{"content-type":"application/json"}' });
    const second = await createGateway(config);
    try {
      await second.app.ready();
      let task: Json = {};
      for (let poll = 0; poll < 200 && task.status !== "succeeded" && task.status !== "failed"; poll += 1) {
        task = (await second.app.inject({ method: "GET", url: "/v1/tasks/T-queued", headers: { authorization: `Bearer ${TEST_KEY}` } })).json();
        await sleep(10);
      }
      assert.equal(task.status, "succeeded", JSON.stringify(task));
      assert.equal(task.result.code, 10000);
      assert.equal(task.result.data.binary_data_base64.length, 1);
      const usage = (await second.accounts.ledger.report({ since: "2000-01-01", until: "2100-01-01", by: ["key"], keyId }))[0];
      assert.deepEqual([usage?.requests, usage?.images], [1, 1], "run once, charged once");
    } finally {
      await second.close();
    }
  });
});

test("a clean stop finishes the task it is running and leaves the queued one queued for the next instance", async () => {
  await withDataDir({ TASK_CONCURRENCY: "1" }, async (config, dataDir) => {
    const gateway = await createGateway(config);
    const submit = async (prompt: string) =>
      (await gateway.app.inject({
        method: "POST", url: "/doubao/drawing?async=true", headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" },
        payload: JSON.stringify({ prompt, width: 256, height: 256, use_sr: false, return_url: false }),
      })).json().task_id as string;
    const first = await submit("first [[fault:slow:500]]");
    const second = await submit("second");
    await sleep(100);
    assert.deepEqual([(await gateway.tasks.get(first))?.state, (await gateway.tasks.get(second))?.state], ["running", "queued"]);
    await gateway.close();
    const raw = openSqliteDataDir(dataDir);
    const states = raw.prepare("SELECT id, state, status_code FROM tasks ORDER BY created_at").all();
    raw.close();
    assert.deepEqual(states, [{ id: first, state: "done", status_code: 200 }, { id: second, state: "queued", status_code: null }]);
  });
});

test("GET /v1/tasks/{id}: running, then succeeded with timestamps and the parsed answer; a refused one is failed with its error", async () => {
  const h2 = await startHarness();
  try {
    const submitted = await h2.post("/doubao/drawing?async=true", { prompt: "slow [[fault:slow:300]]", width: 256, height: 256, use_sr: false, return_url: false });
    const running = (await h2.get(`/v1/tasks/${submitted.json.task_id}`)).json();
    // Queued until this instance's worker claims it (at once, or within the poll interval), then running.
    assert.ok(running.status === "queued" || running.status === "running", running.status);
    assert.deepEqual(running, { id: submitted.json.task_id, object: "task", status: running.status, created_at: running.created_at, finished_at: null });
    let task: Json = running;
    for (let poll = 0; poll < 200 && (task.status === "running" || task.status === "queued"); poll += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      task = (await h2.get(`/v1/tasks/${submitted.json.task_id}`)).json();
    }
    assert.equal(task.status, "succeeded");
    assert.equal(task.status_code, 200);
    assert.equal(task.result.code, 10000);
    assert.equal(task.error, null);
    assert.ok(Date.parse(task.finished_at) >= Date.parse(task.created_at));
    const refused = await h2.post("/doubao/images/generations?async=true", { model: "doubao-seedream-4-0-250828", prompt: "x", size: "1x1" });
    let failed = (await h2.get(`/v1/tasks/${refused.json.task_id}`)).json();
    for (let poll = 0; poll < 200 && (failed.status === "running" || failed.status === "queued"); poll += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      failed = (await h2.get(`/v1/tasks/${refused.json.task_id}`)).json();
    }
    assert.equal(failed.status, "failed");
    assert.equal(failed.status_code, 400);
    assert.equal(failed.error.param, "size");
    assert.equal((await h2.get("/v1/tasks/nope")).status, 404);
  } finally {
    await h2.close();
  }
});
