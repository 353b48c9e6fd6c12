// General 3.0 (`model_version: "general_v3.0"` on /doubao/drawing) against the emulator on loopback, as Visual
// (signed CVProcess) and as the 302.AI relay: the exact action, req_key and fields sent, the answer's shape and
// size, its own field rules, and the upstream's refusal and rate limit.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import sharp from "sharp";
import { loadConfig } from "../../config/environment.js";
import { createEmulator, type Emulator } from "../../emulator/server.js";
import { createGateway, type Gateway } from "../../server/runtime.js";
import { TEST_KEY, type Json } from "../../testing/harness.js";

const SECRETS = { accessKey: "AKLTgeneral3test0123456789", secretKey: "Z2VuZXJhbDMtc2VjcmV0LWtleS0wMTIzNDU2Nzg5", api302: "sk-302general3test0123456789" };
const root = mkdtempSync(join(tmpdir(), "doubao-general3-"));
let emulator: Emulator;
let base = "";
/** What reached the emulator: path with query, and the JSON body. */
const seen: Array<{ url: string; authorization: string; body: Json }> = [];
const gateways: Gateway[] = [];

before(async () => {
  emulator = createEmulator({ arkApiKey: "ark-unused-0123456789", accessKeyId: SECRETS.accessKey, secretAccessKey: SECRETS.secretKey, api302Key: SECRETS.api302 });
  emulator.app.addHook("preHandler", async (request) => {
    if (request.method !== "POST") return;
    seen.push({ url: request.url, authorization: String(request.headers.authorization ?? ""), body: JSON.parse((request.body as Buffer).toString("utf8")) as Json });
  });
  base = await emulator.listen(0, "127.0.0.1");
});
after(async () => {
  for (const gateway of gateways) await gateway.close();
  await emulator.close();
  rmSync(root, { recursive: true, force: true });
});

async function start(yaml = ""): Promise<Gateway> {
  const config = join(root, `gateway-${gateways.length}.yaml`);
  writeFileSync(config, yaml || "{}\n");
  const gateway = await createGateway(loadConfig({
    DATA_DIR: join(root, `data-${gateways.length}`), GATEWAY_EMULATE: "0", GATEWAY_BOOTSTRAP_KEY: TEST_KEY, PUBLIC_BASE_URL: "http://gw.test", GATEWAY_CONFIG: config,
    VOLC_ACCESSKEY: SECRETS.accessKey, VOLC_SECRETKEY: SECRETS.secretKey, VOLC_VISUAL_BASE_URL: base, API302_KEY: SECRETS.api302, API302_BASE_URL: base,
  }));
  gateways.push(gateway);
  return gateway;
}

const draw = async (gateway: Gateway, body: Record<string, unknown>) => {
  const response = await gateway.app.inject({ method: "POST", url: "/doubao/drawing", headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" }, payload: body });
  return { status: response.statusCode, json: response.json() as Json, provider: response.headers["x-gateway-provider"] };
};
const imageSize = async (gateway: Gateway, url: string) => {
  const file = await gateway.app.inject({ method: "GET", url: url.slice("http://gw.test".length) });
  const { width, height, format } = await sharp(file.rawPayload).metadata();
  return `${width}x${height} ${format}`;
};

test("Visual: CVProcess with req_key high_aes_general_v30l_zt2i and exactly general 3.0's fields, signed; the drawing envelope at the size asked", async () => {
  const gateway = await start();
  const before = seen.length;
  const answer = await draw(gateway, { prompt: "a lighthouse at dawn", model_version: "general_v3.0" });
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  const sent = seen.slice(before);
  assert.equal(sent.length, 1);
  assert.equal(sent[0]?.url, "/?Action=CVProcess&Version=2022-08-31");
  assert.match(sent[0]?.authorization ?? "", /^HMAC-SHA256 Credential=AKLTgeneral3test0123456789\/\d{8}\/cn-north-1\/cv\/request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/);
  assert.deepEqual(sent[0]?.body, {
    req_key: "high_aes_general_v30l_zt2i", prompt: "a lighthouse at dawn", use_pre_llm: false, seed: -1, scale: 2.5, width: 1328, height: 1328, return_url: false,
    logo_info: { add_logo: false, position: 0, language: 0, opacity: 0.3 },
  });
  assert.equal(answer.json.code, 10000);
  assert.equal(answer.json.status, "succeeded");
  assert.equal(answer.json.model, "general_v3.0");
  assert.equal(answer.json.data.image_urls.length, 1);
  assert.equal(answer.json.output, answer.json.data.image_urls[0]);
  assert.equal(await imageSize(gateway, answer.json.data.image_urls[0] as string), "1328x1328 jpeg");
  // By its req_key as an alias, at its own bounds: answered under its id.
  const aliased = await draw(gateway, { prompt: "a kite", model_version: "high_aes_general_v30l_zt2i", width: 512, height: 2048, scale: 10, use_pre_llm: true, seed: 7 });
  assert.equal(aliased.status, 200);
  assert.equal(aliased.json.model, "general_v3.0");
  assert.deepEqual({ width: seen.at(-1)?.body.width, height: seen.at(-1)?.body.height, scale: seen.at(-1)?.body.scale, pre: seen.at(-1)?.body.use_pre_llm, seed: seen.at(-1)?.body.seed }, { width: 512, height: 2048, scale: 10, pre: true, seed: 7 });
  assert.equal(await imageSize(gateway, aliased.json.data.image_urls[0] as string), "512x2048 jpeg");
});

test("its own field rules: sides 512–2048, scale 1–10, refused before anything is sent, in the Volcengine envelope", async () => {
  const gateway = await start();
  const before = seen.length;
  for (const [field, value, message] of [
    ["width", 2049, "must be an integer in [512, 2048] (got number 2049)"], ["height", 511, "must be an integer in [512, 2048] (got number 511)"],
    ["scale", 10.5, "must be a number in [1, 10] (got number 10.5)"], ["use_pre_llm", "yes", 'must be a boolean (true or false) (got "yes")'],
  ] as const) {
    const refused = await draw(gateway, { prompt: "a kite", model_version: "general_v3.0", [field]: value });
    assert.equal(refused.status, 400, field);
    assert.equal(refused.json.error.param, field);
    assert.equal(refused.json.error.message, `Invalid parameter \`${field}\`: ${message}.`);
    assert.equal(refused.json.code, 50200);
  }
  const unknown = await draw(gateway, { prompt: "a kite", model_version: "general_v9" });
  assert.equal(unknown.json.error.message, 'Invalid parameter `model_version`: must be one of general_v2.1_L, general_v2.0_L, general_v2.0, general_v3.0 (got "general_v9").');
  assert.equal(seen.length, before, "nothing reached the upstream");
});

test("through the 302.AI relay: /doubao/drawing with model_version general_v3.0; a refused prompt (50412) is the contract's refusal; an output refusal (50511) asked again; 50429 once, then served", async () => {
  const gateway = await start("models:\n  general_v3.0:\n    providers: [302ai]\n");
  const before = seen.length;
  const answer = await draw(gateway, { prompt: "a harbour", model_version: "general_v3.0", width: 1024, height: 768, return_url: true });
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  assert.equal(answer.provider, "302ai");
  assert.deepEqual(seen.slice(before).map((call) => call.url), ["/doubao/drawing"]);
  assert.equal(seen.at(-1)?.authorization, `Bearer ${SECRETS.api302}`);
  assert.deepEqual(seen.at(-1)?.body, {
    prompt: "a harbour", use_pre_llm: false, seed: -1, scale: 2.5, width: 1024, height: 768, return_url: true, model_version: "general_v3.0",
    logo_info: { add_logo: false, position: 0, language: 0, opacity: 0.3 },
  });
  assert.equal(await imageSize(gateway, answer.json.data.image_urls[0] as string), "1024x768 jpeg");

  const visual = await start();
  const refused = await draw(visual, { prompt: "refused [[fault:visual:50412]]", model_version: "general_v3.0" });
  assert.equal(refused.status, 400);
  assert.equal(refused.json.code, 50412);
  assert.match(refused.json.error.message, /^Content safety refusal: the upstream \(Visual\) refused the prompt or image \(50412: .+\)\. Change the prompt or image; retrying the same request will not help\.$/);
  // An output refusal is asked again, as the docs say (a new image may pass); refused every time, it is a 400 that says so.
  const outputCalls = seen.length;
  const second = await draw(visual, { prompt: "a face [[fault:visual:50511*1]]", model_version: "general_v3.0" });
  assert.equal(second.status, 200, JSON.stringify(second.json));
  assert.equal(seen.length - outputCalls, 2, "refused once, made again");
  const always = await draw(visual, { prompt: "a face [[fault:visual:50511]]", model_version: "general_v3.0" });
  assert.equal(always.status, 400);
  assert.equal(always.json.code, 50511);
  assert.match(always.json.error.message, /^Content safety refusal: the upstream \(Visual\) refused the image it made \(50511: .+\), also when asked again\. Change the prompt, or retry later\.$/);
  assert.equal(always.json.error.message_cn, "内容安全审核未通过：上游拒绝了生成的图片（50511），网关已重试。请修改提示词或稍后再试。");
  const calls = seen.length;
  const limited = await draw(visual, { prompt: "busy [[fault:visual:50429*1,retry-after=0]]", model_version: "general_v3.0" });
  assert.equal(limited.status, 200, JSON.stringify(limited.json));
  assert.equal(seen.length - calls, 2, "the 50429 was retried once");
});

test("/v1/models lists general 3.0 as a general-3 model of this gateway, its unconfirmed facts named", async () => {
  const gateway = await start();
  const models = (await gateway.app.inject({ method: "GET", url: "/v1/models", headers: { authorization: `Bearer ${TEST_KEY}` } })).json() as Json;
  const entry = models.data.find((model: Json) => model.id === "general_v3.0");
  assert.equal(entry.kind, "general-3");
  assert.deepEqual(entry.aliases, ["high_aes_general_v30l_zt2i"]);
  assert.deepEqual(entry.unconfirmed, ["price", "created"]);
});
