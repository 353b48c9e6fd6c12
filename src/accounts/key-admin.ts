/**
 * Key management and usage reports, shared by the admin HTTP API (routes/accounts.ts) and the CLI: one
 * schema for a key's settings, one view of a key, one report. Both front ends only translate.
 */
import type { z } from "zod";
import type { KeyView, RecentRequests, UsageReport } from "@doubao-gateway/sdk";
import { keySettingsSchema, recentRequestsQuery, usageQuery } from "@doubao-gateway/sdk/schemas";
import { BUILT_IN_MODELS } from "../models/builtin.js";
import { parseOrThrow } from "../api/validate.js";
import { ErrCode, GatewayError, invalidParameter, invalidRequest } from "../errors/errors.js";
import { keyState, type ApiKeyRecord, type KeyLimits, type KeyRole, type KeyStore } from "../stores/keys.js";
import type { Accounts } from "./accounts.js";
import { dayOf } from "./clock.js";
import type { UsageDimension } from "./ledger.js";
import { fromMicros, toMicros } from "./prices.js";

const MODEL_IDS = BUILT_IN_MODELS.map((entry) => entry.id);

/** A key's settings as the admin API takes them (the CLI's flags are turned into the same object): the SDK's schema, with the gateway's model ids. */
export const keySettings = keySettingsSchema(MODEL_IDS);

export type KeySettings = z.infer<typeof keySettings>;

function limitsOf(settings: KeySettings): Partial<KeyLimits> & { name?: string; role?: KeyRole } {
  const limits: Partial<KeyLimits> & { name?: string; role?: KeyRole } = {};
  if (settings.name !== undefined) limits.name = settings.name;
  if (settings.role !== undefined) limits.role = settings.role;
  if (settings.expires_at !== undefined) limits.expiresAt = settings.expires_at === null ? null : Date.parse(settings.expires_at);
  if (settings.allowed_models !== undefined) limits.allowedModels = settings.allowed_models;
  if (settings.rpm_limit !== undefined) limits.rpm = settings.rpm_limit;
  if (settings.concurrency_limit !== undefined) limits.concurrency = settings.concurrency_limit;
  if (settings.daily_image_quota !== undefined) limits.dailyImages = settings.daily_image_quota;
  if (settings.total_image_quota !== undefined) limits.totalImages = settings.total_image_quota;
  if (settings.daily_spend_limit !== undefined) limits.dailySpendMicros = settings.daily_spend_limit === null ? null : toMicros(settings.daily_spend_limit);
  if (settings.total_spend_limit !== undefined) limits.totalSpendMicros = settings.total_spend_limit === null ? null : toMicros(settings.total_spend_limit);
  if (settings.webhook_url !== undefined) limits.webhookUrl = settings.webhook_url;
  if (settings.failed_images !== undefined) limits.failedImages = settings.failed_images;
  return limits;
}

const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());
const amount = (micros: number | null) => (micros === null ? null : fromMicros(micros));

/** A key as the API and the CLI show it: never its hash, never its secret. */
export async function keyView(record: ApiKeyRecord, accounts: Accounts): Promise<KeyView> {
  const state = keyState(record, accounts.now());
  const spent = await accounts.ledger.spent(record.id, accounts.today());
  return {
    id: record.id,
    name: record.name,
    prefix: record.prefix,
    role: record.role,
    status: state.ok ? "active" : state.reason,
    created_at: iso(record.createdAt),
    disabled_at: iso(record.disabledAt),
    expires_at: iso(record.expiresAt),
    allowed_models: record.allowedModels,
    rpm_limit: record.rpm,
    concurrency_limit: record.concurrency,
    daily_image_quota: record.dailyImages,
    total_image_quota: record.totalImages,
    daily_spend_limit: amount(record.dailySpendMicros),
    total_spend_limit: amount(record.totalSpendMicros),
    webhook_url: record.webhookUrl,
    failed_images: record.failedImages,
    currency: accounts.options.prices.currency,
    usage: { images_today: spent.dailyImages, images_total: spent.totalImages, spend_today: fromMicros(spent.dailyMicros), spend_total: fromMicros(spent.totalMicros) },
  };
}


export class KeyAdmin {
  constructor(private readonly keys: KeyStore, private readonly accounts: Accounts) {}

  async create(body: unknown): Promise<{ key: KeyView; secret: string }> {
    const settings = parseOrThrow(keySettings, body ?? {});
    if (settings.name === undefined) throw invalidParameter("name", "Missing required parameter `name`.", "缺少必填参数 name。", "MissingParameter");
    await this.nameIsFree(settings.name);
    const { record, secret } = await this.keys.create({ ...limitsOf(settings), name: settings.name });
    return { key: await keyView(record, this.accounts), secret };
  }

  async list(): Promise<KeyView[]> {
    return Promise.all((await this.keys.list()).map((record) => keyView(record, this.accounts)));
  }

  async show(reference: string): Promise<KeyView> {
    return keyView(await this.find(reference), this.accounts);
  }

  async update(reference: string, body: unknown): Promise<KeyView> {
    const record = await this.find(reference);
    const settings = parseOrThrow(keySettings, body ?? {});
    if (settings.name !== undefined) await this.nameIsFree(settings.name, record.id);
    return keyView((await this.keys.update(record.id, limitsOf(settings))) as ApiKeyRecord, this.accounts);
  }

  /** Key names are unique, so that a name finds one key: 409 when another key has it. */
  private async nameIsFree(name: string, except?: string): Promise<void> {
    const taken = (await this.keys.matches(name.trim())).find((other) => other.name === name.trim() && other.id !== except);
    if (taken) {
      throw new GatewayError({
        status: 409, code: "Conflict", param: "name", type: "invalid_request_error", errCode: ErrCode.badParameter,
        message: `Another API key is named "${name.trim()}" (id ${taken.id}); key names are unique. Choose another name.`,
        messageCn: `已有名为 "${name.trim()}" 的 API Key（id ${taken.id}），名称必须唯一，请换一个名称。`,
      });
    }
  }

  async setDisabled(reference: string, disabled: boolean): Promise<KeyView> {
    return keyView((await this.keys.setDisabled((await this.find(reference)).id, disabled)) as ApiKeyRecord, this.accounts);
  }

  async delete(reference: string): Promise<{ id: string; deleted: true }> {
    const record = await this.find(reference);
    await this.keys.delete(record.id);
    return { id: record.id, deleted: true };
  }

  async find(reference: string): Promise<ApiKeyRecord> {
    const matches = await this.keys.matches(reference);
    if (matches.length === 1) return matches[0] as ApiKeyRecord;
    const shown = reference.slice(0, 60);
    if (matches.length === 0) throw invalidRequest(404, "NotFound", `No API key has the id, prefix or name "${shown}".`, `不存在 id、前缀或名称为 "${shown}" 的 API Key。`);
    const candidates = matches.map((key) => `${key.id} (${key.name}, ${key.prefix}…)`).join("; ");
    throw new GatewayError({
      status: 409, code: "AmbiguousKey", type: "invalid_request_error", errCode: ErrCode.badParameter,
      message: `"${shown}" matches ${matches.length} API keys: ${candidates}. Use one of their ids.`,
      messageCn: `"${shown}" 匹配 ${matches.length} 个 API Key：${candidates}。请使用其中一个 id。`,
    });
  }
}


export async function usageReport(accounts: Accounts, raw: unknown, defaults: { by: UsageDimension[]; keyId?: string }): Promise<UsageReport> {
  const query = parseOrThrow(usageQuery, raw ?? {});
  const until = query.until ?? accounts.today();
  const since = query.since ?? dayOf(Date.parse(`${until}T12:00:00Z`) - 29 * 86_400_000, "UTC");
  if (since > until) throw invalidParameter("since", `Invalid parameter \`since\`: ${since} is after until (${until}).`);
  const by = (query.group_by?.split(",") as UsageDimension[] | undefined) ?? defaults.by;
  const keyId = defaults.keyId ?? query.key;
  const rows = await accounts.ledger.report({ since, until, by: [...new Set(by)], ...(keyId ? { keyId } : {}) });
  const data = rows.map(({ cost_micros: micros, ...row }) => ({ ...row, cost: fromMicros(micros) }));
  const totals = rows.reduce(
    (sum, row) => ({
      requests: sum.requests + row.requests, charged_requests: sum.charged_requests + row.charged_requests, images: sum.images + row.images,
      output_tokens: sum.output_tokens + row.output_tokens, cost: sum.cost + row.cost_micros,
    }),
    { requests: 0, charged_requests: 0, images: 0, output_tokens: 0, cost: 0 },
  );
  return { object: "usage", since, until, group_by: [...new Set(by)], currency: accounts.options.prices.currency, data, totals: { ...totals, cost: fromMicros(totals.cost) } };
}

/** `GET /admin/requests`: the newest ledger rows (50 unless `limit` says), of one key when `key` names its id. */
export async function recentRequests(accounts: Accounts, raw: unknown): Promise<RecentRequests> {
  const query = parseOrThrow(recentRequestsQuery, raw ?? {});
  const rows = await accounts.ledger.recent(query.limit ?? 50, query.key);
  return {
    object: "list",
    currency: accounts.options.prices.currency,
    data: rows.map(({ cost_micros: micros, created_at: createdAt, ...row }) => ({ ...row, created_at: new Date(createdAt).toISOString(), cost: fromMicros(micros) })),
  };
}

/** The report as CSV: one header line, one line per row (RFC 4180 quoting). */
export function usageCsv(report: UsageReport): string {
  const columns = [...report.group_by.flatMap((dimension) => (dimension === "key" ? ["key_id", "key_name"] : [dimension])), "requests", "charged_requests", "images", "output_tokens", "cost", "currency"];
  const cell = (value: unknown) => {
    const text = String(value ?? "");
    return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const lines = report.data.map((row) => columns.map((column) => cell(column === "currency" ? report.currency : (row as unknown as Record<string, unknown>)[column])).join(","));
  return `${[columns.join(","), ...lines].join("\n")}\n`;
}
