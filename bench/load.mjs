// The load generator, in a process of its own: autocannon against one URL; prints one JSON line of results.
import autocannon from "autocannon";

const { clientRequestIds, ...options } = JSON.parse(process.argv[2]);
/** Volcengine's Python SDK's `_gen_request_id()`: the time as 14 digits, then 20 random letters and digits. */
const CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const sdkId = () => `${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}${Array.from({ length: 20 }, () => CHARS[Math.floor(Math.random() * CHARS.length)]).join("")}`;
/**
 * A new `X-Client-Request-Id` on every request: `sdk`, shaped as the SDK makes it; `caller`, any other unique id (a
 * caller's own, set in `extra_headers`), which the gateway keeps like an Idempotency-Key.
 */
const ids = clientRequestIds === "sdk" ? { requests: [{ setupRequest: (request) => ({ ...request, headers: { ...request.headers, "x-client-request-id": sdkId() } }) }] }
  : clientRequestIds === "caller" ? { idReplacement: true, headers: { ...options.headers, "x-client-request-id": "caller-[<id>]" } }
    : {};
const result = await autocannon({ ...options, ...ids, setupClient: undefined });
process.stdout.write(
  `${JSON.stringify({
    requests: result.requests.total, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max,
    non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts, duration: result.duration,
  })}\n`,
);
