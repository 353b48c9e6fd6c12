import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DEFAULT_FILE_CONFIG } from "./file.js";
import { ConfigError, loadConfig } from "./environment.js";
import { parseConfigFile } from "./file.js";
import { createRouter } from "../providers/registry.js";
import type { Provider, ProviderId } from "../providers/types.js";

const fake = (id: ProviderId): Provider => ({
  id, protocol: id, weight: 1, priority: 1, models: undefined, limits: undefined, label: id, families: id === "302ai" ? ["ark", "visual"] : id === "ark" ? ["ark"] : ["visual"], origin: "http://127.0.0.1:1", drawsMarks: id !== "302ai",
  generate: () => Promise.reject(new Error("not called")),
  check: () => Promise.reject(new Error("not called")),
});

test("a YAML config file: routes with timeouts, aliases both ways, retry and breaker settings", () => {
  const file = parseConfigFile(
    `
attempt_timeout_ms: 45000
deadline_ms: 120000
retry: { max_attempts: 4, base_delay_ms: 250, max_delay_ms: 4000 }
breaker: { failure_threshold: 3, cooldown_ms: 10000 }
aliases:
  portrait: i2i_portrait_photo
models:
  doubao-seedream-3-0-t2i-250415:
    aliases: [seedream-3, seedream]
    providers:
      - provider: 302ai
        timeout_ms: 90000
      - ark
`,
    "gateway.yaml",
  );
  assert.deepEqual(file.policy, { deadlineMs: 120000, maxAttempts: 4, baseDelayMs: 250, maxDelayMs: 4000, failureThreshold: 3, cooldownMs: 10000 });
  assert.deepEqual(file.routing, {
    attemptTimeoutMs: 45000,
    models: { "doubao-seedream-3-0-t2i-250415": [{ provider: "302ai", timeoutMs: 90000 }, { provider: "ark" }] },
  });
  const aliases = file.models.aliases();
  assert.equal(aliases["seedream-3"], "doubao-seedream-3-0-t2i-250415");
  assert.equal(aliases.seedream, "doubao-seedream-3-0-t2i-250415");
  assert.equal(aliases.portrait, "i2i_portrait_photo");
  assert.equal(aliases["seededit-3"], "doubao-seededit-3-0-i2i-250628");
  const router = createRouter([fake("ark"), fake("visual"), fake("302ai")], file.routing, file.models);
  assert.equal(router.canonical("seedream-3"), "doubao-seedream-3-0-t2i-250415");
  assert.equal(router.canonical("dall-e-3"), "dall-e-3");
  assert.deepEqual(router.routesFor("doubao-seedream-3-0-t2i-250415").map((route) => [route.provider.id, route.timeoutMs]), [["302ai", 90000], ["ark", 45000]]);
  assert.deepEqual(router.routesFor("general_v2.0").map((route) => [route.provider.id, route.timeoutMs]), [["visual", 45000], ["302ai", 45000]]);
});

test("the same in JSON; an empty file is the defaults", () => {
  const file = parseConfigFile('{"models": {"general_v2.1_L": {"providers": ["302ai"]}}}', "gateway.json");
  assert.deepEqual(file.routing.models, { "general_v2.1_L": [{ provider: "302ai" }] });
  assert.deepEqual(parseConfigFile("", "empty.yaml"), DEFAULT_FILE_CONFIG);
  const priced = parseConfigFile("prices:\n  currency: USD\n  per_image:\n    doubao-seedream-3-0-t2i-250415: 0.03\n", "p.yaml").prices;
  assert.equal(priced.currency, "USD");
  assert.equal(priced.perImageMicros["doubao-seedream-3-0-t2i-250415"], 30000);
  assert.equal(priced.perImageMicros.i2i_portrait_photo, DEFAULT_FILE_CONFIG.prices.perImageMicros.i2i_portrait_photo);
  assert.throws(() => parseConfigFile("prices:\n  per_image:\n    dall-e-3: 0.04\n", "p.yaml"), /^Error: p\.yaml: prices\.per_image\.dall-e-3: not a model the gateway serves/);
});

test("every mistake in the file names the path and the rule", () => {
  const cases: Array<[string, string]> = [
    ["models:\n  doubao-seedream-3-0-t2i-250415:\n    providers: [volc]\n", "g.yaml: models.doubao-seedream-3-0-t2i-250415.providers.0: volc is neither a protocol (ark, visual, 302ai) nor an id of upstreams:"],
    ["models:\n  doubao-seedream-3-0-t2i-250415:\n    providers: [visual]\n", "g.yaml: models.doubao-seedream-3-0-t2i-250415.providers.0: visual cannot serve doubao-seedream-3-0-t2i-250415; use ark or 302ai"],
    ["models:\n  dall-e-3:\n    providers: [ark]\n", 'g.yaml: models.dall-e-3: "dall-e-3" is not a built-in model; give its kind (one of seedream-3, seededit-3, seedream-4, drawing, general-3, portrait) to add it'],
    ["aliases:\n  general_v2.0: i2i_portrait_photo\n", 'g.yaml: aliases.general_v2.0: alias "general_v2.0" is already a model id'],
    ["aliases:\n  x: y\n", 'g.yaml: aliases.x: "y" is not a model of the table; one of doubao-seedream-4-5-251128, doubao-seedream-4-0-250828, doubao-seedream-5-0-260128, doubao-seedream-5-0-pro-260628, doubao-seedream-5-0-flash-260915, doubao-seedream-3-0-t2i-250415, doubao-seededit-3-0-i2i-250628, general_v2.1_L, general_v2.0_L, general_v2.0, general_v3.0, i2i_portrait_photo'],
    ["retries: { max_attempts: 3 }\n", 'g.yaml: (top level): Unrecognized key: "retries"'],
    ["retry: { max_attempts: 0 }\n", "g.yaml: retry.max_attempts: Too small: expected number to be >=1"],
    ["models: [\n", "g.yaml is not valid YAML: "],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseConfigFile(text, "g.yaml"), (error: Error) => {
      assert.ok(error.message.startsWith(message), `${JSON.stringify(text)}\n  got: ${error.message}\n  want: ${message}`);
      return true;
    });
  }
});

test("GATEWAY_CONFIG is read at start; an unreadable or wrong file stops the start with a ConfigError", () => {
  const dir = mkdtempSync(join(tmpdir(), "doubao-gateway-config-"));
  try {
    const path = join(dir, "gateway.yaml");
    writeFileSync(path, "models:\n  general_v2.0:\n    aliases: [v2]\n");
    assert.equal(loadConfig({ GATEWAY_CONFIG: path }).file.models.find("v2")?.id, "general_v2.0");
    assert.throws(() => loadConfig({ GATEWAY_CONFIG: join(dir, "missing.yaml") }), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, `GATEWAY_CONFIG=${join(dir, "missing.yaml")} cannot be read: ENOENT`);
      return true;
    });
    writeFileSync(path, "deadline_ms: soon\n");
    assert.throws(() => loadConfig({ GATEWAY_CONFIG: path }), /gateway\.yaml: deadline_ms: Invalid input: expected number, received string/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a model whose listed providers are not configured is a 503 naming what to set; /v1/models lists only servable models", () => {
  const file = parseConfigFile("models:\n  doubao-seedream-3-0-t2i-250415:\n    lifecycle: live\n    providers: [302ai]\n", "g.yaml");
  const router = createRouter([fake("ark")], file.routing, file.models);
  assert.throws(() => router.routesFor("doubao-seedream-3-0-t2i-250415"), (error: Error & { status?: number; errCode?: number }) => {
    assert.equal(error.status, 503);
    assert.equal(error.errCode, -10008);
    assert.equal(error.message, "No upstream is configured for model doubao-seedream-3-0-t2i-250415. Set API302_KEY and restart the gateway.");
    return true;
  });
  // Served by Ark: the five live Seedream models, and SeedEdit 3.0 through its replacement; not 3.0 (302.AI only, not configured).
  assert.deepEqual(router.servable().map(({ entry }) => entry.id), [
    "doubao-seedream-4-5-251128", "doubao-seedream-4-0-250828", "doubao-seedream-5-0-260128", "doubao-seedream-5-0-pro-260628", "doubao-seedream-5-0-flash-260915",
    "doubao-seededit-3-0-i2i-250628",
  ]);
  assert.deepEqual(createRouter([fake("302ai")]).servable().map(({ entry, provider }) => [entry.id, provider.id]), [
    ["doubao-seedream-4-5-251128", "302ai"], ["doubao-seedream-4-0-250828", "302ai"], ["doubao-seedream-5-0-260128", "302ai"],
    ["doubao-seedream-5-0-pro-260628", "302ai"], ["doubao-seedream-5-0-flash-260915", "302ai"], ["doubao-seedream-3-0-t2i-250415", "302ai"], ["doubao-seededit-3-0-i2i-250628", "302ai"],
    ["general_v2.1_L", "302ai"], ["general_v2.0_L", "302ai"], ["general_v2.0", "302ai"], ["general_v3.0", "302ai"], ["i2i_portrait_photo", "302ai"],
  ]);
});

test("the model table as data: a new model, changed capabilities and prices, lifecycles; mistakes name the path", () => {
  const file = parseConfigFile(
    `
models:
  doubao-seedream-5-1-261215:
    kind: seedream-4
    aliases: [seedream-5.1]
    price: 0.3
    capabilities:
      sizes: { keywords: [2K, 4K], min_pixels: 3686400, max_pixels: 16777216, default: 2048x2048 }
      max_reference_images: 14
      group_generation: true
      stream: true
      output_formats: [jpeg, png]
  doubao-seedream-4-5-251128:
    capabilities: { max_reference_images: 10, sizes: { keywords: [2K] } }
  doubao-seedream-4-0-250828:
    lifecycle: { state: retired, sunset: "2026-07-23", replacement: doubao-seedream-5-1-261215 }
`,
    "g.yaml",
  );
  const added = file.models.find("seedream-5.1");
  assert.equal(added?.id, "doubao-seedream-5-1-261215");
  assert.equal(added.kind, "seedream-4");
  assert.deepEqual(added.capabilities.sizes, { keywords: ["2K", "4K"], min_pixels: 3686400, max_pixels: 16777216, min_ratio: 1 / 16, max_ratio: 16, default: "2048x2048" });
  assert.equal(file.prices.perImageMicros["doubao-seedream-5-1-261215"], 300000);
  const v45 = file.models.get("doubao-seedream-4-5-251128");
  assert.equal(v45.kind, "seedream-4");
  assert.equal(v45.capabilities.max_reference_images, 10);
  assert.deepEqual(v45.capabilities.sizes.keywords, ["2K"]);
  assert.equal(v45.capabilities.sizes.min_pixels, 3686400);
  assert.deepEqual(file.models.get("doubao-seedream-4-0-250828").lifecycle, { state: "retired", sunset: "2026-07-23", replacement: "doubao-seedream-5-1-261215" });
  const cases: Array<[string, string]> = [
    ["models:\n  x-1:\n    price: 1\n", 'g.yaml: models.x-1: "x-1" is not a built-in model; give its kind (one of seedream-3, seededit-3, seedream-4, drawing, general-3, portrait) to add it'],
    ["models:\n  x-1:\n    kind: seedream-4\n", "g.yaml: models.x-1.capabilities: a new seedream-4 model needs at least sizes {keywords, min_pixels, default} and max_reference_images"],
    ["models:\n  general_v2.0:\n    lifecycle: { state: retired, replacement: doubao-seedream-4-5-251128 }\n",
      "g.yaml: models.general_v2.0.lifecycle.replacement: a drawing model cannot be served by doubao-seedream-4-5-251128 (seedream-4); use a drawing model"],
    ["models:\n  doubao-seedream-4-0-250828:\n    lifecycle: { state: deprecated, sunset: \"2027-01-01\" }\n",
      "g.yaml: models.doubao-seedream-4-0-250828.lifecycle: a deprecated model needs deprecated_at and sunset (dates YYYY-MM-DD)"],
    ["models:\n  doubao-seedream-3-0-t2i-250415:\n    lifecycle: { state: retired, replacement: doubao-seededit-3-0-i2i-250628 }\n",
      'g.yaml: models.doubao-seedream-3-0-t2i-250415.lifecycle.replacement: "doubao-seededit-3-0-i2i-250628" is retired itself'],
    ["models:\n  i2i_portrait_photo:\n    capabilities: { stream: true }\n",
      "g.yaml: models.i2i_portrait_photo.capabilities: only seedream-4 models have capabilities in the table (i2i_portrait_photo is portrait; its rules are the contract's)"],
    ["models:\n  doubao-seedream-4-5-251128:\n    capabilities: { sizes: { max_pixels: 100 } }\n", "g.yaml: models.doubao-seedream-4-5-251128.capabilities.sizes: max_pixels is below min_pixels"],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseConfigFile(text, "g.yaml"), (error: Error) => {
      assert.equal(error.message, message);
      return true;
    });
  }
});
