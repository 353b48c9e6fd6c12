/**
 * Test-only fault injection for the crash-recovery tests: with `GATEWAY_TEST_CRASH_AT=<point>` in its
 * environment the process kills itself with SIGKILL on reaching that point — no cleanup, no flush, as a
 * power cut would. Unset (always, in production), each point is one comparison.
 */
export type CrashPoint = "after-upstream" | "after-storage" | "after-ledger";

// Read once: a lookup in process.env is a call into the runtime, three times a request.
const crashAt = process.env.GATEWAY_TEST_CRASH_AT;

export function crashPoint(point: CrashPoint): void {
  if (crashAt === point) process.kill(process.pid, "SIGKILL");
}
