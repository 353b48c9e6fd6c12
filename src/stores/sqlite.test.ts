// The store conformance suite on SQLite (a fresh database file per test).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { storeConformance } from "../testing/store-conformance.js";
import { openMigrated } from "./database.js";

const root = mkdtempSync(join(tmpdir(), "doubao-gateway-sqlite-"));
after(() => rmSync(root, { recursive: true, force: true }));
let opened = 0;

storeConformance("SQLite", () => openMigrated({ dataDir: join(root, String((opened += 1))) }));
