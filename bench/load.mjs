// The load generator, in a process of its own: autocannon against one URL; prints one JSON line of results.
import autocannon from "autocannon";

const options = JSON.parse(process.argv[2]);
const result = await autocannon({ ...options, setupClient: undefined });
process.stdout.write(
  `${JSON.stringify({
    requests: result.requests.total, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max,
    non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts, duration: result.duration,
  })}\n`,
);
