/**
 * The machine's PostgreSQL for tests (127.0.0.1:5432, database `test`, trust auth; TEST_DATABASE_URL overrides):
 * each run gets a schema of its own, dropped afterwards, so runs side by side never see each other's rows.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export const TEST_DATABASE_BASE = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A fresh schema's URL (made on first connection by the gateway) and a function that drops it. */
export function testPostgres(label: string): { url: string; schema: string; drop(): Promise<void> } {
  const schema = `dg_${label}_${process.pid}_${randomBytes(4).toString("hex")}`.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  const url = new URL(TEST_DATABASE_BASE);
  url.searchParams.set("schema", schema);
  return {
    url: url.toString(),
    schema,
    async drop() {
      const client = new pg.Client({ connectionString: TEST_DATABASE_BASE });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
