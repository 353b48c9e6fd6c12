/**
 * `doubao-gateway check`: for each configured upstream, whether it is reachable and accepts the
 * credentials — without generating a paid image. Each provider sends a request the upstream must refuse
 * for a parameter only after it has authenticated it (providers/http.ts `runCheck`).
 */
import { MODEL_CATALOG } from "./api/models.js";
import type { Config } from "./config.js";
import { createRouter } from "./providers/registry.js";
import type { CheckReport, ProviderId } from "./providers/types.js";
import { upstreamProviders } from "./runtime.js";

export interface CheckLine {
  provider: ProviderId;
  origin: string;
  ms: number;
  report: CheckReport;
}

export interface CheckResult {
  ok: boolean;
  upstreams: CheckLine[];
  /** Public model id → the providers that would serve it, in order. */
  models: Record<string, ProviderId[]>;
}

export async function checkUpstreams(config: Config, timeoutMs = 15_000): Promise<CheckResult> {
  const providers = upstreamProviders(config);
  const upstreams = await Promise.all(
    providers.map(async (provider): Promise<CheckLine> => {
      const started = performance.now();
      const report = await provider.check(AbortSignal.timeout(timeoutMs));
      return { provider: provider.id, origin: provider.origin, ms: Math.round(performance.now() - started), report };
    }),
  );
  const router = createRouter(providers, config.file.routing);
  const models: Record<string, ProviderId[]> = {};
  for (const entry of MODEL_CATALOG) {
    try {
      models[entry.id] = router.routesFor(entry.id).map((route) => route.provider.id);
    } catch {
      models[entry.id] = [];
    }
  }
  return { ok: upstreams.length > 0 && upstreams.every((line) => line.report.ok), upstreams, models };
}

/** The human-readable report. */
export function formatCheck(result: CheckResult): string {
  const width = Math.max(...result.upstreams.map((line) => line.origin.length), 10);
  const lines = [
    "Upstreams (each got a request it must refuse for a parameter after accepting the credentials; no image was generated):",
    ...result.upstreams.map((line) => {
      const state = line.report.ok ? "OK    " : !line.report.reachable ? "DOWN  " : line.report.credentials === "rejected" ? "DENIED" : "FAILED";
      return `  ${line.provider.padEnd(6)}  ${line.origin.padEnd(width)}  ${state}  ${line.report.detail} (${line.ms} ms)`;
    }),
    "",
    "Models and the providers that serve them, in order:",
    ...Object.entries(result.models).map(([model, providers]) => `  ${model.padEnd(32)}  ${providers.length ? providers.join(" → ") : "none (503 until a provider is configured)"}`),
    "",
    result.ok ? "All configured upstreams are usable." : "Some upstreams are not usable; see above.",
  ];
  return `${lines.join("\n")}\n`;
}
