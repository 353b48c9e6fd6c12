/**
 * Test-only fault injection for the crash-recovery tests: with `GATEWAY_TEST_CRASH_AT=<point>` in its
 * environment the process kills itself with SIGKILL on reaching that point — no cleanup, no flush, as a
 * power cut would. Unset (always, in production), each point is one environment lookup.
 */
export type CrashPoint = "after-upstream" | "after-storage" | "after-ledger";

export function crashPoint(point: CrashPoint): void {
  if (process.env.GATEWAY_TEST_CRASH_AT === point) process.kill(process.pid, "SIGKILL");
}
