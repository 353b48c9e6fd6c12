// The CLI and `npm start`'s entry as processes: what they print, and what they store.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { createServer as createNetServer } from "node:net";
import { createEmulator } from "../emulator/server.js";
import { createKeyStore } from "../stores/keys.js";
import { createSqliteDatabase, sqliteFileIn } from "../stores/sql/sqlite.js";
import { testPostgres } from "../testing/postgres.js";

const dataDir = mkdtempSync(join(tmpdir(), "doubao-gateway-cli-"));
after(() => rmSync(dataDir, { recursive: true, force: true }));
const environment = { ...process.env, DATA_DIR: dataDir, NODE_ENV: "", ARK_API_KEY: "", VOLC_ACCESSKEY: "", VOLC_SECRETKEY: "", GATEWAY_BOOTSTRAP_KEY: "" };
const cli = (args: string[], extra: Record<string, string> = {}) =>
  spawnSync(process.execPath, ["--import", "tsx", "-e", `import("./src/cli/main.ts").then(async (m) => { process.exitCode = await m.main(${JSON.stringify(args)}); })`], { env: { ...environment, ...extra }, encoding: "utf8" });

/** Starts the server entry on a free port and returns what it printed once it is listening. */
function startServer(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], { env: { ...environment, PORT: "0", LOG_LEVEL: "warn" } });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes("EMULATOR MODE") && (stdout.includes("Try: curl") || !stdout.includes("Created the first"))) {
        setTimeout(() => child.kill("SIGTERM"), 100);
      }
    });
    child.on("exit", () => resolve(stdout));
    child.on("error", reject);
  });
}

test("first start creates a key and prints it once; the next start does not", async () => {
  const first = await startServer();
  assert.match(first, /EMULATOR MODE/);
  const key = /Created the first API key.*\n {2}(dg_[A-Za-z0-9_-]{40})\n/.exec(first)?.[1];
  assert.ok(key, first);
  const second = await startServer();
  assert.doesNotMatch(second, /dg_/);
  const database = createSqliteDatabase(sqliteFileIn(dataDir));
  try {
    assert.equal((await createKeyStore(database).findBySecret(key))?.name, "default");
  } finally {
    await database.close();
  }
});

test("migrate brings the tables up to date (SQLite, then PostgreSQL) and says where; keys then work there", async () => {
  const fresh = mkdtempSync(join(tmpdir(), "doubao-gateway-migrate-"));
  try {
    const sqlite = cli(["migrate"], { DATA_DIR: fresh });
    assert.equal(sqlite.status, 0, sqlite.stderr);
    assert.equal(sqlite.stdout, `The database at ${join(fresh, "gateway.db")} is up to date.\n`);
    assert.equal(cli(["migrate"], { DATA_DIR: fresh }).status, 0, "again: nothing to do");
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
  const postgres = testPostgres("migrate");
  try {
    const first = cli(["migrate"], { DATABASE_URL: postgres.url });
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout, `The database at ${postgres.url} is up to date.\n`);
    const created = cli(["keys", "create", "--name", "on-postgres"], { DATABASE_URL: postgres.url });
    assert.equal(created.status, 0, created.stderr);
    assert.equal(created.stderr.includes("Note: no database"), false, "no SQLite note with DATABASE_URL");
    const listed = cli(["keys", "list", "--json"], { DATABASE_URL: postgres.url });
    assert.deepEqual(JSON.parse(listed.stdout).map((key: { name: string }) => key.name), ["on-postgres"]);
  } finally {
    await postgres.drop();
  }
  const help = cli(["migrate", "--help"]);
  assert.match(help.stdout, /^doubao-gateway migrate — create or update the database's tables, then exit\n/);
  const wrong = cli(["migrate", "now"]);
  assert.equal(wrong.status, 2);
  assert.match(wrong.stderr, /migrate takes no arguments \(DATABASE_URL or DATA_DIR say which database\); got "now"/);
});

test("npm start's pre-step does not compile again when nothing changed since the build (npm test built dist/ first)", () => {
  const result = spawnSync(process.execPath, ["scripts/build-if-changed.mjs"], { encoding: "utf8" });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr, "doubao-gateway: dist/ is up to date with the sources; not compiling (npm run build forces it).\n");
  assert.equal(result.stdout, "", "npm run build was not run");
});

test("keys create prints the new key and nothing else on stdout", async () => {
  const result = cli(["keys", "create", "--name", "ci"]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^dg_[A-Za-z0-9_-]{40}\n$/);
  const database = createSqliteDatabase(sqliteFileIn(dataDir));
  try {
    assert.equal((await createKeyStore(database).findBySecret(result.stdout.trim()))?.name, "ci");
  } finally {
    await database.close();
  }
});

test("usage errors say what to type; --help helps", () => {
  const missing = cli(["keys", "create"]);
  assert.equal(missing.status, 2);
  assert.equal(missing.stdout, "");
  assert.match(missing.stderr, /Usage: doubao-gateway keys create --name NAME/);
  const unknown = cli(["frobnicate"]);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /Unknown command "frobnicate"/);
  const help = cli(["--help"]);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /doubao-gateway emulator \[--port N\]/);
  const port = cli(["emulator", "--port", "x"]);
  assert.equal(port.status, 1);
  assert.match(port.stderr, /--port must be an integer in \[0, 65535\]; got "x"/);
});

/** The CLI as a child process that does not block this one (the emulator answering it runs here). */
function cliAsync(args: string[], extra: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "-e", `import("./src/cli/main.ts").then(async (m) => { process.exitCode = await m.main(${JSON.stringify(args)}); })`], {
      env: { ...environment, API302_KEY: "", ...extra },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("exit", (status) => resolve({ status, stdout, stderr }));
    child.on("error", reject);
  });
}

test("check: each upstream reachable and credentials accepted, without generating an image", async () => {
  const emulator = createEmulator({ arkApiKey: "ark-good", accessKeyId: "AKGOOD", secretAccessKey: "sk-good", api302Key: "relay-good" });
  const base = await emulator.listen(0, "127.0.0.1");
  const closed = createEmulator({ arkApiKey: "x", accessKeyId: "x", secretAccessKey: "x" });
  const deadBase = await closed.listen(0, "127.0.0.1");
  await closed.close();
  try {
    const endpoints = { ARK_BASE_URL: `${base}/api/v3`, VOLC_VISUAL_BASE_URL: base, API302_BASE_URL: base };
    const good = await cliAsync(["check"], { ...endpoints, ARK_API_KEY: "ark-good", VOLC_ACCESSKEY: "AKGOOD", VOLC_SECRETKEY: "sk-good", API302_KEY: "relay-good" });
    assert.equal(good.status, 0, good.stderr + good.stdout);
    assert.match(good.stdout, /^ {2}ark {5}http:\/\/127\.0\.0\.1:\d+ +OK +credentials accepted; the deliberately invalid check request was refused as expected \(InvalidParameter\), no image generated \(\d+ ms\)$/m);
    assert.match(good.stdout, /^ {2}visual {2}http:\/\/127\.0\.0\.1:\d+ +OK +credentials accepted; the deliberately invalid check request was refused as expected \(50201\), no image generated/m);
    assert.match(good.stdout, /^ {2}302ai {3}http:\/\/127\.0\.0\.1:\d+ +OK +credentials accepted; .*\(InvalidParameter\), no image generated/m);
    assert.match(good.stdout, /^ {2}doubao-seedream-3-0-t2i-250415 +ark → 302ai$/m);
    assert.match(good.stdout, /All configured upstreams are usable\./);

    const bad = await cliAsync(["check", "--json"], { ...endpoints, ARK_API_KEY: "ark-wrong", VOLC_ACCESSKEY: "AKGOOD", VOLC_SECRETKEY: "sk-wrong", API302_KEY: "relay-good", API302_BASE_URL: deadBase });
    assert.equal(bad.status, 1);
    const report = JSON.parse(bad.stdout) as { ok: boolean; upstreams: Array<{ provider: string; report: { ok: boolean; reachable: boolean; credentials: string; detail: string } }> };
    assert.equal(report.ok, false);
    const byProvider = Object.fromEntries(report.upstreams.map((line) => [line.provider, line.report]));
    assert.deepEqual({ ...byProvider.ark, detail: undefined }, { ok: false, reachable: true, credentials: "rejected", detail: undefined });
    assert.match(byProvider.ark?.detail ?? "", /check ARK_API_KEY/);
    assert.equal(byProvider.visual?.credentials, "rejected");
    assert.match(byProvider.visual?.detail ?? "", /SignatureDoesNotMatch/);
    assert.deepEqual({ ...byProvider["302ai"], detail: undefined }, { ok: false, reachable: false, credentials: "unknown", detail: undefined });
    assert.match(byProvider["302ai"]?.detail ?? "", /could not be reached \(ECONNREFUSED\)/);
    for (const secret of ["ark-wrong", "sk-wrong", "relay-good"]) assert.ok(!bad.stdout.includes(secret) && !bad.stderr.includes(secret), secret);

    assert.equal(emulator.stats.imagesGenerated, 0);
  } finally {
    await emulator.close();
  }

  const none = await cliAsync(["check"], {});
  assert.equal(none.status, 1);
  assert.match(none.stderr, /No upstream credentials are set, so there is nothing to check/);
});

test("check: an Ark account without the check's model activated (on Seedream 4.0 only) has its credentials accepted, and the probes say which models are live", async () => {
  const emulator = createEmulator({ arkApiKey: "ark-old", accessKeyId: "AKX", secretAccessKey: "skx", inactiveModels: ["doubao-seedream-4-5-251128"] });
  const base = await emulator.listen(0, "127.0.0.1");
  try {
    const run = await cliAsync(["check"], { ARK_BASE_URL: `${base}/api/v3`, ARK_API_KEY: "ark-old" });
    assert.equal(run.status, 0, run.stderr + run.stdout);
    assert.match(run.stdout, /^ {2}ark {5}http:\/\/127\.0\.0\.1:\d+ +OK +credentials accepted; the check's model doubao-seedream-4-5-251128 is not live for this account \(ModelNotOpen\), which says nothing of the others — see the models below \(\d+ ms\)$/m);
    assert.match(run.stdout, /doubao-seedream-4-5-251128.*not activated/);
    assert.match(run.stdout, /doubao-seedream-4-0-250828.*live/);
    assert.equal(emulator.stats.imagesGenerated, 0);
  } finally {
    await emulator.close();
  }
});

test("keys list / show / update / disable / enable / delete and usage, from the CLI", () => {
  const created = cli(["keys", "create", "--name", "ops", "--rpm", "30", "--daily-images", "10", "--models", "doubao-seedream-3-0-t2i-250415", "--json"]);
  assert.equal(created.status, 0, created.stderr);
  const { key } = JSON.parse(created.stdout) as { key: { id: string; rpm_limit: number; allowed_models: string[] } };
  assert.deepEqual([key.rpm_limit, key.allowed_models], [30, ["doubao-seedream-3-0-t2i-250415"]]);

  const list = cli(["keys", "list"]);
  assert.equal(list.status, 0);
  assert.match(list.stdout, /^id +prefix +name +role +status/);
  assert.match(list.stdout, new RegExp(`^${key.id.slice(0, 8)} +dg_\\S+ +ops +user +active .* 30 +- +10/- +-/- +0/0 +0/0 CNY$`, "m"));

  const updated = cli(["keys", "update", "ops", "--rpm", "none", "--total-spend", "5", "--json"]);
  assert.equal(updated.status, 0, updated.stderr);
  assert.deepEqual(((u) => [u.rpm_limit, u.total_spend_limit])(JSON.parse(updated.stdout) as { rpm_limit: null; total_spend_limit: number }), [null, 5]);
  // Flags whose value is a word or a URL, not a number.
  const words = cli(["keys", "update", "ops", "--failed-images", "omit", "--webhook", "https://hooks.example/ops", "--json"]);
  assert.equal(words.status, 0, words.stderr);
  assert.deepEqual(((u) => [u.failed_images, u.webhook_url])(JSON.parse(words.stdout) as { failed_images: string; webhook_url: string }), ["omit", "https://hooks.example/ops"]);
  const noWebhook = cli(["keys", "update", "ops", "--webhook", "none", "--json"]);
  assert.equal((JSON.parse(noWebhook.stdout) as { webhook_url: null }).webhook_url, null);
  const wrongWord = cli(["keys", "update", "ops", "--failed-images", "drop"]);
  assert.equal(wrongWord.status, 2);
  assert.match(wrongWord.stderr, /^doubao-gateway keys update: Invalid parameter --failed-images: must be "inline" .* \(got "drop"\)\.\n$/);
  const bad = cli(["keys", "update", "ops", "--rpm", "0"]);
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, 'doubao-gateway keys update: Invalid parameter --rpm: must be at least 1 (requests per minute), or "none" for no limit (got number 0).\n');

  assert.match(cli(["keys", "disable", key.id.slice(0, 8)]).stdout, / disabled /);
  assert.match(cli(["keys", "enable", "ops"]).stdout, / active /);
  assert.match(cli(["keys", "show", "ops", "--json"]).stdout, /"status": "active"/);
  const missing = cli(["keys", "show", "nobody"]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /No API key has the id, prefix or name "nobody"/);
  const deleted = cli(["keys", "delete", "ops"]);
  assert.equal(deleted.status, 0);
  assert.match(deleted.stderr, /^Deleted key .*; its usage records stay\.\n$/);

  const usage = cli(["usage", "--since", "2026-01-01", "--until", "2026-01-31", "--format", "csv"]);
  assert.equal(usage.status, 0, usage.stderr);
  assert.equal(usage.stdout, "key_id,key_name,model,day,requests,charged_requests,images,output_tokens,cost,currency\n");
  const wrongBy = cli(["usage", "--by", "week"]);
  assert.equal(wrongBy.status, 2);
  assert.match(wrongBy.stderr, /Invalid parameter --by: must be a comma-separated list of key, model, day/);
  assert.match(cli(["keys", "--help"]).stdout, /keys disable ID \| keys enable ID/);
});

/** Runs the built binary (npm test builds it) with the test environment; async, so that a server in this process can answer. */
function binary(args: string[], extra: Record<string, string> = {}, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ["bin/doubao-gateway.js", ...args], { env: { ...environment, LOG_LEVEL: "warn", ...extra } });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

test("snag: serve --help prints help and does not start a server", async () => {
  const result = await binary(["serve", "--help"], {}, 20_000);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^doubao-gateway \[serve\] — start the gateway\n/);
  assert.doesNotMatch(result.stdout, /listening/);
});

test("snag: a port already taken is one line naming the port and PORT, exit 1, and the process ends", async () => {
  const holder = createNetServer();
  await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
  const port = String((holder.address() as { port: number }).port);
  try {
    const result = await binary(["serve"], { PORT: port, HOST: "127.0.0.1" }, 30_000);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stderr, `doubao-gateway: port ${port} on 127.0.0.1 is already in use; stop the process that holds it, or set PORT to a free port.\n`);
    const entry = spawnSync(process.execPath, ["dist/main.js"], { env: { ...environment, PORT: port, HOST: "127.0.0.1", LOG_LEVEL: "warn" }, encoding: "utf8", timeout: 30_000 });
    assert.equal(entry.status, 1);
    assert.equal(entry.stderr, `doubao-gateway: port ${port} on 127.0.0.1 is already in use; stop the process that holds it, or set PORT to a free port.\n`);
  } finally {
    holder.close();
  }
});

test("snag: flag errors say what to type and exit 2", async () => {
  const cases: Array<[string[], string]> = [
    [["keys", "create", "--name", "x", "--rpm", "-5"], "doubao-gateway keys create: --rpm needs a value; to pass one that starts with a dash, write --rpm=VALUE (e.g. --rpm=-5)\nSee: doubao-gateway keys --help\n"],
    [["keys", "create", "--name", "x", "--rmp", "5"], "doubao-gateway keys create: unknown option --rmp; did you mean --rpm?\nSee: doubao-gateway keys --help\n"],
    [["keys", "create", "--name", "x", "--expires", "tomorrow"], 'doubao-gateway keys create: --expires must be an ISO 8601 date-time such as 2027-01-01T00:00:00Z, a time from now such as 30d or 12h, or "none"; got "tomorrow".\nSee: doubao-gateway keys --help\n'],
    [["usage", "--sinse", "2026-01-01"], "doubao-gateway usage: unknown option --sinse; did you mean --since?\nSee: doubao-gateway usage --help\n"],
  ];
  for (const [args, stderr] of cases) {
    const result = await binary(args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.equal(result.stderr, stderr);
  }
  const negative = await binary(["keys", "create", "--name", "x", "--rpm=-5"]);
  assert.equal(negative.code, 2);
  assert.equal(negative.stderr, "doubao-gateway keys create: Invalid parameter --rpm: must be at least 1 (requests per minute), or \"none\" for no limit (got number -5).\n");
});

test("snag: HOST=0.0.0.0 prints the addresses it listens on and warns that PUBLIC_BASE_URL should be set", async () => {
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ["dist/main.js"], { env: { ...environment, HOST: "0.0.0.0", PORT: "0", LOG_LEVEL: "warn" } });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes("EMULATOR MODE")) setTimeout(() => child.kill("SIGTERM"), 100);
    });
    child.on("exit", () => resolve(stdout));
    child.on("error", reject);
  });
  assert.match(output, /^doubao-gateway listening on http:\/\/127\.0\.0\.1:\d+(, http:\/\/[\d.]+:\d+)* \(public URL http:\/\/localhost:0\)\n/);
  assert.match(output, /\nWARNING: HOST=0\.0\.0\.0 listens on every address, but result URLs are built on http:\/\/localhost:0, which other machines cannot reach\. Set PUBLIC_BASE_URL to the address clients use\.\n/);
  assert.match(output, /\nDatabase and results: .+gateway\.db, .+files \(DATA_DIR\)\nPlayground and console: open http:\/\/localhost:0\/ in a browser and paste an API key\n/);
  assert.match(output, /The emulator listens on http:\/\/127\.0\.0\.1:\d+: GET \/_emulator\/stats, POST\/DELETE \/_emulator\/faults/);
});

test("snag: a CLI run where there is no database says which one it creates", async () => {
  const elsewhere = mkdtempSync(join(tmpdir(), "doubao-gateway-elsewhere-"));
  try {
    const result = await binary(["keys", "list"], { DATA_DIR: elsewhere });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, `Note: no database at ${join(elsewhere, "gateway.db")}; creating a new, empty one. Set DATA_DIR (or DATABASE_URL) to use the gateway's.\n`);
    const again = await binary(["keys", "list"], { DATA_DIR: elsewhere });
    assert.equal(again.stderr, "");
  } finally {
    rmSync(elsewhere, { recursive: true, force: true });
  }
});

test("SIGTERM: no new requests, the one in flight finishes with its answer, then exit 0", async () => {
  const key = "dg_graceful_shutdown_key_0123456789abcdef";
  const child = spawn(process.execPath, ["dist/main.js"], { env: { ...environment, PORT: "0", LOG_LEVEL: "warn", GATEWAY_BOOTSTRAP_KEY: key } });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const origin = await new Promise<string>((resolve) => {
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match && stdout.includes("EMULATOR MODE")) resolve(match[1] as string);
    });
  });
  const slow = fetch(`${origin}/doubao/drawing`, {
    method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ prompt: "slow [[fault:slow:1500]]", width: 256, height: 256, use_sr: false, return_url: false }),
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  child.kill("SIGTERM");
  const answer = await slow;
  assert.equal(answer.status, 200);
  assert.equal(((await answer.json()) as { code: number }).code, 10000);
  assert.equal(await exited, 0);
  await assert.rejects(fetch(`${origin}/health`), "no longer accepting");
});
