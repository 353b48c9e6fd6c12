// Upstream accounts as data (GATEWAY_CONFIG `upstreams:`): several Ark accounts of one protocol share the requests by
// weight; a BytePlus ModelArk account is sent BytePlus ids and a custom-endpoint account its `ep-` id, while answers keep
// the client's model; the ledger names the account; a file that names a missing variable, an unknown model or an id
// twice refuses the start with the line's path. The upstream is the project's emulator, playing several accounts.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { checkUpstreams, formatCheck } from "./cli/check.js";
import { ConfigError, loadConfig } from "./config/environment.js";
import { createEmulator, type Emulator } from "./emulator/server.js";
import { createGateway, type Gateway } from "./server/runtime.js";
import { TEST_KEY, type Json } from "./testing/harness.js";
import { spawnGateway } from "./testing/gateways.js";
import type { ChildProcess } from "node:child_process";

const root = mkdtempSync(join(tmpdir(), "doubao-accounts-"));
const secrets = { KEY_A: "ark-account-a-0123456789", KEY_B: "ark-account-b-0123456789", KEY_C: "ark-account-c-0123456789", KEY_BP: "byteplus-key-0123456789", KEY_EP: "endpoint-key-0123456789", KEY_CAP: "capped-key-0123456789" };
let emulator: Emulator;
let base: string;
const gateways: Gateway[] = [];
const children = new Set<ChildProcess>();

before(async () => {
  emulator = createEmulator({
    arkApiKey: secrets.KEY_A, accessKeyId: "AKUNUSED", secretAccessKey: "unused",
    arkAccounts: [
      { name: "b", apiKey: secrets.KEY_B }, { name: "c", apiKey: secrets.KEY_C },
      { name: "byteplus", apiKey: secrets.KEY_BP, byteplus: true },
      { name: "endpoints", apiKey: secrets.KEY_EP, endpoints: { "ep-20261201-abcde": "doubao-seedream-4-0-250828" } },
      { name: "capped", apiKey: secrets.KEY_CAP, imagesPerMinute: 3 },
    ],
  });
  base = await emulator.listen(0, "127.0.0.1");
});

after(async () => {
  for (const gateway of gateways) await gateway.close();
  for (const child of children) child.kill("SIGKILL");
  await emulator.close();
  rmSync(root, { recursive: true, force: true });
});

let files = 0;
const configFile = (yaml: string) => {
  const path = join(root, `gateway-${(files += 1)}.yaml`);
  writeFileSync(path, yaml);
  return path;
};
const environment = (yaml: string, extra: Record<string, string> = {}) => ({
  DATA_DIR: join(root, `data-${files + 1}`), GATEWAY_EMULATE: "0", GATEWAY_BOOTSTRAP_KEY: TEST_KEY, PUBLIC_BASE_URL: "http://gw.test", ...secrets, ...extra,
  GATEWAY_CONFIG: configFile(yaml),
});
const start = async (yaml: string, extra: Record<string, string> = {}) => {
  const gateway = await createGateway(loadConfig(environment(yaml, extra)));
  gateways.push(gateway);
  return gateway;
};
const generate = async (gateway: Gateway, model: string, prompt = "a kite", size = "2048x2048") => {
  const response = await gateway.app.inject({
    method: "POST", url: "/api/v3/images/generations", headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" },
    payload: JSON.stringify({ model, prompt, size, response_format: "url", watermark: false }),
  });
  return { status: response.statusCode, json: response.json() as Json, provider: response.headers["x-gateway-provider"], headers: response.headers, text: response.body };
};

test("three Ark accounts weighted 1:1:2 share 400 requests by their weights; the ledger names the account that served each", async () => {
  const gateway = await start(`
upstreams:
  - { id: ark-a, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_A, weight: 1 }
  - { id: ark-b, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_B, weight: 1 }
  - { id: ark-c, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_C, weight: 2 }
`, { RESULT_HOSTING: "upstream" });
  const before = { a: emulator.stats.arkAccounts.default?.requests ?? 0, b: emulator.stats.arkAccounts.b?.requests ?? 0, c: emulator.stats.arkAccounts.c?.requests ?? 0 };
  const providers: Record<string, number> = {};
  // 8 at a time: the rotation is per call, whatever overlaps.
  for (let n = 0; n < 400; n += 8) {
    for (const answer of await Promise.all(Array.from({ length: 8 }, () => generate(gateway, "doubao-seedream-4-0-250828", "a kite", "1280x720")))) {
      assert.equal(answer.status, 200, answer.text);
      providers[String(answer.provider)] = (providers[String(answer.provider)] ?? 0) + 1;
    }
  }
  const served = {
    a: (emulator.stats.arkAccounts.default?.requests ?? 0) - before.a, b: (emulator.stats.arkAccounts.b?.requests ?? 0) - before.b, c: (emulator.stats.arkAccounts.c?.requests ?? 0) - before.c,
  };
  assert.equal(served.a + served.b + served.c, 400);
  // Smooth weighted round-robin: exactly the weights' shares, 100, 100 and 200 (the issue asks for ±10 %).
  assert.deepEqual(served, { a: 100, b: 100, c: 200 });
  assert.deepEqual(providers, { "ark-a": served.a, "ark-b": served.b, "ark-c": served.c }, "x-gateway-provider names the account");
  const recent = await gateway.app.inject({ method: "GET", url: "/admin/requests?limit=400", headers: { authorization: `Bearer ${TEST_KEY}` } });
  const byProvider: Record<string, number> = {};
  for (const row of (recent.json() as Json).data as Array<{ provider: string }>) byProvider[row.provider] = (byProvider[row.provider] ?? 0) + 1;
  assert.deepEqual(byProvider, { "ark-a": served.a, "ark-b": served.b, "ark-c": served.c }, "the ledger names the account");
  // No account's secret in what a client or an operator sees.
  const seen = [recent.body, (await gateway.app.inject({ method: "GET", url: "/ready" })).body, (await gateway.app.inject({ method: "GET", url: "/health" })).body];
  for (const secret of Object.values(secrets)) for (const text of seen) assert.ok(!text.includes(secret), "no secret in an answer");
});

/** A BytePlus ModelArk account serving 4.5 by its BytePlus id, and a custom-endpoint account serving 4.0 (its key in `endpointKey`). */
const byteplusAndEndpoint = (endpointKey = "KEY_EP") => `
  - id: byteplus
    protocol: ark
    base_url: "${base}/api/v3"
    api_key_env: KEY_BP
    models: [doubao-seedream-4-5-251128]
    model_ids: { doubao-seedream-4-5-251128: seedream-4-5-251128 }
  - id: provisioned
    protocol: ark
    base_url: "${base}/api/v3"
    api_key_env: ${endpointKey}
    models: [doubao-seedream-4-0-250828]
    model_ids: { doubao-seedream-4-0-250828: ep-20261201-abcde }
`;

test("a BytePlus account is sent BytePlus ids, an endpoint account its ep- id; the client's answer keeps its own model id", async () => {
  const gateway = await start(`
upstreams:${byteplusAndEndpoint()}`);
  const plus = await generate(gateway, "doubao-seedream-4-5-251128");
  assert.equal(plus.status, 200, plus.text);
  assert.equal(plus.provider, "byteplus");
  assert.equal(plus.json.model, "doubao-seedream-4-5-251128", "the answer names the model the client asked for");
  assert.deepEqual(emulator.stats.arkAccounts.byteplus?.models, { "seedream-4-5-251128": 1 }, "BytePlus got its own id");
  const endpoint = await generate(gateway, "doubao-seedream-4-0-250828");
  assert.equal(endpoint.status, 200, endpoint.text);
  assert.equal(endpoint.provider, "provisioned");
  assert.equal(endpoint.json.model, "doubao-seedream-4-0-250828");
  assert.deepEqual(emulator.stats.arkAccounts.endpoints?.models, { "ep-20261201-abcde": 1 }, "the endpoint account got its ep- id");
  // A model neither account serves has no route here: the 503 says so, as for any model without a provider.
  const none = await generate(gateway, "doubao-seedream-5-0-260128");
  assert.equal(none.status, 503);
});

test("a file that names a missing variable, an unknown model, an id twice or a secret inline refuses the start with the line's path", () => {
  const refused = (yaml: string, extra: Record<string, string> = {}) => {
    try {
      loadConfig(environment(yaml, extra));
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return error.message.replace(/^.*?gateway-\d+\.yaml: /, "");
    }
    assert.fail("the start was not refused");
  };
  assert.equal(refused("upstreams: [{ id: a, protocol: ark, api_key_env: KEY_MISSING }]"), "GATEWAY_CONFIG: upstreams.0.api_key_env: KEY_MISSING is not set (it is to hold account a's secret).");
  assert.equal(
    refused("upstreams: [{ id: a, protocol: ark, api_key_env: KEY_A, models: [doubao-seedream-9] }]"),
    `upstreams.0.models.0: doubao-seedream-9 is not a model the gateway serves; one of ${loadConfig({ GATEWAY_EMULATE: "1" }).file.models.entries.map((entry) => entry.id).join(", ")}`,
  );
  assert.equal(refused("upstreams: [{ id: a, protocol: ark, api_key_env: KEY_A }, { id: a, protocol: ark, api_key_env: KEY_B }]"), "upstreams.1.id: a is already the id of upstreams.0; each account needs its own");
  assert.equal(refused("upstreams: [{ id: a, protocol: ark, api_key_env: sk-0123456789 }]"), "upstreams.0.api_key_env: must name an environment variable (A–Z, 0–9 and _) that holds the secret; the secret itself never goes in this file");
  assert.equal(refused("upstreams: [{ id: v, protocol: visual, access_key_env: KEY_A }]"), "upstreams.0.secret_key_env: a visual account needs the names of the variables that hold its AccessKeyId and SecretAccessKey");
  assert.equal(refused("upstreams: [{ id: a, protocol: ark, api_key_env: KEY_A, models: [general_v2.1_L] }]"), "upstreams.0.models.0: a ark account cannot serve general_v2.1_L; use visual or 302ai");
  assert.equal(refused("upstreams: [{ id: r, protocol: 302ai, api_key_env: KEY_A, model_ids: { doubao-seedream-4-0-250828: x } }]"), "upstreams.0.model_ids: only an ark account (Volcengine Ark, BytePlus ModelArk) names models by ids of its own");
  assert.equal(refused("models: { doubao-seedream-4-0-250828: { providers: [nowhere] } }"), "models.doubao-seedream-4-0-250828.providers.0: nowhere is neither a protocol (ark, visual, 302ai) nor an id of upstreams:");
});

test("check: one line per account, each probed with a model it serves by its own id; OK overall only when every account is", async () => {
  const yaml = (endpointKey: string) => `
upstreams:
  - { id: ark-a, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_A }${byteplusAndEndpoint(endpointKey)}`;
  const sentBefore = { ...(emulator.stats.arkAccounts.byteplus?.models ?? {}) };
  const good = await checkUpstreams(loadConfig(environment(yaml("KEY_EP"))));
  assert.equal(good.ok, true, JSON.stringify(good.upstreams));
  const text = formatCheck(good);
  assert.match(text, /^ {2}ark-a {8}http:\/\/127\.0\.0\.1:\d+ +OK +credentials accepted; the deliberately invalid check request was refused as expected \(InvalidParameter\)/m);
  assert.match(text, /^ {2}byteplus {5}http:\/\/127\.0\.0\.1:\d+ +OK +credentials accepted;/m);
  assert.match(text, /^ {2}provisioned {2}http:\/\/127\.0\.0\.1:\d+ +OK +credentials accepted;/m);
  assert.match(text, /^ {2}doubao-seedream-4-5-251128 +ark-a → byteplus$/m);
  assert.deepEqual(good.probes["doubao-seedream-4-5-251128"], { "ark-a": { state: "live" }, byteplus: { state: "live" } }, "each account probes only the models it serves");
  // BytePlus was asked with its own id, for the check and for the probe; never by the Volcengine one.
  const sent = emulator.stats.arkAccounts.byteplus?.models ?? {};
  assert.equal((sent["seedream-4-5-251128"] ?? 0) - (sentBefore["seedream-4-5-251128"] ?? 0), 2);
  assert.equal(sent["doubao-seedream-4-5-251128"], undefined);
  // One account with a key the upstream refuses: its line says DENIED, and the whole check is not OK.
  const bad = await checkUpstreams(loadConfig(environment(yaml("KEY_WRONG"), { KEY_WRONG: "not-a-key-of-any-account" })));
  assert.equal(bad.ok, false);
  assert.deepEqual(bad.upstreams.map((line) => [line.provider, line.report.credentials]), [["ark-a", "accepted"], ["byteplus", "accepted"], ["provisioned", "rejected"]]);
  assert.ok(!formatCheck(bad).includes("not-a-key-of-any-account"), "no secret in the report");
});

test("an account at its rate limit (429) hands the call to another account at once, and rests for its Retry-After", async () => {
  const gateway = await start(`
upstreams:
  - { id: first, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_A }
  - { id: second, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_B }
`);
  const count = () => ({ first: emulator.stats.arkAccounts.default?.requests ?? 0, second: emulator.stats.arkAccounts.b?.requests ?? 0 });
  const before = count();
  const limited = await generate(gateway, "doubao-seedream-4-0-250828", "a gull [[fault:ark:ModelAccountIpmRateLimitExceeded*1,retry-after=30]]");
  assert.equal(limited.status, 200, limited.text);
  assert.equal(limited.provider, "second", "served by the other account");
  // Weighted 1:1, the rotation would give "first" every other call; resting for 30 s, it is passed over.
  const next = [];
  for (let n = 0; n < 4; n += 1) next.push((await generate(gateway, "doubao-seedream-4-0-250828")).provider);
  assert.deepEqual(next, ["second", "second", "second", "second"]);
  const after = count();
  assert.deepEqual({ first: after.first - before.first, second: after.second - before.second }, { first: 1, second: 5 }, "the 429 was not retried on the same account");
});

test("an account at its images-per-minute limit: the other serves, and no 429 reaches the client while it has room", async () => {
  const gateway = await start(`
upstreams:
  - { id: capped, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_CAP }
  - { id: roomy, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_C }
`);
  const count = () => ({ capped: emulator.stats.arkAccounts.capped?.requests ?? 0, roomy: emulator.stats.arkAccounts.c?.requests ?? 0 });
  const before = count();
  const providers = [];
  for (let n = 0; n < 8; n += 1) {
    const answer = await generate(gateway, "doubao-seedream-4-0-250828");
    assert.equal(answer.status, 200, answer.text);
    providers.push(answer.provider);
  }
  // Turn about until the capped account's fourth image in the minute: its 429 hands that call to the other, and it rests.
  assert.deepEqual(providers, ["capped", "roomy", "capped", "roomy", "capped", "roomy", "roomy", "roomy"]);
  const after = count();
  assert.deepEqual({ capped: after.capped - before.capped, roomy: after.roomy - before.roomy }, { capped: 4, roomy: 5 });
});

test("an account at its concurrency limit: the call waits for room within limit_wait_ms, and past it is a 503 that says it waited; a call refused at one limit uses none of another", async () => {
  const yaml = (wait: number) => `
limit_wait_ms: ${wait}
upstreams:
  - { id: single, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_A, limits: { concurrency: 1, rpm: 2 } }
`;
  const patient = await start(yaml(3000));
  const slow = generate(patient, "doubao-seedream-4-0-250828", "a slow kite [[fault:slow:600]]");
  await sleep(150);
  const queued = await generate(patient, "doubao-seedream-4-0-250828");
  assert.equal(queued.status, 200, "it waited for the running call, then was sent");
  assert.equal((await slow).status, 200);
  // A third call in the minute: over rpm 2, and the soonest room (~60 s) is past the 3 s bound — at once, no wait.
  const third = await generate(patient, "doubao-seedream-4-0-250828");
  assert.equal(third.status, 503);
  assert.match(third.json.error.message, /^Every upstream account that serves model doubao-seedream-4-0-250828 \(single\) is at the limit the operator set for it; one has room in (5\d|60) s\./);

  const impatient = await start(yaml(0));
  const running = generate(impatient, "doubao-seedream-4-0-250828", "a slow kite [[fault:slow:600]]");
  await sleep(150);
  const refused = await generate(impatient, "doubao-seedream-4-0-250828");
  assert.equal(refused.status, 503, "limit_wait_ms: 0 answers at once");
  assert.equal(refused.headers["retry-after"], "1");
  assert.equal((await running).status, 200);
  // The refused call took none of the rpm budget: the second request of the minute is sent.
  assert.equal((await generate(impatient, "doubao-seedream-4-0-250828")).status, 200);
});

test("a call that waited and still found no room says so", async () => {
  const gateway = await start(`
limit_wait_ms: 700
upstreams:
  - { id: single, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_A, limits: { concurrency: 1 } }
`);
  const running = generate(gateway, "doubao-seedream-4-0-250828", "a slow kite [[fault:slow:2500]]");
  await sleep(150);
  const refused = await generate(gateway, "doubao-seedream-4-0-250828");
  assert.equal(refused.status, 503);
  assert.equal(
    refused.json.error.message,
    "Every upstream account that serves model doubao-seedream-4-0-250828 (single) is at the limit the operator set for it (the call waited 500 ms for room); one has room in 1 s. Nothing was sent or charged; retry then.",
  );
  assert.equal((await running).status, 200);
});

test("two gateways on Redis, one account limited to 30 images a minute: 30 images in the minute across both, not 60; then 503 with Retry-After", async () => {
  const yaml = `
upstreams:
  - { id: metered, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_B, limits: { ipm: 30 } }
`;
  const redis = { REDIS_URL: "redis://127.0.0.1:6379/0", REDIS_PREFIX: `doubao-accounts-${process.pid}-${Date.now()}:` };
  const one = await createGateway(loadConfig(environment(yaml, redis)));
  gateways.push(one);
  const two = await createGateway(loadConfig(environment(yaml, redis)));
  gateways.push(two);
  const before = emulator.stats.arkAccounts.b?.requests ?? 0;
  const answers = await Promise.all(Array.from({ length: 40 }, (_, n) => generate(n % 2 ? two : one, "doubao-seedream-4-0-250828")));
  const statuses = answers.map((answer) => answer.status);
  assert.equal(statuses.filter((status) => status === 200).length, 30);
  assert.equal(statuses.filter((status) => status === 503).length, 10);
  assert.equal((emulator.stats.arkAccounts.b?.requests ?? 0) - before, 30, "the account was sent 30, across both gateways");
  const refused = answers.find((answer) => answer.status === 503) as (typeof answers)[number];
  assert.match(refused.json.error.message, /^Every upstream account that serves model doubao-seedream-4-0-250828 \(metered\) is at the limit the operator set for it; one has room in \d+ s\. Nothing was sent or charged; retry then\.$/);
});

test("GET /admin/upstreams shows each account; one switched off on gateway A is passed over by gateway B too; all off is a 503 that says so", async () => {
  const yaml = `
upstreams:
  - { id: left, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_A, weight: 3, limits: { rpm: 1000 } }
  - { id: right, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_B }
`;
  const shared = { DATA_DIR: join(root, "switched") };
  const a = await createGateway(loadConfig({ ...environment(yaml), ...shared, INSTANCE_ID: "gw-a" }));
  gateways.push(a);
  const b = await createGateway(loadConfig({ ...environment(yaml), ...shared, INSTANCE_ID: "gw-b" }));
  gateways.push(b);
  const admin = (gateway: Gateway, method: "GET" | "POST", url: string) => gateway.app.inject({ method, url, headers: { authorization: `Bearer ${TEST_KEY}` } });
  assert.equal((await generate(a, "doubao-seedream-4-0-250828")).provider, "left", "weight 3 of 4 goes first");
  const listed = await admin(a, "GET", "/admin/upstreams");
  assert.equal(listed.statusCode, 200);
  const rows = (listed.json() as Json).data as Json[];
  assert.deepEqual(rows.map((row) => ({ ...row, origin: undefined })), [
    { id: "left", protocol: "ark", label: "left", origin: undefined, enabled: true, weight: 3, priority: 1, models: null, limits: { rpm: 1000 }, limit_use: { requests: 1, images: 0, running: 0 }, breaker: "closed", resting_ms: 0, last_failure: null },
    { id: "right", protocol: "ark", label: "right", origin: undefined, enabled: true, weight: 1, priority: 1, models: null, limits: null, limit_use: null, breaker: "closed", resting_ms: 0, last_failure: null },
  ]);
  for (const secret of Object.values(secrets)) assert.ok(!listed.body.includes(secret));

  const off = await admin(a, "POST", "/admin/upstreams/left/disable");
  assert.equal(off.statusCode, 200);
  assert.equal((off.json() as Json).enabled, false);
  assert.equal((await generate(a, "doubao-seedream-4-0-250828")).provider, "right", "gateway A passes over it at once");
  // Gateway B reads the switches every 2 s.
  let seen = true;
  for (let poll = 0; poll < 50 && seen; poll += 1) {
    seen = (((await admin(b, "GET", "/admin/upstreams")).json() as Json).data as Json[])[0].enabled;
    if (seen) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(seen, false, "gateway B follows");
  const onB = [];
  for (let n = 0; n < 4; n += 1) onB.push((await generate(b, "doubao-seedream-4-0-250828")).provider);
  assert.deepEqual(onB, ["right", "right", "right", "right"], "weighted 3:1, yet never the account switched off");

  await admin(a, "POST", "/admin/upstreams/right/disable");
  const none = await generate(a, "doubao-seedream-4-0-250828");
  assert.equal(none.status, 503);
  assert.equal(none.json.error.message, "Every upstream account that serves model doubao-seedream-4-0-250828 (left, right) is switched off by the gateway's operator; nothing was sent or charged.");
  await admin(a, "POST", "/admin/upstreams/left/enable");
  assert.equal((await generate(a, "doubao-seedream-4-0-250828")).provider, "left");
  const unknown = await admin(a, "POST", "/admin/upstreams/nowhere/disable");
  assert.equal(unknown.statusCode, 404);
  assert.equal((unknown.json() as Json).error.message, "No upstream account nowhere in this gateway's configuration; GET /admin/upstreams lists them.");
});

test("no account's secret in any log line, metric or admin view — a 401 account, a 429 and a refused check included", async () => {
  const lines: string[] = [];
  const stream = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) });
  const yaml = `
upstreams:
  - { id: wrong, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_WRONG }
  - { id: fine, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_C }
`;
  const wrongKey = "sk-wrong-account-key-0123456789";
  const gateway = await createGateway(loadConfig(environment(yaml, { KEY_WRONG: wrongKey })), { logger: { level: "trace", stream } });
  gateways.push(gateway);
  // The wrong account answers 401: out of rotation at once (its breaker open), the other serves; the log says which and why.
  const served = await generate(gateway, "doubao-seedream-4-0-250828");
  assert.equal(served.status, 200, served.text);
  assert.equal(served.provider, "fine");
  const refusedLine = lines.find((line) => line.includes("upstream account wrong refused the gateway"));
  assert.ok(refusedLine, "a line tells the operator");
  assert.match(
    String((JSON.parse(refusedLine) as Json).msg),
    /^upstream account wrong refused the gateway \(AuthenticationError\); out of rotation for 30 s, then one probe\. The upstream \(Ark\) refused the gateway's account \(AuthenticationError: The API key or AK\/SK in the request is missing or invalid\. Request id: \w+\); the operator must check/,
  );
  const attemptsOnWrong = () => lines.filter((line) => line.includes('"provider":"wrong"')).length;
  const before = attemptsOnWrong();
  for (let n = 0; n < 4; n += 1) assert.equal((await generate(gateway, "doubao-seedream-4-0-250828")).provider, "fine");
  assert.equal(attemptsOnWrong(), before, "not tried again while its breaker rests (weights 1:1 would have chosen it twice)");
  await generate(gateway, "doubao-seedream-4-0-250828", "[[fault:ark:ModelAccountIpmRateLimitExceeded*1,retry-after=2]] a tern");
  const views = await Promise.all(["/admin/upstreams", "/admin/requests", "/metrics", "/ready", "/health", "/v1/models"].map(async (url) =>
    (await gateway.app.inject({ method: "GET", url, headers: { authorization: `Bearer ${TEST_KEY}` } })).body));
  const upstreams = JSON.parse(views[0] as string) as Json;
  assert.equal(upstreams.data.find((row: Json) => row.id === "wrong").last_failure.code, "AuthenticationError", "the operator sees which account failed, and why");
  assert.ok(lines.some((line) => /"provider":"wrong".*AuthenticationError/.test(line)), "the log names the account that was refused");
  const report = formatCheck(await checkUpstreams(loadConfig(environment(yaml, { KEY_WRONG: wrongKey }))));
  for (const secret of [...Object.values(secrets), wrongKey]) {
    for (const [index, text] of [...lines, ...views, report].entries()) assert.ok(!text.includes(secret), `secret in output ${index}`);
  }
});

test("SIGHUP: a broken file is logged and refused, requests go on with the running configuration; a good one is served from the next request", async () => {
  const path = join(root, "reloaded.yaml");
  const file = (yaml: string) => writeFileSync(path, yaml);
  file(`upstreams:\n  - { id: first, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_A }\n`);
  const gateway = await spawnGateway({ DATA_DIR: join(root, "data-sighup"), GATEWAY_EMULATE: "0", GATEWAY_BOOTSTRAP_KEY: TEST_KEY, LOG_LEVEL: "info", ...secrets, GATEWAY_CONFIG: path }, children);
  const served = async () => {
    const response = await fetch(`${gateway.base}/api/v3/images/generations`, {
      method: "POST", headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "doubao-seedream-4-0-250828", prompt: "a kite", size: "2048x2048", response_format: "url", watermark: false }),
    });
    await response.arrayBuffer();
    return `${response.status} ${response.headers.get("x-gateway-provider")}`;
  };
  const logged = async (pattern: RegExp) => {
    while (!pattern.test(gateway.output())) await sleep(25);
    return pattern.exec(gateway.output())?.[0];
  };
  assert.equal(await served(), "200 first");

  for (const [broken, message] of [
    [`upstreams:\n  - { id: second, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_NOT_SET }\n`, "GATEWAY_CONFIG: upstreams.0.api_key_env: KEY_NOT_SET is not set (it is to hold account second's secret)."],
    ["upstreams: [ { id: second\n", `${path} is not valid YAML: `],
  ] as const) {
    file(broken);
    const before = gateway.output().length;
    gateway.child.kill("SIGHUP");
    while (!gateway.output().slice(before).includes("configuration not reloaded")) await sleep(25);
    const line = JSON.parse(gateway.output().slice(before).split("\n").find((entry) => entry.includes("configuration not reloaded")) as string) as Json;
    assert.equal(line.level, 50);
    assert.ok(String(line.msg).startsWith(`configuration not reloaded, the running one stays: ${message}`), String(line.msg));
    assert.equal(await served(), "200 first", "still the running configuration");
  }

  file(`upstreams:\n  - { id: second, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_B, weight: 3 }\n`);
  gateway.child.kill("SIGHUP");
  assert.equal(await logged(/configuration reloaded from \S+: 1 upstream accounts, \d+ models/), `configuration reloaded from ${path}: 1 upstream accounts, ${loadConfig({ GATEWAY_EMULATE: "1" }).file.models.entries.length} models`);
  assert.equal(await served(), "200 second");
  for (const secret of Object.values(secrets)) assert.ok(!gateway.output().includes(secret), "no secret in the log");
});

test("reload in process: limits, weights, the model table and retry settings from the new file; the accounts switched off stay off", async () => {
  const yaml = (weights: [number, number], limits = "") => `
limit_wait_ms: 0
retry: { max_attempts: 2 }
upstreams:
  - { id: left, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_A, weight: ${weights[0]} }
  - { id: right, protocol: ark, base_url: "${base}/api/v3", api_key_env: KEY_B, weight: ${weights[1]}${limits} }
`;
  const first = environment(yaml([1, 1]));
  const gateway = await createGateway(loadConfig(first));
  gateways.push(gateway);
  const spread = async (n: number) => {
    const counts: Record<string, number> = {};
    for (let index = 0; index < n; index += 1) {
      const provider = String((await generate(gateway, "doubao-seedream-4-0-250828")).provider);
      counts[provider] = (counts[provider] ?? 0) + 1;
    }
    return counts;
  };
  assert.deepEqual(await spread(4), { left: 2, right: 2 });
  writeFileSync(first.GATEWAY_CONFIG, yaml([1, 3]));
  assert.deepEqual(gateway.reload(first), { path: first.GATEWAY_CONFIG, accounts: ["left", "right"], models: loadConfig(first).file.models.entries.length });
  assert.deepEqual(await spread(8), { left: 2, right: 6 });
  assert.equal(gateway.resilience.policy.maxAttempts, 2);
  // Switched off before a reload, off after it.
  const admin = (url: string) => gateway.app.inject({ method: "POST", url, headers: { authorization: `Bearer ${TEST_KEY}` } });
  assert.equal((await admin("/admin/upstreams/left/disable")).statusCode, 200);
  writeFileSync(first.GATEWAY_CONFIG, yaml([1, 1], ", limits: { rpm: 2 }"));
  gateway.reload(first);
  assert.deepEqual(await spread(2), { right: 2 });
  const third = await generate(gateway, "doubao-seedream-4-0-250828");
  assert.equal(third.status, 503, "right's new rpm 2 is counted");
  assert.match(third.json.error.message, /^Every upstream account that serves model doubao-seedream-4-0-250828 \(right\) is at the limit/);
  // A file that does not load throws, and nothing changes.
  writeFileSync(first.GATEWAY_CONFIG, "retry: { max_attempts: 99 }");
  assert.throws(() => gateway.reload(first), /retry\.max_attempts/);
  assert.equal(gateway.resilience.policy.maxAttempts, 2);
  assert.equal((await admin("/admin/upstreams/left/enable")).statusCode, 200);
});
