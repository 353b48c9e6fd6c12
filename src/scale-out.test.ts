// Two real gateway processes on the machine's PostgreSQL and Redis, storing in an S3-compatible server on loopback,
// both calling one emulator: limits and quotas hold across them, tasks and files made by one are served by the
// other, and a SIGKILL of one mid-load loses no task and charges nothing undelivered.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import pg from "pg";
import { createEmulator, type Emulator } from "./emulator/server.js";
import { jpegSize, TEST_KEY } from "./testing/harness.js";
import { testPostgres } from "./testing/postgres.js";
import { startTestS3, type TestS3 } from "./testing/s3.js";
import { spawnGateway, type GatewayProcess } from "./testing/gateways.js";

const credentials = { arkApiKey: "scale-ark-key-0123456789", accessKeyId: "AKSCALE0123456789", secretAccessKey: "scale-secret-0123456789", api302Key: "sk-scale-0123456789" };
const database = testPostgres("scaleout");
const root = mkdtempSync(join(tmpdir(), "doubao-gateway-scale-"));
let s3: TestS3;
let emulator: Emulator;
const running = new Set<ChildProcess>();

type Instance = GatewayProcess;

function startInstance(instanceId: string, extra: Record<string, string> = {}): Promise<Instance> {
  const base = emulator.base as string;
  return spawnGateway({
    DATA_DIR: join(root, instanceId), INSTANCE_ID: instanceId,
    GATEWAY_EMULATE: "0", GATEWAY_BOOTSTRAP_KEY: TEST_KEY, PUBLIC_BASE_URL: "http://gateways.test",
    DATABASE_URL: database.url, REDIS_URL: "redis://127.0.0.1:6379/0", REDIS_PREFIX: `doubao-scale-${process.pid}-${Date.now()}:`,
    ...s3.environment("gateways"),
    ARK_API_KEY: credentials.arkApiKey, ARK_BASE_URL: `${base}/api/v3`, VOLC_ACCESSKEY: credentials.accessKeyId, VOLC_SECRETKEY: credentials.secretAccessKey,
    VOLC_VISUAL_BASE_URL: base, API302_KEY: credentials.api302Key, API302_BASE_URL: base, GATEWAY_FETCH_ALLOW: "",
    INSTANCE_HEARTBEAT_MS: "300", TASK_POLL_MS: "100", TASK_CONCURRENCY: "2", ...extra,
  }, running);
}

const REDIS_KEY_PREFIX = `doubao-scale-${process.pid}-${Date.now()}:`;
let a: Instance;
let b: Instance;

before(async () => {
  s3 = await startTestS3();
  emulator = createEmulator(credentials);
  await emulator.listen(0, "127.0.0.1");
  // One after the other: the first one's migrations make the schema the second finds.
  a = await startInstance("gw-a", { REDIS_PREFIX: REDIS_KEY_PREFIX });
  b = await startInstance("gw-b", { REDIS_PREFIX: REDIS_KEY_PREFIX });
});

after(async () => {
  for (const child of running) child.kill("SIGKILL");
  await emulator.close();
  await s3.close();
  await database.drop();
  rmSync(root, { recursive: true, force: true });
});

const call = async (base: string, path: string, init: { method?: string; key?: string; body?: unknown } = {}) => {
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: { authorization: `Bearer ${init.key ?? TEST_KEY}`, ...(init.body === undefined ? {} : { "content-type": "application/json" }) },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json, text };
};

const makeKey = async (name: string, limits: Record<string, unknown> = {}) => {
  const created = await call(a.base, "/admin/keys", { body: { name, ...limits } });
  assert.equal(created.status, 201, created.text);
  return created.json.secret as string;
};

const drawing = (base: string, key: string, prompt = "a lighthouse", returnUrl = false) =>
  call(base, "/doubao/drawing", { key, body: { prompt, width: 256, height: 256, use_sr: false, return_url: returnUrl } });

const visualCalls = () => emulator.stats.byApi.visual;

const sql = async <T>(text: string, parameters: unknown[] = []): Promise<T[]> => {
  const client = new pg.Client({ connectionString: database.url.replace(/\?.*$/, "") });
  await client.connect();
  try {
    await client.query(`SET search_path TO "${database.schema}"`);
    return (await client.query(text, parameters)).rows as T[];
  } finally {
    await client.end();
  }
};

test("a key's rpm limit holds across both gateways: A, B, A pass, the fourth (on B) is 429 with Retry-After", async () => {
  const key = await makeKey("rpm-3", { rpm_limit: 3 });
  const statuses = [];
  for (const base of [a.base, b.base, a.base]) statuses.push((await drawing(base, key)).status);
  assert.deepEqual(statuses, [200, 200, 200]);
  const fourth = await drawing(b.base, key);
  assert.equal(fourth.status, 429);
  assert.equal(fourth.json.error.code, "RateLimitExceeded");
  assert.ok(Number(fourth.headers.get("retry-after")) >= 1);
});

test("a key's concurrency limit holds across both: B refuses while A's request runs, and serves after", async () => {
  const key = await makeKey("one-at-a-time", { concurrency_limit: 1 });
  const slow = drawing(a.base, key, "slow [[fault:slow:1500]]");
  await new Promise((resolve) => setTimeout(resolve, 500));
  const refused = await drawing(b.base, key);
  assert.equal(refused.status, 429);
  assert.equal(refused.json.error.message, "This API key may run 1 request at a time; retry when one has finished.");
  assert.equal((await slow).status, 200);
  // Sent the moment the first answer is in: its slot was freed before that answer went out.
  const next = await drawing(b.base, key);
  assert.equal(next.status, 200, next.text);
});

test("40 concurrent requests for a key's last 5 images, split over both gateways, give exactly 5", async () => {
  const key = await makeKey("last-five", { total_image_quota: 5 });
  const calls = visualCalls();
  const answers = await Promise.all(Array.from({ length: 40 }, (_, index) => drawing(index % 2 ? b.base : a.base, key, `race ${index}`)));
  const statuses = answers.map((answer) => answer.status);
  assert.equal(statuses.filter((status) => status === 200).length, 5);
  assert.equal(statuses.filter((status) => status === 429).length, 35);
  assert.equal(answers.find((answer) => answer.status === 429)?.json.error.err_code, -10006);
  assert.equal(visualCalls(), calls + 5, "the refused 35 never reached the upstream");
  const usage = await call(b.base, "/v1/usage", { key });
  assert.deepEqual([usage.json.totals.images, usage.json.totals.charged_requests], [5, 5]);
});

test("a task submitted to A is fetched from B; a file written by one is served by the other", async () => {
  const key = await makeKey("tasks-across");
  const submitted = await call(a.base, "/doubao/drawing?async=true", { key, body: { prompt: "a task", width: 256, height: 256, use_sr: false, return_url: true } });
  assert.equal(submitted.status, 202);
  let task: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  for (let poll = 0; poll < 100; poll += 1) {
    task = (await call(b.base, `/v1/tasks/${submitted.json.task_id}`, { key })).json;
    if (task.status === "succeeded" || task.status === "failed") break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(task.status, "succeeded", JSON.stringify(task));
  const taskUrl = new URL(task.result.data.image_urls[0] as string);
  const viaB = await fetch(`${b.base}${taskUrl.pathname}`);
  assert.equal(viaB.status, 200);
  assert.deepEqual(await jpegSize(Buffer.from(await viaB.arrayBuffer())), { format: "jpeg", width: 256, height: 256 });
  const direct = await drawing(a.base, key, "stored by A", true);
  const url = new URL(direct.json.data.image_urls[0] as string);
  assert.equal(url.origin, "http://gateways.test");
  const served = await fetch(`${b.base}${url.pathname}`);
  assert.equal(served.status, 200, "B serves what A stored (S3)");
  assert.equal((await fetch(`${a.base}${url.pathname}`)).status, 200);
});

test("SIGKILL of A mid-load: every task ends (queued ones run on B, A's running ones fail Interrupted), nothing undelivered is charged, no task reaches the upstream twice; A's restart leaves B's live request alone", async () => {
  const key = await makeKey("kill-load");
  const calls = visualCalls();
  const body = (n: number) => ({ prompt: `load ${n} [[fault:slow:3000]]`, width: 256, height: 256, use_sr: false, return_url: true });
  const ids: string[] = [];
  for (let n = 0; n < 6; n += 1) {
    const submitted = await call(a.base, "/doubao/drawing?async=true", { key, body: body(n) });
    assert.equal(submitted.status, 202);
    ids.push(submitted.json.task_id as string);
  }
  const syncOnA = [0, 1].map((n) => call(a.base, "/doubao/drawing", { key, body: body(10 + n) }).catch((error: Error) => ({ status: 0, error })));
  await new Promise((resolve) => setTimeout(resolve, 800));
  const claimed = await sql<{ instance_id: string; n: string }>("SELECT instance_id, COUNT(*) AS n FROM tasks WHERE id = ANY($1) AND state = 'running' GROUP BY instance_id ORDER BY instance_id", [ids]);
  assert.deepEqual(claimed.map((row) => [row.instance_id, Number(row.n)]), [["gw-a", 2], ["gw-b", 2]], "two running on each, two queued");
  a.child.kill("SIGKILL");
  await a.exited;
  for (const answer of await Promise.all(syncOnA)) assert.equal(answer.status, 0, "A's clients lost their connection");

  const final: any[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const id of ids) {
    let task: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    for (let poll = 0; poll < 300; poll += 1) {
      task = (await call(b.base, `/v1/tasks/${id}`, { key })).json;
      if (task.status === "succeeded" || task.status === "failed") break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    final.push(task);
  }
  const outcomes = final.map((task) => (task.status === "failed" ? task.error.code : task.status));
  assert.deepEqual([...outcomes].sort(), ["Interrupted", "Interrupted", "succeeded", "succeeded", "succeeded", "succeeded"], JSON.stringify(final));
  assert.equal(visualCalls(), calls + 8, "6 tasks and 2 requests: each reached the upstream once, none again");
  const rows = await sql<{ state: string; charged: number; images: number; error_code: string | null; files: string }>(
    "SELECT state, charged, images, error_code, files FROM usage WHERE key_name = 'kill-load' ORDER BY created_at",
  );
  assert.equal(rows.length, 8);
  assert.ok(rows.every((row) => row.state === "settled"), "nothing left reserved");
  assert.equal(rows.filter((row) => Number(row.charged) === 1).length, 4, "charged: the 4 tasks that succeeded");
  assert.equal(rows.filter((row) => row.error_code === "Interrupted").length, 4, "A's 2 tasks and 2 requests: uncharged");
  const usage = await call(b.base, "/v1/usage", { key });
  assert.equal(usage.json.totals.images, 4);

  // A restarts (the same INSTANCE_ID) while B answers a slow request: A's start-up recovery leaves B's row alone.
  const slowOnB = call(b.base, "/doubao/drawing", { key, body: { prompt: "B's own [[fault:slow:2000]]", width: 256, height: 256, use_sr: false, return_url: false } });
  await new Promise((resolve) => setTimeout(resolve, 300));
  a = await startInstance("gw-a", { REDIS_PREFIX: REDIS_KEY_PREFIX });
  const answer = await slowOnB;
  assert.equal(answer.status, 200);
  const [row] = await sql<{ state: string; charged: number; error_code: string | null }>("SELECT state, charged, error_code FROM usage WHERE id = $1", [answer.headers.get("x-request-id")]);
  assert.deepEqual([row?.state, Number(row?.charged), row?.error_code], ["settled", 1, null]);
  assert.equal((await drawing(a.base, key)).status, 200, "the restarted A serves");
});
