// The store conformance suite on the machine's PostgreSQL (127.0.0.1:5432, database `test`): a schema per test,
// dropped after the run.
import { after } from "node:test";
import { storeConformance } from "../testing/store-conformance.js";
import { testPostgres } from "../testing/postgres.js";
import { openMigrated } from "./database.js";

const schemas: Array<ReturnType<typeof testPostgres>> = [];
after(async () => {
  for (const schema of schemas) await schema.drop();
});

storeConformance("PostgreSQL", () => {
  const schema = testPostgres("stores");
  schemas.push(schema);
  return openMigrated({ dataDir: "/nonexistent", databaseUrl: schema.url, poolMax: 20 });
});
