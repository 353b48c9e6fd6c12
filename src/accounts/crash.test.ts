// The server process is killed (SIGKILL, as a power cut) between the upstream's answer, the storage write
// and the ledger write; after each restart the ledger and the stored files must agree: every charged
// request has all its files, every file belongs to a charged request, nothing is left reserved.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { openSqliteDataDir } from "../stores/sql/sqlite.js";
import { TEST_KEY } from "../testing/harness.js";

const dataDir = mkdtempSync(join(tmpdir(), "doubao-gateway-crash-"));
after(() => rmSync(dataDir, { recursive: true, force: true }));

interface Running {
  base: string;
  banner: string;
  exited: Promise<NodeJS.Signals | null>;
  kill(): void;
}

/** Starts `src/main.ts` on a free port (embedded emulator) and resolves once it listens. */
function start(crashAt?: string): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      env: {
        ...process.env, DATA_DIR: dataDir, PORT: "0", LOG_LEVEL: "warn", NODE_ENV: "", GATEWAY_EMULATE: "1", GATEWAY_BOOTSTRAP_KEY: TEST_KEY,
        ARK_API_KEY: "", VOLC_ACCESSKEY: "", VOLC_SECRETKEY: "", API302_KEY: "", GATEWAY_TEST_CRASH_AT: crashAt ?? "",
      },
    });
    const exited = new Promise<NodeJS.Signals | null>((done) => child.on("exit", (_code, signal) => done(signal)));
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const base = /listening on (http:\/\/[\d.]+:\d+)/.exec(output)?.[1];
      if (base && output.endsWith("\n")) resolve({ base, banner: output, exited, kill: () => child.kill("SIGTERM") });
    });
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    void exited.then(() => reject(new Error(`the server exited before listening:\n${output}`)));
  });
}

const generate = (base: string) =>
  fetch(`${base}/doubao/images/generations`, {
    method: "POST",
    headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "doubao-seedream-3-0-t2i-250415", prompt: "crash test", size: "512x512", watermark: false }),
  });

interface Row {
  id: string;
  state: string;
  charged: number;
  images: number;
  files: string;
  error_code: string | null;
}

function ledgerAndFiles(): { rows: Row[]; files: string[] } {
  const database = openSqliteDataDir(dataDir);
  try {
    // Before the first start there is no table yet: no rows.
    const made = database.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'usage'").get() !== undefined;
    const rows = made ? database.prepare<[], Row>("SELECT id, state, charged, images, files, error_code FROM usage ORDER BY created_at").all() : [];
    const root = join(dataDir, "files");
    const files = existsSync(root) ? readdirSync(root).flatMap((day) => readdirSync(join(root, day)).map((name) => `${day}/${name}`)) : [];
    return { rows, files };
  } finally {
    database.close();
  }
}

/** The invariant: charged ⇔ files present, nothing reserved, no file without a charged record. */
function assertAgree(): { rows: Row[]; files: string[] } {
  const { rows, files } = ledgerAndFiles();
  assert.deepEqual(rows.filter((row) => row.state !== "settled"), []);
  const chargedFiles = rows.filter((row) => row.charged === 1).flatMap((row) => JSON.parse(row.files) as string[]);
  assert.deepEqual([...files].sort(), [...chargedFiles].sort());
  for (const row of rows) assert.equal(row.charged === 1, row.images > 0 && (JSON.parse(row.files) as string[]).length === row.images, row.id);
  return { rows, files };
}

for (const point of ["after-upstream", "after-storage", "after-ledger"] as const) {
  test(`killed ${point}: after the restart the ledger and the stored files agree`, async () => {
    const before = ledgerAndFiles().rows.length;
    const doomed = await start(point);
    await assert.rejects(generate(doomed.base));
    assert.equal(await doomed.exited, "SIGKILL");

    const restarted = await start();
    try {
      const { rows, files } = assertAgree();
      assert.equal(rows.length, before + 1);
      const last = rows.at(-1) as Row;
      if (point === "after-ledger") {
        // Charged and stored: the images exist (the client lost only the answer, as with any dropped connection).
        assert.deepEqual([last.charged, last.images, last.error_code], [1, 1, null]);
        assert.ok(files.includes((JSON.parse(last.files) as string[])[0] as string));
        assert.doesNotMatch(restarted.banner, /Recovered/);
      } else {
        assert.deepEqual([last.charged, last.images, last.error_code], [0, 0, "Interrupted"]);
        assert.match(restarted.banner, new RegExp(`Recovered 1 request\\(s\\) a previous process left unfinished: settled uncharged, ${point === "after-storage" ? 1 : 0} stored file\\(s\\) removed\\.`));
      }
      // And the restarted server works and charges normally.
      const response = await generate(restarted.base);
      assert.equal(response.status, 200);
    } finally {
      restarted.kill();
      await restarted.exited;
    }
    assertAgree();
  });
}
