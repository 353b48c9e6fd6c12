/**
 * `doubao-gateway check`: for each configured upstream, whether it is reachable and accepts the
 * credentials — without generating a paid image. Each provider sends a request the upstream must refuse
 * for a parameter only after it has authenticated it (providers/http.ts `runCheck`).
 */
import type { Config } from "../config/environment.js";
import { KIND_FAMILY } from "../models/types.js";
import { createRouter } from "../providers/registry.js";
import type { CheckReport, ModelProbe } from "../providers/types.js";
import { upstreamProviders } from "../server/runtime.js";

export interface CheckLine {
  /** The account's id (the protocol's name for the one-account shorthand). */
  provider: string;
  origin: string;
  ms: number;
  report: CheckReport;
}

export interface CheckResult {
  ok: boolean;
  upstreams: CheckLine[];
  /** Public model id → the providers that would serve it, in order. */
  models: Record<string, string[]>;
  /** Model id → what each account that can say (Ark, 302.AI) answered to the no-cost probe (LIVE-MODELS.md §1.6). */
  probes: Record<string, Record<string, ModelProbe>>;
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
  const router = createRouter(providers, config.file.routing, config.file.models);
  const models: Record<string, string[]> = {};
  const probes: CheckResult["probes"] = {};
  const reachable = new Set(upstreams.filter((line) => line.report.reachable && line.report.credentials === "accepted").map((line) => line.provider));
  await Promise.all(config.file.models.entries.map(async (entry) => {
    models[entry.id] = router.configured(entry.id) ? router.routesFor(entry.id).map((route) => route.provider.id) : [];
    if (KIND_FAMILY[entry.kind] !== "ark") return;
    const results: Record<string, ModelProbe> = {};
    for (const provider of providers) {
      if (!provider.probeModel || !reachable.has(provider.id) || (provider.models && !provider.models.has(entry.id))) continue;
      results[provider.id] = await provider.probeModel(entry.id, AbortSignal.timeout(timeoutMs)).catch((error: Error) => ({ state: "unknown" as const, detail: error.message }));
    }
    probes[entry.id] = results;
  }));
  return { ok: upstreams.length > 0 && upstreams.every((line) => line.report.ok), upstreams, models, probes };
}

const PROBE_WORDS: Record<ModelProbe["state"], string> = { live: "live", "not-activated": "not activated", retired: "retired", unknown: "unknown" };

/** The human-readable report. */
export function formatCheck(result: CheckResult): string {
  const width = Math.max(...result.upstreams.map((line) => line.origin.length), 10);
  // Account ids as wide as the longest (the shorthand's are 6 at most).
  const idWidth = Math.max(...result.upstreams.map((line) => line.provider.length), 6);
  const lines = [
    "Upstreams (each got a request it must refuse for a parameter after accepting the credentials; no image was generated):",
    ...result.upstreams.map((line) => {
      const state = line.report.ok ? "OK    " : !line.report.reachable ? "DOWN  " : line.report.credentials === "rejected" ? "DENIED" : "FAILED";
      return `  ${line.provider.padEnd(idWidth)}  ${line.origin.padEnd(width)}  ${state}  ${line.report.detail} (${line.ms} ms)`;
    }),
    "",
    "Models and the providers that serve them, in order:",
    ...Object.entries(result.models).map(([model, providers]) => `  ${model.padEnd(32)}  ${providers.length ? providers.join(" → ") : "none (503 until a provider is configured)"}`),
    "",
    ...probeTable(result),
    result.ok ? "All configured upstreams are usable." : "Some upstreams are not usable; see above.",
  ];
  return `${lines.join("\n")}\n`;
}

/** The per-model, per-provider table of probe answers, with the table's own lifecycle beside it. */
function probeTable(result: CheckResult): string[] {
  const providers = [...new Set(Object.values(result.probes).flatMap((probes) => Object.keys(probes)))];
  if (providers.length === 0) return [];
  const width = Math.max(...Object.keys(result.probes).map((id) => id.length));
  const lines = [
    "Image models, probed at no cost (a 1x1 request: refused as a parameter = live, 404 = retired or not activated):",
    `  ${"model".padEnd(width)}  ${providers.map((id) => id.padEnd(14)).join("")}`,
  ];
  for (const [model, probes] of Object.entries(result.probes)) {
    lines.push(`  ${model.padEnd(width)}  ${providers.map((id) => {
      const probe = probes[id];
      return (probe ? PROBE_WORDS[probe.state] : "-").padEnd(14);
    }).join("")}`.trimEnd());
  }
  lines.push("  A model the upstream calls retired can be marked so in GATEWAY_CONFIG (models.<id>.lifecycle) with a replacement.", "");
  return lines;
}
