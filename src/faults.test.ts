// The fault suite (testing/fault-suite.ts) at short lengths: two gateway processes on the machine's PostgreSQL and
// Redis behind fault proxies, storing in s3rver, under load while each part fails in turn and a gateway is SIGKILLed.
// Every scenario: no gateway exits; every answer is images, a 503 naming the part, or the quota key's 429; every task
// ends; no row stays reserved; charged images equal received ones per key; every URL downloads; webhooks all arrive.
// Answer times are figures here, not assertions (`npm run faults` checks them against the bounds at full length).
import assert from "node:assert/strict";
import { test } from "node:test";
import { faultMisses, runFaultSuite, SHORT_FAULTS } from "./testing/fault-suite.js";

test("PostgreSQL cut, losing replies and blackholed, Redis cut and blackholed, S3 stopped, a gateway SIGKILLed: nothing crashes, hangs, or is charged without its images", async () => {
  const figures = await runFaultSuite(SHORT_FAULTS);
  assert.deepEqual(figures.map((figure) => figure.scenario), [
    "PostgreSQL cut", "PostgreSQL losing replies", "PostgreSQL slow (200 ms a round trip)", "PostgreSQL blackholed", "Redis cut", "Redis blackholed", "S3 stopped", "gateway SIGKILLed",
  ]);
  for (const figure of figures) {
    assert.deepEqual(faultMisses(figure), [], `${figure.scenario}: ${JSON.stringify(figure)}`);
    assert.ok(figure.answered > 50, `${figure.scenario}: under load (${figure.answered} answers)`);
  }
  // Each outage was seen by the clients as the 503 of its own part.
  const codes = (name: string) => Object.keys(figures.find((figure) => figure.scenario === name)?.unavailable ?? {});
  for (const name of ["PostgreSQL cut", "PostgreSQL losing replies", "PostgreSQL blackholed"]) assert.deepEqual(codes(name), ["DatabaseUnavailable"], name);
  assert.deepEqual(codes("Redis cut"), ["LimitsUnavailable"]);
  assert.deepEqual(codes("S3 stopped"), ["StorageUnavailable"]);
});
