/**
 * `doubao-gateway keys …` and `doubao-gateway usage`: the same operations as `/admin/keys` and
 * `/admin/usage` (accounts/key-admin.ts), on the database under DATA_DIR. Results go to stdout (a new
 * key's secret alone, unless --json); explanations and errors to stderr.
 */
import { Accounts } from "../accounts/accounts.js";
import type { KeyView, UsageReport } from "@doubao-gateway/sdk";
import { KeyAdmin, usageCsv, usageReport, type KeySettings } from "../accounts/key-admin.js";
import { loadConfig } from "../config/environment.js";
import { GatewayError } from "../errors/errors.js";
import { openMigrated } from "../stores/database.js";
import { createFsStorage } from "../storage/fs.js";
import { createKeyStore } from "../stores/keys.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseFlags, UsageError } from "./usage.js";

export const KEYS_HELP = `doubao-gateway keys — manage API keys (the same as the /admin/keys API)

  keys create --name NAME [limits] [--json]   Create a key; prints the secret (only shown once) on stdout
  keys list [--json]                          All keys, with status, limits and usage
  keys show ID [--json]                       One key (ID: its id, or a unique start of its id or prefix)
  keys update ID [limits] [--json]            Change a key's name, role or limits
  keys disable ID | keys enable ID            Refuse the key (401) / accept it again; effective at once
  keys delete ID                              Remove the key; its usage records stay

Limits (each accepts "none" to remove it):
  --role user|admin        admin keys may use /admin/* (default user)
  --expires WHEN           ISO 8601 date-time, or 30d / 12h from now
  --models A,B             allowed model ids (default: all)
  --rpm N                  requests per minute
  --concurrency N          requests at a time
  --daily-images N         images per day (resets at 00:00 USAGE_TIME_ZONE, default UTC)
  --total-images N         images in total
  --daily-spend X          spend per day, in the price currency (GATEWAY_CONFIG prices; default CNY)
  --total-spend X          spend in total
  --webhook URL            where the key's async tasks are reported when a request names no webhook_url
  --failed-images inline|omit
                           an image the upstream could not make (one refused image of a group): "inline" answers it as
                           an error item at its place, as Ark does (default); "omit" leaves it out of data and lists it
                           in "failed" (and, streamed, in the completed event), so that @ai-sdk/bytedance and
                           Volcengine's Python SDK get the images that were made. A request's X-Gateway-Failed-Images wins
`;

export const USAGE_HELP = `doubao-gateway usage — what was spent (the same as GET /admin/usage)

  usage [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--by key,model,day] [--key ID] [--format table|json|csv]

Days are in USAGE_TIME_ZONE (default UTC); the default range is the 30 days up to today, grouped by key, model
and day. Only charged requests count images and cost; every request counts in "requests".
`;

/** CLI flag → the admin API's field name, so that one schema checks both. */
const FLAG_FIELDS: Readonly<Record<string, keyof KeySettings>> = {
  name: "name", role: "role", expires: "expires_at", models: "allowed_models", rpm: "rpm_limit", concurrency: "concurrency_limit",
  "daily-images": "daily_image_quota", "total-images": "total_image_quota", "daily-spend": "daily_spend_limit", "total-spend": "total_spend_limit",
  webhook: "webhook_url", "failed-images": "failed_images",
};

/** Flags whose value is a word, not a number, and for which "none" means nothing special. */
const TEXT_FLAGS = new Set(["name", "role", "failed-images"]);

const LIMIT_OPTIONS: Record<string, { type: "string" }> = Object.fromEntries(Object.keys(FLAG_FIELDS).map((flag) => [flag, { type: "string" as const }]));

function settingsOf(values: Record<string, string | boolean | undefined>, now: number, command: string): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  for (const [flag, field] of Object.entries(FLAG_FIELDS)) {
    const raw = values[flag];
    if (typeof raw !== "string") continue;
    if (raw === "none" && !TEXT_FLAGS.has(flag)) settings[field] = null;
    else if (flag === "models") settings[field] = raw === "all" ? null : raw.split(",").map((model) => model.trim()).filter(Boolean);
    else if (flag === "expires") {
      const relative = /^(\d+)([dh])$/.exec(raw);
      if (!relative && Number.isNaN(Date.parse(raw))) {
        throw new UsageError(`--expires must be an ISO 8601 date-time such as 2027-01-01T00:00:00Z, a time from now such as 30d or 12h, or "none"; got "${raw}".`, command);
      }
      settings[field] = relative ? new Date(now + Number(relative[1]) * (relative[2] === "d" ? 86_400_000 : 3_600_000)).toISOString() : raw;
    } else if (TEXT_FLAGS.has(flag) || flag === "webhook") settings[field] = raw;
    else settings[field] = raw.trim() === "" ? Number.NaN : Number(raw);
  }
  return settings;
}

/** A validation error in terms of the flags the user typed. */
function inFlags(error: GatewayError): string {
  let message = error.message;
  for (const [flag, field] of Object.entries(FLAG_FIELDS)) message = message.replace(new RegExp(`\`${field}(\\.\\d+)?\``, "g"), `--${flag}`);
  return message.replaceAll("or null for", 'or "none" for').replaceAll(", or null", ', or "none"');
}

async function openAccounts() {
  // Only the database, prices and the time zone matter here: no upstream is needed to manage keys.
  const config = loadConfig({ ...process.env, GATEWAY_EMULATE: "1" });
  // Run from another folder, ./data is another database: say so rather than silently start an empty one.
  if (!config.databaseUrl && !existsSync(join(config.dataDir, "gateway.db"))) {
    process.stderr.write(`Note: no database at ${join(config.dataDir, "gateway.db")}; creating a new, empty one. Set DATA_DIR (or DATABASE_URL) to use the gateway's.\n`);
  }
  const database = await openMigrated({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, sqliteSynchronous: config.sqliteSynchronous });
  const keys = createKeyStore(database);
  const accounts = new Accounts(database, keys, createFsStorage(join(config.dataDir, "files")), { prices: config.file.prices, timeZone: config.usageTimeZone });
  return { admin: new KeyAdmin(keys, accounts), accounts, close: () => database.close() };
}

const limit = (value: number | null, unit = "") => (value === null ? "-" : `${value}${unit}`);

function keyLines(views: KeyView[]): string {
  const rows = views.map((view) => [
    view.id.slice(0, 8), view.prefix, view.name, view.role, view.status,
    view.expires_at ?? "-", view.allowed_models?.join(",") ?? "all", limit(view.rpm_limit), limit(view.concurrency_limit),
    `${limit(view.daily_image_quota)}/${limit(view.total_image_quota)}`, `${limit(view.daily_spend_limit)}/${limit(view.total_spend_limit)}`,
    `${view.usage.images_today}/${view.usage.images_total}`, `${view.usage.spend_today}/${view.usage.spend_total} ${view.currency}`,
  ]);
  return table(["id", "prefix", "name", "role", "status", "expires", "models", "rpm", "concurrent", "images day/total", "spend day/total", "used day/total", "spent day/total"], rows);
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, index) => Math.max(title.length, ...rows.map((row) => (row[index] ?? "").length)));
  const line = (cells: string[]) => cells.map((cell, index) => cell.padEnd(widths[index] as number)).join("  ").trimEnd();
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}

function usageTable(report: UsageReport): string {
  const dims = report.group_by.flatMap((dimension) => (dimension === "key" ? ["key_name", "key_id"] : [dimension]));
  const rows = report.data.map((row) => [...dims.map((dimension) => String((row as unknown as Record<string, unknown>)[dimension] ?? "")), String(row.requests), String(row.charged_requests), String(row.images), String(row.output_tokens), String(row.cost)]);
  const totals = report.totals;
  rows.push([...dims.map((_, index) => (index === 0 ? "total" : "")), String(totals.requests), String(totals.charged_requests), String(totals.images), String(totals.output_tokens), String(totals.cost)]);
  return `Usage ${report.since} … ${report.until} (${report.currency})\n${table([...dims, "requests", "charged", "images", "output_tokens", "cost"], rows)}`;
}

export async function keysCommand(args: string[]): Promise<number> {
  const [first, ...others] = args;
  const [action, rest] = first === "--help" || first === "-h" ? ["help", others] : [first, others];
  const parsed = parseFlags(`keys ${action ?? ""}`.trim(), rest, { ...LIMIT_OPTIONS, json: { type: "boolean" }, help: { type: "boolean", short: "h" } });
  const values = parsed.values as Record<string, string | boolean | undefined> & { json?: boolean; help?: boolean; name?: string };
  const { positionals } = parsed;
  if (!action || values.help || action === "help") {
    process.stdout.write(KEYS_HELP);
    return action || values.help ? 0 : 2;
  }
  const needsId = ["show", "update", "disable", "enable", "delete"].includes(action);
  if (!["create", "list"].includes(action) && !needsId) {
    process.stderr.write(`Unknown keys action "${action}".\n\n${KEYS_HELP}`);
    return 2;
  }
  const id = positionals[0];
  if (needsId && !id) {
    process.stderr.write(`Usage: doubao-gateway keys ${action} ID\n(ID: the key's id, or a unique start of its id or of its prefix; see: doubao-gateway keys list)\n`);
    return 2;
  }
  if (action === "create" && !values.name?.trim()) {
    process.stderr.write("Usage: doubao-gateway keys create --name NAME [limits]\nPrints the new key on stdout; it is stored hashed and cannot be shown again. See --help for limits.\n");
    return 2;
  }
  const { admin, close } = await openAccounts();
  const print = (view: KeyView) => process.stdout.write(values.json ? `${JSON.stringify(view, null, 2)}\n` : keyLines([view]));
  try {
    const settings = settingsOf(values, Date.now(), `keys ${action}`);
    switch (action) {
      case "create": {
        const created = await admin.create(settings);
        if (values.json) process.stdout.write(`${JSON.stringify(created, null, 2)}\n`);
        else {
          process.stderr.write(`Created key ${created.key.id} (${created.key.name}, ${created.key.role}). The secret below is shown only now:\n`);
          process.stdout.write(`${created.secret}\n`);
        }
        return 0;
      }
      case "list": {
        const views = await admin.list();
        process.stdout.write(values.json ? `${JSON.stringify(views, null, 2)}\n` : keyLines(views));
        return 0;
      }
      case "show":
        print(await admin.show(id as string));
        return 0;
      case "update":
        if (Object.keys(settings).length === 0) {
          process.stderr.write("Nothing to update: give at least one of --name, --role, --expires, --models, --rpm, --concurrency, --daily-images, --total-images, --daily-spend, --total-spend.\n");
          return 2;
        }
        print(await admin.update(id as string, settings));
        return 0;
      case "disable":
      case "enable":
        print(await admin.setDisabled(id as string, action === "disable"));
        return 0;
      default: {
        const deleted = await admin.delete(id as string);
        process.stderr.write(`Deleted key ${deleted.id}; its usage records stay.\n`);
        return 0;
      }
    }
  } catch (error) {
    if (!(error instanceof GatewayError)) throw error;
    process.stderr.write(`doubao-gateway keys ${action}: ${inFlags(error)}\n`);
    return error.status === 404 || error.status === 409 ? 1 : 2;
  } finally {
    await close();
  }
}

export async function usageCommand(args: string[]): Promise<number> {
  const { values } = parseFlags("usage", args, { since: { type: "string" }, until: { type: "string" }, by: { type: "string" }, key: { type: "string" }, format: { type: "string", default: "table" }, help: { type: "boolean", short: "h" } }, false);
  if (values.help) {
    process.stdout.write(USAGE_HELP);
    return 0;
  }
  if (!["table", "json", "csv"].includes(values.format)) {
    process.stderr.write(`--format must be table, json or csv; got "${values.format}".\n`);
    return 2;
  }
  const { admin, accounts, close } = await openAccounts();
  try {
    const keyId = values.key ? (await admin.find(values.key)).id : undefined;
    const query = { ...(values.since ? { since: values.since } : {}), ...(values.until ? { until: values.until } : {}), ...(values.by ? { group_by: values.by } : {}) };
    const report = await usageReport(accounts, query, { by: ["key", "model", "day"], ...(keyId ? { keyId } : {}) });
    process.stdout.write(values.format === "json" ? `${JSON.stringify(report, null, 2)}\n` : values.format === "csv" ? usageCsv(report) : usageTable(report));
    return 0;
  } catch (error) {
    if (!(error instanceof GatewayError)) throw error;
    process.stderr.write(`doubao-gateway usage: ${error.message.replaceAll("`group_by`", "--by")}\n`);
    return error.status === 404 || error.status === 409 ? 1 : 2;
  } finally {
    await close();
  }
}
