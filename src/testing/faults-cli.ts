/**
 * `npm run faults`: the fault suite (testing/fault-suite.ts) at the issue's lengths and the gateway's default bounds —
 * PostgreSQL cut 5 s, losing replies 6 s, 200 ms a round trip 6 s, blackholed 12 s; Redis cut and blackholed 6 s; S3 stopped 6 s; a gateway
 * SIGKILLed and back after 2 s — printing each scenario's figures, and exiting 1 when one misses its mark (a request
 * answered later than the bound plus 2 s among them, which `npm test` does not check: it measures no wall clock).
 * FAULTS_SHORT=1 runs the short lengths of `npm test`.
 */
import { faultMisses, runFaultSuite, SHORT_FAULTS } from "./fault-suite.js";

const short = process.env.FAULTS_SHORT === "1";
// Default bounds: PostgreSQL connect 3 s + statement 5 s (+0.5 s client margin); Redis 1 s; S3 10 s.
const options = short
  ? SHORT_FAULTS
  : {
      durations: { pgCut: 5_000, pgLostReplies: 6_000, pgLatency: 6_000, pgBlackhole: 12_000, redisCut: 6_000, redisBlackhole: 6_000, s3Stopped: 6_000, gatewayDown: 2_000 },
      bounds: {}, boundMs: 8_500, loadAroundMs: 3_000,
    };
const only = process.argv.slice(2);
const figures = await runFaultSuite({ ...options, ...(only.length ? { only } : {}), log: (line) => console.error(line) });
let failed = false;
console.log("| scenario | answered (ok / 503 / quota 429 / other) | lost connections (retried) | /ready 503 after, 200 after | max / p99 answer | tasks (unfinished, last done after return) | reserved left (settled after) | charged = received per key | URLs broken | webhooks delivered (extra) | exits |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
for (const figure of figures) {
  const unavailable = Object.values(figure.unavailable).reduce((sum, n) => sum + n, 0);
  const ledger = Object.entries(figure.ledger).map(([key, { charged, received }]) => `${key} ${charged}=${received}`).join(", ");
  console.log(
    `| ${figure.scenario} | ${figure.answered} (${figure.ok} / ${unavailable} ${JSON.stringify(figure.unavailable)} / ${figure.quotaRefused} / ${figure.other.length}) | ${figure.connectionLost} (${figure.retried}) | ` +
      `${figure.readyDownMs < 0 ? "—" : `${(figure.readyDownMs / 1000).toFixed(1)} s`}, ${figure.readyBackMs < 0 ? "—" : `${(figure.readyBackMs / 1000).toFixed(1)} s`} | ` +
      `${(figure.maxAnswerMs / 1000).toFixed(2)} s / ${(figure.p99AnswerMs / 1000).toFixed(2)} s | ${figure.tasksAccepted} (${figure.tasksUnfinished}, ${(figure.tasksFinishedMs / 1000).toFixed(1)} s) | ` +
      `${figure.reservedLeft} (${(figure.reservedSettledMs / 1000).toFixed(1)} s) | ${ledger} | ${figure.urlsBroken} of ${figure.urlsChecked} | ${figure.webhooksDelivered} of ${figure.webhooksDue} (${figure.webhookDuplicates}) | ${figure.exits.length} |`,
  );
  const misses = faultMisses(figure, options.boundMs);
  if (misses.length) {
    failed = true;
    console.log(`  missed: ${misses.join("; ")}`);
  }
}
process.exit(failed ? 1 : 0);
