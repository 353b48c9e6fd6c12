// The CLI and `npm start`'s entry as processes: what they print, and what they store.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { openDatabase } from "./runtime.js";
import { createKeyStore } from "./stores/keys.js";

const dataDir = mkdtempSync(join(tmpdir(), "doubao-gateway-cli-"));
after(() => rmSync(dataDir, { recursive: true, force: true }));
const environment = { ...process.env, DATA_DIR: dataDir, NODE_ENV: "", ARK_API_KEY: "", VOLC_ACCESSKEY: "", VOLC_SECRETKEY: "", GATEWAY_BOOTSTRAP_KEY: "" };
const cli = (args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", "-e", `import("./src/cli.ts").then(async (m) => { process.exitCode = await m.main(${JSON.stringify(args)}); })`], { env: environment, encoding: "utf8" });

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
  const database = openDatabase(dataDir);
  try {
    assert.equal(createKeyStore(database).verify(key)?.name, "default");
  } finally {
    database.close();
  }
});

test("keys create prints the new key and nothing else on stdout", () => {
  const result = cli(["keys", "create", "--name", "ci"]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^dg_[A-Za-z0-9_-]{40}\n$/);
  const database = openDatabase(dataDir);
  try {
    assert.equal(createKeyStore(database).verify(result.stdout.trim())?.name, "ci");
  } finally {
    database.close();
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
