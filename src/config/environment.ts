/** The environment, parsed once into a frozen, typed Config. Every variable is documented in the README. */
import { hostname } from "node:os";
import { resolve } from "node:path";
import { ConfigFileError, DEFAULT_FILE_CONFIG, loadConfigFile, type FileConfig } from "./file.js";
import { isTimeZone } from "../accounts/clock.js";
import { parseStorageUrl } from "../storage/s3.js";
import type { SqliteSynchronous } from "../stores/sql/sqlite.js";
import type { AccountLimits, ProviderId } from "../providers/types.js";

/** An upstream account of GATEWAY_CONFIG `upstreams:`, with its secrets. */
export interface UpstreamAccount {
  id: string;
  protocol: ProviderId;
  baseUrl: string;
  /** ark and 302ai. */
  apiKey?: string;
  /** visual. */
  accessKeyId?: string;
  secretAccessKey?: string;
  models: string[] | undefined;
  modelIds: Record<string, string>;
  weight: number;
  priority: number;
  limits: AccountLimits | undefined;
}

const DEFAULT_BASE_URLS: Record<ProviderId, string> = {
  ark: "https://ark.cn-beijing.volces.com/api/v3", visual: "https://visual.volcengineapi.com", "302ai": "https://api.302.ai",
};

export interface Config {
  /** `HOST`, default 127.0.0.1. */
  host: string;
  /** `PORT`, default 8302. */
  port: number;
  /**
   * `LISTEN_BACKLOG`: connections the kernel holds for the gateway to accept (it caps this at net.core.somaxconn);
   * default 4096. Node's own 511 overflows when thousands of clients connect at once: the kernel drops their SYNs,
   * and each dropped one waits 1 s, 3 s, 7 s… for its retry.
   */
  listenBacklog: number;
  /** `PUBLIC_BASE_URL`: the origin clients reach; default http://HOST:PORT (localhost for 0.0.0.0). */
  publicBaseUrl: string;
  /** Whether `PUBLIC_BASE_URL` was set (the banner warns when it was not and HOST listens on every address). */
  publicBaseUrlSet: boolean;
  /** `DATA_DIR`, default ./data: SQLite database and stored results. */
  dataDir: string;
  /** `FILE_TTL_HOURS`, default 24; a fraction is allowed down to one minute (0.25 = 15 minutes). */
  fileTtlHours: number;
  /** Where results are stored: `DATA_DIR/files` (default), or `STORAGE_URL=s3://bucket/prefix` with the S3_* variables. */
  storage: { kind: "fs" } | { kind: "s3"; bucket: string; prefix: string; endpoint: string | undefined; region: string; forcePathStyle: boolean; credentials: { accessKeyId: string; secretAccessKey: string } | undefined };
  /**
   * `INSTANCE_ID`: this gateway among those sharing a database; default `<hostname>:<PORT>` (or `<hostname>:<DATA_DIR>`
   * with PORT=0). A restart with the same id recovers its previous run's unfinished work at once; another live
   * instance's is left alone.
   */
  instanceId: string;
  /** `DATABASE_URL` (postgres://…): keys, ledger, tasks and idempotency in PostgreSQL, shared by every gateway; SQLite under DATA_DIR when absent. */
  databaseUrl: string | undefined;
  /** `DATABASE_POOL_MAX`: connections per gateway to PostgreSQL; default 10. */
  databasePoolMax: number;
  /**
   * `DATABASE_CONNECT_TIMEOUT_MS` (3000), `DATABASE_STATEMENT_TIMEOUT_MS` (5000), `DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS`
   * (10000): how long a gateway waits on PostgreSQL before it answers 503 DatabaseUnavailable (stores/sql/postgres.ts).
   */
  databaseTimeouts: { connectMs: number; statementMs: number; idleInTransactionMs: number };
  /** `REDIS_CONNECT_TIMEOUT_MS` (2000), `REDIS_COMMAND_TIMEOUT_MS` (1000): past these a limited key's request is 503 LimitsUnavailable. */
  redisTimeouts: { connectMs: number; commandMs: number };
  /** `S3_CONNECT_TIMEOUT_MS` (2000), `S3_REQUEST_TIMEOUT_MS` (10000): past these a result write or read is 503 StorageUnavailable. */
  s3Timeouts: { connectMs: number; requestMs: number };
  /** `SQLITE_SYNCHRONOUS`: `normal` (default; synced at checkpoints) or `full` (every commit synced to disk; see stores/sql/sqlite.ts). */
  sqliteSynchronous: SqliteSynchronous;
  /** `TASK_CONCURRENCY`: async tasks this instance runs at once (the rest wait in the shared queue); default 32. */
  taskConcurrency: number;
  /** `KEY_CACHE_MS`: how long an API key read from the database is used from memory (writes by this process clear it at once); 0 reads every time. Default 2000. */
  keyCacheMs: number;
  /** `TASK_POLL_MS`: how often an idle instance looks for queued tasks; default 500. */
  taskPollMs: number;
  /** `REDIS_PREFIX`: the start of every Redis key (gateways sharing a Redis for different purposes); default `doubao-gateway:`. */
  redisPrefix: string;
  /** `INSTANCE_HEARTBEAT_MS`: how often an instance records that it is alive; after 3 missed beats its unfinished work is recovered by another. Default 10000. */
  heartbeatMs: number;
  /** `REDIS_URL`: rate and concurrency limits shared by every gateway; in process memory when absent. */
  redisUrl: string | undefined;
  /**
   * `FILE_SERVING`: how `/files/…` answers — `gateway` (default) sends the bytes; `presigned` (S3 storage only) redirects
   * (302) to a presigned URL of the bucket, valid for at most an hour, so the bytes go from S3 to the client.
   */
  fileServing: "gateway" | "presigned";
  /** `RESULT_HOSTING`: `gateway` (default) stores results; `upstream` passes the upstream's URLs through. */
  resultHosting: "gateway" | "upstream";
  ark: { apiKey: string; baseUrl: string } | undefined;
  visual: { accessKeyId: string; secretAccessKey: string; baseUrl: string } | undefined;
  /**
   * GATEWAY_CONFIG `upstreams:`, enabled ones, their secrets read: accounts beside the one-account shorthand above (an
   * account whose id is `ark`, `visual` or `302ai` takes that shorthand's place). None in emulator mode.
   */
  accounts: UpstreamAccount[];
  /** `API302_KEY`, `API302_BASE_URL` (default https://api.302.ai): the 302.AI relay. */
  api302: { apiKey: string; baseUrl: string } | undefined;
  /** `GATEWAY_CONFIG`: the model table and resilience settings (config/file.ts); defaults without it. */
  file: FileConfig & { path: string | undefined };
  /** Start the in-process emulator and point the adapters at it. */
  emulate: boolean;
  /** `GATEWAY_BOOTSTRAP_KEY`: the first key's value instead of a random one. */
  bootstrapKey: string | undefined;
  /** `GATEWAY_FETCH_ALLOW`: hosts and CIDR ranges the input fetcher may reach although private. */
  fetchAllow: string[];
  /** `BODY_LIMIT_MB`, default 15 (a 10 MB image as base64 in JSON fits). */
  bodyLimitBytes: number;
  /** `USAGE_TIME_ZONE` (IANA), default UTC: daily quotas reset at its midnight, usage days are its days. */
  usageTimeZone: string;
  /** `LOG_LEVEL`, default info. */
  logLevel: string;
  /** `LOG_FORMAT`: `json` (default, one JSON object per line) or `pretty` (pino-pretty, for a human at a terminal). */
  logFormat: "json" | "pretty";
  production: boolean;
}

export class ConfigError extends Error {}

export type Environment = Record<string, string | undefined>;

function integer(environment: Environment, name: string, fallback: number, min: number, max: number): number {
  const raw = environment[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new ConfigError(`${name} must be an integer in [${min}, ${max}]; got "${raw}".`);
  return value;
}

/** A variable that names one of a few words; `fallback` when unset. */
function oneOf<T extends string>(name: string, raw: string | undefined, choices: readonly T[], fallback: T): T {
  if (raw === undefined) return fallback;
  if ((choices as readonly string[]).includes(raw)) return raw as T;
  throw new ConfigError(`${name} must be ${choices.map((choice) => `"${choice}"`).join(" or ")}; got "${raw}".`);
}

function logFormat(raw: string | undefined): "json" | "pretty" {
  if (raw === undefined || raw === "json" || raw === "pretty") return raw ?? "json";
  throw new ConfigError(`LOG_FORMAT must be json or pretty; got "${raw}".`);
}

/** `FILE_SERVING`, checked: presigned URLs need S3 storage. */
function fileServing(raw: string | undefined, storage: "fs" | "s3"): "gateway" | "presigned" {
  const serving = oneOf("FILE_SERVING", raw, ["gateway", "presigned"], "gateway");
  if (serving === "presigned" && storage !== "s3") throw new ConfigError("FILE_SERVING=presigned needs STORAGE_URL=s3://bucket/prefix (files on the local disk have no presigned URLs).");
  return serving;
}

/** `DATABASE_URL`, checked: postgres:// or postgresql://. */
function databaseUrl(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!/^postgres(ql)?:\/\/[^/\s]+/.test(raw)) throw new ConfigError(`DATABASE_URL must be postgres://[user:password@]host:port/database[?schema=NAME]; got "${raw.replace(/\/\/[^@/]*@/, "//…@")}".`);
  return raw;
}

/** `REDIS_URL`, checked: redis:// or rediss://. */
function redisUrl(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!/^rediss?:\/\/[^/\s]+/.test(raw)) throw new ConfigError(`REDIS_URL must be redis://[user:password@]host:port[/db] (or rediss:// for TLS); got "${raw.replace(/\/\/[^@/]*@/, "//…@")}".`);
  return raw;
}

/** Hours, a fraction allowed, from one minute to a year. */
function hours(environment: Environment, name: string, fallback: number): number {
  const raw = environment[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 1 / 60 || value > 24 * 365) {
    throw new ConfigError(`${name} must be a number of hours from 0.0167 (one minute) to 8760 (a year), e.g. 24 or 0.25 for 15 minutes; got "${raw}".`);
  }
  return value;
}

export function loadConfig(environment: Environment = process.env): Config {
  const value = (name: string) => (environment[name]?.trim() ? environment[name]?.trim() : undefined);
  const host = value("HOST") ?? "127.0.0.1";
  const port = integer(environment, "PORT", 8302, 0, 65535);
  const production = value("NODE_ENV") === "production";
  const hosting = oneOf("RESULT_HOSTING", value("RESULT_HOSTING"), ["gateway", "upstream"], "gateway");
  const synchronous = oneOf("SQLITE_SYNCHRONOUS", value("SQLITE_SYNCHRONOUS")?.toLowerCase(), ["full", "normal"], "normal");

  const arkKey = value("ARK_API_KEY");
  const api302Key = value("API302_KEY");
  const accessKeyId = value("VOLC_ACCESSKEY");
  const secretAccessKey = value("VOLC_SECRETKEY");
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) {
    throw new ConfigError("VOLC_ACCESSKEY and VOLC_SECRETKEY must be set together (the Visual API signs with both).");
  }
  const configPath = value("GATEWAY_CONFIG");
  let file: FileConfig = DEFAULT_FILE_CONFIG;
  if (configPath) {
    try {
      file = loadConfigFile(resolve(configPath));
    } catch (error) {
      if (error instanceof ConfigFileError) throw new ConfigError(error.message);
      throw error;
    }
  }
  const forced = value("GATEWAY_EMULATE");
  const enabledAccounts = file.upstreams.filter((account) => account.enabled);
  const credentials = Boolean(arkKey || accessKeyId || api302Key) || enabledAccounts.length > 0;
  const emulate = forced === "1" || forced === "true" || (!production && !credentials && forced !== "0");
  if (!emulate && !credentials) {
    const why = production ? "NODE_ENV=production" : "GATEWAY_EMULATE=0 forbids the built-in emulator";
    throw new ConfigError(
      `${why} and no upstream credentials are set, so no model could be served. Set ARK_API_KEY (Seedream, SeedEdit) and/or ` +
        "VOLC_ACCESSKEY + VOLC_SECRETKEY (general drawing, portrait) and/or API302_KEY (all, through 302.AI); " +
        "or GATEWAY_EMULATE=1 to serve the built-in emulator.",
    );
  }
  // The file's accounts, their secrets read from the variables it names: one that is missing refuses the start.
  const accounts = emulate ? [] : enabledAccounts.map((account): UpstreamAccount => {
    const secret = (field: string, name: string) => {
      const found = value(name);
      if (!found) throw new ConfigError(`GATEWAY_CONFIG: ${account.path}.${field}: ${name} is not set (it is to hold account ${account.id}'s secret).`);
      return found;
    };
    const { env } = account;
    return {
      id: account.id, protocol: account.protocol, baseUrl: account.baseUrl ?? DEFAULT_BASE_URLS[account.protocol], models: account.models, modelIds: account.modelIds,
      weight: account.weight, priority: account.priority, limits: account.limits,
      ...(env.apiKey ? { apiKey: secret("api_key_env", env.apiKey) } : {}),
      ...(env.accessKeyId && env.secretAccessKey ? { accessKeyId: secret("access_key_env", env.accessKeyId), secretAccessKey: secret("secret_key_env", env.secretAccessKey) } : {}),
    };
  });
  const timeZone = value("USAGE_TIME_ZONE") ?? "UTC";
  if (!isTimeZone(timeZone)) throw new ConfigError(`USAGE_TIME_ZONE must be an IANA time zone such as UTC or Asia/Shanghai; got "${timeZone}".`);
  const storageUrl = value("STORAGE_URL");
  let storage: Config["storage"] = { kind: "fs" };
  if (storageUrl) {
    const parsed = parseStorageUrl(storageUrl);
    if (!parsed) throw new ConfigError(`STORAGE_URL must be s3://<bucket>/<prefix> (a bucket name of 3–63 lower-case letters, digits, dots and dashes); got "${storageUrl}".`);
    const accessKeyId = value("S3_ACCESS_KEY_ID");
    const secretAccessKey = value("S3_SECRET_ACCESS_KEY");
    if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) throw new ConfigError("S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together (or neither, for the AWS SDK's own chain: AWS_ACCESS_KEY_ID, roles, …).");
    const endpoint = value("S3_ENDPOINT");
    storage = {
      kind: "s3", ...parsed, endpoint, region: value("S3_REGION") ?? value("AWS_REGION") ?? "us-east-1",
      forcePathStyle: (value("S3_FORCE_PATH_STYLE") ?? (endpoint ? "true" : "false")) === "true",
      credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
    };
  }
  const urlValue = (name: string, fallback: string) => {
    const raw = value(name) ?? fallback;
    try {
      const parsed = new URL(raw);
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error();
      return raw.replace(/\/+$/, "");
    } catch {
      throw new ConfigError(`${name} must be an http(s) URL; got "${raw}".`);
    }
  };
  const visibleHost = host === "0.0.0.0" || host === "::" ? "localhost" : host.includes(":") ? `[${host}]` : host;
  return Object.freeze({
    host,
    port,
    publicBaseUrl: urlValue("PUBLIC_BASE_URL", `http://${visibleHost}:${port}`),
    publicBaseUrlSet: value("PUBLIC_BASE_URL") !== undefined,
    dataDir: resolve(value("DATA_DIR") ?? "./data"),
    fileTtlHours: hours(environment, "FILE_TTL_HOURS", 24),
    resultHosting: hosting,
    fileServing: fileServing(value("FILE_SERVING"), storage.kind),
    storage,
    redisUrl: redisUrl(value("REDIS_URL")),
    databaseUrl: databaseUrl(value("DATABASE_URL")),
    databasePoolMax: integer(environment, "DATABASE_POOL_MAX", 10, 1, 1000),
    databaseTimeouts: {
      connectMs: integer(environment, "DATABASE_CONNECT_TIMEOUT_MS", 3_000, 100, 600_000),
      statementMs: integer(environment, "DATABASE_STATEMENT_TIMEOUT_MS", 5_000, 100, 3_600_000),
      idleInTransactionMs: integer(environment, "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS", 10_000, 100, 3_600_000),
    },
    redisTimeouts: {
      connectMs: integer(environment, "REDIS_CONNECT_TIMEOUT_MS", 2_000, 50, 600_000),
      commandMs: integer(environment, "REDIS_COMMAND_TIMEOUT_MS", 1_000, 50, 600_000),
    },
    s3Timeouts: {
      connectMs: integer(environment, "S3_CONNECT_TIMEOUT_MS", 2_000, 50, 600_000),
      requestMs: integer(environment, "S3_REQUEST_TIMEOUT_MS", 10_000, 100, 3_600_000),
    },
    sqliteSynchronous: synchronous,
    taskConcurrency: integer(environment, "TASK_CONCURRENCY", 32, 1, 10_000),
    taskPollMs: integer(environment, "TASK_POLL_MS", 500, 10, 60_000),
    keyCacheMs: integer(environment, "KEY_CACHE_MS", 2000, 0, 600_000),
    listenBacklog: integer(environment, "LISTEN_BACKLOG", 4096, 1, 65_535),
    redisPrefix: value("REDIS_PREFIX") ?? "doubao-gateway:",
    heartbeatMs: integer(environment, "INSTANCE_HEARTBEAT_MS", 10_000, 100, 600_000),
    instanceId: value("INSTANCE_ID") ?? `${hostname()}:${port === 0 ? resolve(value("DATA_DIR") ?? "./data") : port}`,
    ark: arkKey && !emulate ? { apiKey: arkKey, baseUrl: urlValue("ARK_BASE_URL", "https://ark.cn-beijing.volces.com/api/v3") } : undefined,
    visual:
      accessKeyId && secretAccessKey && !emulate
        ? { accessKeyId, secretAccessKey, baseUrl: urlValue("VOLC_VISUAL_BASE_URL", "https://visual.volcengineapi.com") }
        : undefined,
    api302: api302Key && !emulate ? { apiKey: api302Key, baseUrl: urlValue("API302_BASE_URL", "https://api.302.ai") } : undefined,
    accounts,
    file: { ...file, path: configPath ? resolve(configPath) : undefined },
    emulate,
    bootstrapKey: value("GATEWAY_BOOTSTRAP_KEY"),
    fetchAllow: (value("GATEWAY_FETCH_ALLOW") ?? "").split(",").map((entry) => entry.trim()).filter(Boolean),
    bodyLimitBytes: integer(environment, "BODY_LIMIT_MB", 15, 1, 100) * 1024 * 1024,
    usageTimeZone: timeZone,
    logLevel: value("LOG_LEVEL") ?? "info",
    logFormat: logFormat(value("LOG_FORMAT")),
    production,
  });
}
