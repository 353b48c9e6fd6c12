// Two gateway instances on one database: start-up recovery settles a dead instance's rows, never a live neighbour's.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { loadConfig } from "../config/environment.js";
import { createGateway, type Gateway } from "../server/runtime.js";
import { openSqliteDataDir } from "../stores/sql/sqlite.js";
import { CLASSIC_LIVE_CONFIG, TEST_KEY, type Json } from "../testing/harness.js";

const dataDir = mkdtempSync(join(tmpdir(), "doubao-gateway-instances-"));
const gateways: Gateway[] = [];
after(async () => {
  for (const gateway of gateways) await gateway.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const start = async (instanceId: string) => {
  const gateway = await createGateway(loadConfig({
    DATA_DIR: dataDir, GATEWAY_EMULATE: "1", GATEWAY_BOOTSTRAP_KEY: TEST_KEY, PUBLIC_BASE_URL: "http://gw.test", GATEWAY_CONFIG: CLASSIC_LIVE_CONFIG, INSTANCE_ID: instanceId,
  }));
  gateways.push(gateway);
  return gateway;
};

test("a neighbour starting while a request is in flight leaves it alone; a dead instance's row is settled uncharged", async () => {
  const a = await start("gw-a");
  // A row of an instance that stopped beating a minute ago, still reserved, with a file it recorded.
  const database = openSqliteDataDir(dataDir);
  try {
    database.prepare("INSERT INTO instances (id, started_at, heartbeat_at) VALUES ('gw-dead', ?, ?)").run(Date.now() - 120_000, Date.now() - 60_000);
    database.prepare(
      `INSERT INTO usage (id, key_id, key_name, model, endpoint, state, reserved_images, reserved_micros, created_at, day, files, instance_id)
       VALUES ('dead-row', 'k', 'k', 'general_v2.1_L', '/doubao/drawing', 'reserved', 1, 200000, ?, '2026-11-22', '["20261122/AAAAAAAAAAAAAAAAAAAAAA.jpeg"]', 'gw-dead')`,
    ).run(Date.now() - 90_000);
  } finally {
    database.close();
  }
  const slow = a.app.inject({
    method: "POST", url: "/doubao/drawing", headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" },
    payload: JSON.stringify({ prompt: "slow [[fault:slow:800]]", width: 256, height: 256, use_sr: false, return_url: false }),
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const inFlight = (await a.accounts.ledger.interrupted()).filter((row) => row.instanceId === "gw-a");
  assert.equal(inFlight.length, 1, "A's request is reserved");
  const b = await start("gw-b");
  assert.deepEqual(b.recovered, { requests: 1, files: 1 }, "B recovered the dead instance's row only");
  assert.equal(((await b.accounts.ledger.get("dead-row")) as Json).error_code, "Interrupted");
  assert.equal(((await b.accounts.ledger.get(inFlight[0]?.id as string)) as Json).state, "reserved", "A's row is untouched");
  const answer = await slow;
  assert.equal(answer.statusCode, 200);
  const row = (await b.accounts.ledger.get(inFlight[0]?.id as string)) as Json;
  assert.deepEqual([row.state, row.charged, row.images], ["settled", 1, 1]);
});
