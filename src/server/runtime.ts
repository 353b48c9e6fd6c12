/**
 * Builds the whole gateway from a Config: stores, storage, providers (pointed at the in-process emulator
 * in embedded mode — the same adapters as production), the app, and the result sweeper.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { FastifyInstance, FastifyServerOptions } from "fastify";
import { buildApp } from "./app.js";
import { loadConfig, type Config, type Environment } from "../config/environment.js";
import type { Emulator } from "../emulator/server.js";
import { AllowList } from "../images/address-policy.js";
import type { FetchPolicy } from "../images/fetch-input.js";
import { createArkProvider } from "../providers/ark/ark-provider.js";
import { Resilience, systemClock, type Clock } from "../pipeline/resilience.js";
import { redisBreakerSync } from "../pipeline/redis-breakers.js";
import { createRouter, swappableRouter } from "../providers/registry.js";
import { createRelay302Provider } from "../providers/relay302/relay302-provider.js";
import { registerSecrets } from "../providers/upstream-error.js";
import type { Provider } from "../providers/types.js";
import { createVisualProvider } from "../providers/visual/visual-provider.js";
import { createFsStorage } from "../storage/fs.js";
import { createS3Storage } from "../storage/s3.js";
import type { BlobStorage } from "../storage/types.js";
import { cachedKeyStore, createKeyStore, type KeyStore } from "../stores/keys.js";
import { Accounts } from "../accounts/accounts.js";
import { createMetrics } from "./metrics.js";
import { createInstanceRegistry } from "../stores/instances.js";
import { redisLimits } from "../accounts/redis-limits.js";
import { interruptedResult } from "../routes/async.js";
import { createTaskStore, type TaskStore } from "../tasks/tasks.js";
import { createWebhookSender } from "../tasks/webhooks.js";
import { createWebhookOutbox } from "../tasks/outbox.js";
import { createDurableWrites } from "../stores/durable.js";
import { createUpstreamSwitches } from "../stores/upstream-switches.js";
import type { LastFailures } from "../routes/upstreams.js";
import { createIdempotencyStore } from "../stores/idempotency.js";
import { IDEMPOTENCY_WINDOW_MS } from "../routes/idempotency.js";
import { openMigrated } from "../stores/database.js";
import type { SqlDatabase } from "../stores/sql/types.js";

/** How often a gateway reads which upstream accounts are switched off (`/admin/upstreams`). */
const SWITCHES_MS = 2_000;

/** After how many missed heartbeats an instance's unfinished work is recovered by another. */
const MISSED_BEATS = 3;

export interface Gateway {
  app: FastifyInstance;
  keys: KeyStore;
  accounts: Accounts;
  tasks: TaskStore;
  /** Retries, breakers and fallback (breaker state shared through Redis when REDIS_URL is set). */
  resilience: Resilience;
  /** Where keys, ledger and tasks live (SQLite or PostgreSQL). */
  database: SqlDatabase;
  /** What start-up recovery found of requests a previous process left half-done. */
  recovered: { requests: number; files: number };
  emulator: Emulator | undefined;
  /** The first key, when this start created it (shown once). */
  bootstrapSecret: string | undefined;
  sweep(): Promise<number>;
  /**
   * Reads GATEWAY_CONFIG (and the variables its accounts name) again and, only when all of it is valid, serves by it:
   * accounts, routes, the model table, retry and breaker settings, prices. A ConfigError leaves the running
   * configuration as it was. Requests in flight finish on the routes they were given.
   */
  reload(environment?: Environment): { path: string | undefined; accounts: string[]; models: number };
  close(): Promise<void>;
}

export interface GatewayOptions {
  logger?: FastifyServerOptions["logger"];
  /** Overrides for tests: resolver and dialer of the input fetcher. */
  fetchPolicy?: Partial<FetchPolicy>;
  now?: () => number;
  /** Time of the retry and breaker logic (and of Visual's signatures); tests inject one to check delays without sleeping. */
  clock?: Clock;
  /** Jitter source in [0, 1). */
  random?: () => number;
  /** Comment interval of streamed answers; default 15 000 ms. */
  streamKeepAliveMs?: number;
  /** Delays between webhook tries (tests shorten them); default 1 s, 5 s, 30 s, 2 min, 10 min. */
  webhookDelaysMs?: readonly number[];
  /** Prefix of the Redis keys (tests isolate their runs); default REDIS_PREFIX. */
  redisPrefix?: string;
  /** Also export the process's CPU, memory and event-loop metrics (npm start does; tests need not). */
  processMetrics?: boolean;
  /** Models the embedded emulator answers as retired (tests of the lifecycle path). */
  emulatorRetiredModels?: readonly string[];
}

/** The providers the credentials in the config enable (none in emulator mode), direct Volcengine first. */
export function upstreamProviders(config: Config, signingNow?: () => Date): Provider[] {
  const providers: Provider[] = [];
  // The one-account shorthand of the environment, unless an account of GATEWAY_CONFIG takes its id.
  const taken = new Set(config.accounts.map((account) => account.id));
  if (config.ark && !taken.has("ark")) providers.push(createArkProvider(config.ark));
  if (config.visual && !taken.has("visual")) providers.push(createVisualProvider({ ...config.visual, ...(signingNow ? { now: signingNow } : {}) }));
  if (config.api302 && !taken.has("302ai")) providers.push(createRelay302Provider(config.api302));
  for (const account of config.accounts) {
    const placed = { id: account.id, weight: account.weight, priority: account.priority, ...(account.models ? { models: account.models } : {}), ...(account.limits ? { limits: account.limits } : {}) };
    if (account.protocol === "ark") providers.push(createArkProvider({ ...placed, apiKey: account.apiKey as string, baseUrl: account.baseUrl, modelIds: account.modelIds }));
    else if (account.protocol === "visual") {
      providers.push(createVisualProvider({
        ...placed, accessKeyId: account.accessKeyId as string, secretAccessKey: account.secretAccessKey as string, baseUrl: account.baseUrl, ...(signingNow ? { now: signingNow } : {}),
      }));
    } else providers.push(createRelay302Provider({ ...placed, apiKey: account.apiKey as string, baseUrl: account.baseUrl }));
  }
  return providers;
}

/** Every upstream secret of a configuration: redacted from whatever an upstream answers. */
function upstreamSecrets(config: Config): Array<string | undefined> {
  return [
    config.ark?.apiKey, config.visual?.accessKeyId, config.visual?.secretAccessKey, config.api302?.apiKey,
    ...config.accounts.flatMap((account) => [account.apiKey, account.accessKeyId, account.secretAccessKey]),
  ];
}

export async function createGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  const database = await openMigrated({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, poolMax: config.databasePoolMax, timeouts: config.databaseTimeouts, sqliteSynchronous: config.sqliteSynchronous });
  const keys = cachedKeyStore(createKeyStore(database), { ttlMs: config.keyCacheMs });
  let bootstrapSecret: string | undefined;
  if (config.bootstrapKey && !(await keys.findBySecret(config.bootstrapKey))) {
    await keys.create({ name: "bootstrap", secret: config.bootstrapKey, role: "admin" });
  } else if (!config.bootstrapKey && (await keys.count()) === 0) {
    bootstrapSecret = (await keys.create({ name: "default", role: "admin" })).secret;
  }

  // The configured credentials are redacted from every upstream message, whatever their shape.
  registerSecrets([
    ...upstreamSecrets(config),
    config.storage.kind === "s3" ? config.storage.credentials?.secretAccessKey : undefined,
    config.redisUrl ? decodeURIComponent(new URL(config.redisUrl).password) : undefined,
    config.databaseUrl ? decodeURIComponent(new URL(config.databaseUrl).password) : undefined,
  ]);
  const clock = options.clock ?? systemClock;
  const signingNow = () => new Date(clock.now());
  const providers: Provider[] = [];
  let emulator: Emulator | undefined;
  if (config.emulate) {
    // The emulator plays all three upstreams, so the default model table (direct first, 302.AI after) is the production one.
    const credentials = {
      arkApiKey: randomBytes(24).toString("hex"),
      accessKeyId: `AKEMU${randomBytes(12).toString("hex")}`,
      secretAccessKey: randomBytes(30).toString("base64"),
      api302Key: `sk-emu-${randomBytes(16).toString("hex")}`,
    };
    registerSecrets(Object.values(credentials));
    // Loaded only in emulator mode: a gateway with real upstreams never pays for it.
    const { createEmulator } = await import("../emulator/server.js");
    emulator = createEmulator({ ...credentials, ...(options.emulatorRetiredModels ? { retiredModels: options.emulatorRetiredModels } : {}) });
    const base = await emulator.listen(0, "127.0.0.1");
    providers.push(createArkProvider({ apiKey: credentials.arkApiKey, baseUrl: `${base}/api/v3`, label: "emulator" }));
    providers.push(createVisualProvider({ accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, baseUrl: base, label: "emulator", now: signingNow }));
    providers.push(createRelay302Provider({ apiKey: credentials.api302Key, baseUrl: base, label: "emulator-302ai" }));
  } else {
    providers.push(...upstreamProviders(config, signingNow));
  }
  const metrics = createMetrics({ processMetrics: options.processMetrics ?? false });
  const redisPrefix = options.redisPrefix ?? config.redisPrefix;
  const breakerSync = config.redisUrl ? await redisBreakerSync({ url: config.redisUrl, prefix: redisPrefix, timeouts: config.redisTimeouts }) : undefined;
  // Keys' and accounts' rate and concurrency counters: shared through Redis, or this process's.
  const limits = config.redisUrl ? await redisLimits({ url: config.redisUrl, prefix: redisPrefix, timeouts: config.redisTimeouts }) : undefined;
  const lastFailures: LastFailures = new Map();
  const resilience = new Resilience({
    policy: config.file.policy, clock, ...(options.random ? { random: options.random } : {}), ...(breakerSync ? { sync: breakerSync } : {}),
    ...(limits ? { accountLimits: limits } : {}),
    observer: ({ provider, outcome, code }) => {
      metrics.upstreamAttempts.inc({ provider, outcome, code: code ?? "" });
      // The account's own failures, not a request's (a content refusal says nothing about the account).
      if (outcome !== "ok" && outcome !== "request") lastFailures.set(provider, { outcome, code, at: Date.now() });
    },
  });

  const storage: BlobStorage =
    config.storage.kind === "s3"
      ? await createS3Storage({
          bucket: config.storage.bucket, prefix: config.storage.prefix, region: config.storage.region, forcePathStyle: config.storage.forcePathStyle, timeouts: config.s3Timeouts,
          ...(config.storage.endpoint ? { endpoint: config.storage.endpoint } : {}), ...(config.storage.credentials ? { credentials: config.storage.credentials } : {}),
        })
      : createFsStorage(join(config.dataDir, "files"));
  const now = options.now ?? Date.now;
  const startedAt = now();
  const staleMs = MISSED_BEATS * config.heartbeatMs;
  const instances = await createInstanceRegistry(database, config.instanceId, { staleMs, startedAt });
  // Since when this gateway has reached the database without a break (undefined while it cannot). A neighbour's silence
  // proves it dead only when this gateway could have heard it for the whole window: after an outage every gateway's
  // heartbeat is old, and taking a live neighbour for dead would undo the requests it is about to answer.
  // A gateway that starts has just reached the database, and judges neighbours by their heartbeats at once (as before
  // any outage); only an outage it lived through makes it wait.
  let reachableSince: number | undefined = startedAt - staleMs;
  // One read per instance per recovery pass (a pass may list thousands of rows of a few instances); a fresh memo for
  // each pass, made before it lists its rows, so every read still comes after the listing.
  const alive = () => {
    const seen = new Map<string | null, Promise<boolean>>();
    const heardLongEnough = reachableSince !== undefined && now() - reachableSince >= staleMs;
    return (instanceId: string | null) => {
      if (!heardLongEnough && instanceId !== null) return Promise.resolve(true);
      let known = seen.get(instanceId);
      if (!known) seen.set(instanceId, (known = instances.alive(instanceId, now())));
      return known;
    };
  };
  // Settles, releases and task writes that find the database away wait here, on disk, until it is back.
  // The app's logger, once the app is built (the journal and the accounts are made before it).
  const logs: { to?: FastifyInstance["log"] } = {};
  const durable = createDurableWrites({
    file: join(config.dataDir, "journal", `${config.instanceId.replace(/[^A-Za-z0-9._-]/g, "_")}.jsonl`),
    log: { warn: (object, message) => logs.to?.warn(object, message), error: (object, message) => logs.to?.error(object, message) },
  });
  const accounts = new Accounts(database, keys, storage, {
    instanceId: config.instanceId, durable,
    ...(limits ? { limits } : {}),
    prices: config.file.prices, timeZone: config.usageTimeZone, ...(options.now ? { now: options.now } : {}),
    onCharged: (model, images) => metrics.imagesCharged.inc({ model }, images),
    log: { warn: (object, message) => logs.to?.warn(object, message) },
  });
  const tasks = createTaskStore(database);
  const idempotency = createIdempotencyStore(database);
  // Claims a dead instance (or this id's previous run) left unanswered run again when retried (recovery settled them uncharged).
  const dropClaims = () => {
    const live = alive();
    return idempotency.dropInterrupted(async (instanceId, createdAt) => (instanceId === config.instanceId ? createdAt >= startedAt : live(instanceId)));
  };
  const recoverTasks = () => tasks.interruptRunning(interruptedResult, now(), alive(), { id: config.instanceId, startedAt });
  const recoverAll = async () => {
    const found = await accounts.recover(alive(), startedAt);
    await recoverTasks();
    await dropClaims();
    return found;
  };
  const fileTtlMs = Math.round(config.fileTtlHours * 3600 * 1000);
  // Accounts switched off at run time, read at start and every SWITCHES_MS: every gateway on the database follows.
  const switches = createUpstreamSwitches(database);
  const router = swappableRouter(createRouter(providers, config.file.routing, config.file.models));
  router.setDisabled(await switches.disabled());
  const switchTimer = setInterval(() => void switches.disabled().then((ids) => router.setDisabled(ids), () => undefined), SWITCHES_MS);
  switchTimer.unref();
  const outbox = createWebhookOutbox(database);
  const fetchPolicy: FetchPolicy = { allow: new AllowList(config.fetchAllow), ...options.fetchPolicy };
  const app = buildApp({
    router,
    upstreams: { switches, lastFailures },
    accounts,
    tasks,
    idempotency,
    instanceId: config.instanceId,
    taskConcurrency: config.taskConcurrency,
    taskPollMs: config.taskPollMs,
    checks: {
      database: () => database.ping(),
      storage: async () => void (await storage.get("19700101/AAAAAAAAAAAAAAAAAAAAAA.jpeg")),
      ...(limits?.ping ? { redis: () => (limits.ping as () => Promise<void>)() } : {}),
    },
    webhooks: {
      sender: createWebhookSender({ policy: fetchPolicy }), outbox,
      ...(options.webhookDelaysMs ? { delaysMs: options.webhookDelaysMs } : {}),
    },
    taskClaimBoundMs: config.databaseTimeouts.statementMs + 2_000,
    resilience,
    storage,
    resultHosting: config.resultHosting,
    publicBaseUrl: config.publicBaseUrl,
    fetchPolicy,
    keys,
    fileTtlMs,
    fileServing: config.fileServing,
    bodyLimitBytes: config.bodyLimitBytes,
    metrics,
    onImages: (provider, images) => metrics.imagesGenerated.inc({ provider }, images),
    ...(options.streamKeepAliveMs !== undefined ? { streamKeepAliveMs: options.streamKeepAliveMs } : {}),
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  logs.to = app.log;
  // What this instance's previous run journalled and could not write (a charge for images it delivered, a task's
  // result) lands first; then what a previous process left half-done is recovered: its files go, its requests are
  // settled uncharged, its async tasks say so.
  await durable.retry();
  durable.start();
  const recovered = await recoverAll();
  // Webhooks this id's previous run was sending when it stopped are due again now, not when their lease ends.
  await outbox.releaseClaims(config.instanceId);
  // The heartbeat, and the recovery of what a neighbour that stopped beating left unfinished — and of this gateway's
  // own rows a lost reply left reserved. A beat that fails marks the database unreachable, so that neighbours are not
  // judged on a silence this gateway could not have heard.
  const heartbeat = setInterval(() => {
    void (async () => {
      try {
        await instances.beat(now());
      } catch (error) {
        reachableSince = undefined;
        throw error;
      }
      reachableSince ??= now();
      await recoverAll();
    })().catch(() => undefined);
  }, config.heartbeatMs);
  heartbeat.unref();
  const sweep = async () => {
    await tasks.sweep(now() - fileTtlMs);
    await outbox.sweep(now() - fileTtlMs);
    await idempotency.sweep(now() - IDEMPOTENCY_WINDOW_MS);
    return storage.sweep(new Date(now() - fileTtlMs));
  };
  const timer = setInterval(() => void sweep().catch(() => undefined), Math.min(fileTtlMs, 10 * 60 * 1000));
  timer.unref();

  return {
    app,
    keys,
    accounts,
    tasks,
    resilience,
    database,
    recovered,
    emulator,
    bootstrapSecret,
    sweep,
    reload(environment = process.env) {
      // Everything is built before anything is replaced: a file that does not load changes nothing.
      const next = loadConfig(environment);
      registerSecrets(upstreamSecrets(next));
      // The emulator's accounts stay what they are; the file's table and settings apply to them.
      const nextProviders = emulator ? providers : upstreamProviders(next, signingNow);
      const nextRouter = createRouter(nextProviders, next.file.routing, next.file.models);
      router.swap(nextRouter);
      resilience.setPolicy(next.file.policy);
      accounts.setPrices(next.file.prices);
      return { path: next.file.path, accounts: nextProviders.map((provider) => provider.id), models: next.file.models.entries.length };
    },
    async close() {
      clearInterval(timer);
      clearInterval(heartbeat);
      clearInterval(switchTimer);
      await durable.close();
      // No new task is claimed; those running here finish (their results kept), as the requests in flight do.
      await app.close();
      await emulator?.close();
      await limits?.close?.();
      await breakerSync?.close?.();
      await instances.leave();
      await database.close();
    },
  };
}
