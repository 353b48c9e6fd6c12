/**
 * What a model's lifecycle (LIVE-MODELS.md §2.5) means on the wire: the headers of an answer for a
 * deprecated or retired model, and the 410 for a retired one that nothing replaces.
 */
import { GatewayError, ErrCode } from "../errors/errors.js";
import type { ModelTable } from "./table.js";
import type { ModelEntry } from "./types.js";

const dayMs = (date: string) => Date.parse(`${date}T00:00:00Z`);

/**
 * `Deprecation` (RFC 9745, `@<unix seconds>`), `Sunset` (RFC 8594, an HTTP-date), `Link` to the successor
 * (`rel="successor-version"`), and `x-gateway-model-lifecycle`; nothing for a live model.
 */
export function lifecycleHeaders(entry: ModelEntry, models: ModelTable): Record<string, string> {
  const { lifecycle } = entry;
  if (lifecycle.state === "live") return {};
  const headers: Record<string, string> = { "x-gateway-model-lifecycle": lifecycle.state };
  const deprecatedAt = lifecycle.deprecated_at ?? (lifecycle.state === "retired" ? lifecycle.sunset : undefined);
  if (deprecatedAt) headers.deprecation = `@${Math.floor(dayMs(deprecatedAt) / 1000)}`;
  if (lifecycle.sunset) headers.sunset = new Date(dayMs(lifecycle.sunset)).toUTCString();
  const successor = models.successor(entry);
  if (successor) headers.link = `</v1/models/${encodeURIComponent(successor)}>; rel="successor-version"`;
  return headers;
}

/** 410 for a retired model with no replacement configured, naming one to use. */
export function modelRetired(entry: ModelEntry, successor: string | undefined): GatewayError {
  const since = entry.lifecycle.sunset ? ` on ${entry.lifecycle.sunset}` : "";
  const use = successor ? `; use ${successor} instead` : "";
  return new GatewayError({
    status: 410, code: "ModelRetired", param: "model", type: "invalid_request_error", errCode: ErrCode.invalidRequest,
    message: `The model ${entry.id} was retired upstream${since} and this gateway has no replacement configured for it${use}.`,
    messageCn: `模型 ${entry.id} 已于上游下线${since ? `（${entry.lifecycle.sunset}）` : ""}，网关未配置替代模型${successor ? `，请改用 ${successor}` : ""}。`,
  });
}
