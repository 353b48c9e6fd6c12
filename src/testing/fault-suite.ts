/**
 * The fault suite: two real gateways on the machine's PostgreSQL and Redis — each behind a fault proxy of its own
 * (testing/fault-proxy.ts) — storing in s3rver, all on loopback, under steady load from 8 clients (keys unlimited,
 * limited through Redis, and with a 30-image quota; async tasks with webhooks throughout), while one part fails at a
 * time: PostgreSQL cut, losing replies, blackholed; Redis cut, blackholed; S3 stopped; a gateway SIGKILLed and started
 * again. After each scenario it settles and compares: the ledger's charged images with the images the clients
 * received, per key; every URL handed out; rows still reserved; tasks not finished; gateways that exited.
 * `npm test` runs it with short faults and bounds (faults.test.ts), `npm run faults` with the (scripts/faults.ts).
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createEmulator, type Emulator } from "../emulator/server.js";
import { startFaultProxy, type FaultProxy } from "./fault-proxy.js";
import { spawnGateway, type GatewayProcess } from "./gateways.js";
import { TEST_KEY } from "./harness.js";
import { testPostgres } from "./postgres.js";
import { startTestS3, type TestS3 } from "./s3.js";

export interface FaultSuiteOptions {
  /** How long each fault lasts (ms). */
  durations: { pgCut: number; pgLostReplies: number; pgLatency: number; pgBlackhole: number; redisCut: number; redisBlackhole: number; s3Stopped: number; gatewayDown: number };
  /** The gateways' bounds (DATABASE_*_TIMEOUT_MS, REDIS_*_TIMEOUT_MS, S3_*_TIMEOUT_MS); the defaults when empty. */
  bounds: Record<string, string>;
  /** The longest a request may wait on a part under those bounds (ms), for the report. */
  boundMs: number;
  /** Load before the fault and after the part is back (ms); default 1500. */
  loadAroundMs?: number;
  /** Scenarios to run (by name); all when absent. */
  only?: readonly string[];
  log?: (line: string) => void;
}

export interface ScenarioFigures {
  scenario: string;
  /** Requests answered (any status), and of them: with images, 503 by code, quota 429s, anything else. */
  answered: number;
  ok: number;
  unavailable: Record<string, number>;
  quotaRefused: number;
  other: string[];
  /** Requests whose connection was lost (their gateway was killed), and of them those retried with their Idempotency-Key. */
  connectionLost: number;
  retried: number;
  /** `/ready` of the gateway that stays up: 503 this long after the fault, 200 this long after the return (-1: never). */
  readyDownMs: number;
  readyBackMs: number;
  maxAnswerMs: number;
  p99AnswerMs: number;
  tasksAccepted: number;
  tasksUnfinished: number;
  /** From the part's return to the last of this scenario's tasks finishing. */
  tasksFinishedMs: number;
  /** Rows still `reserved` when the wait (at most 15 s after the load) ended, and how long it took them to settle. */
  reservedLeft: number;
  reservedSettledMs: number;
  /** Per key, cumulative: images charged in the ledger and images the clients received. */
  ledger: Record<string, { charged: number; received: number }>;
  urlsChecked: number;
  urlsBroken: number;
  quotaKeyCharged: number;
  /** Exit codes of gateways that exited without being killed. */
  exits: number[];
  /** Webhooks: tasks finished with a webhook, those delivered (2xx at least once), and extra 2xx deliveries of one id. */
  webhooksDue: number;
  webhooksDelivered: number;
  webhookDuplicates: number;
}

const credentials = { arkApiKey: "fault-ark-key-0123456789", accessKeyId: "AKFAULT0123456789", secretAccessKey: "fault-secret-0123456789", api302Key: "sk-fault-0123456789" };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

interface Answer {
  key: string;
  status: number;
  code: string | null;
  ms: number;
  urls: string[];
  taskId: string | null;
}

export async function runFaultSuite(options: FaultSuiteOptions): Promise<ScenarioFigures[]> {
  const log = options.log ?? (() => undefined);
  const root = mkdtempSync(join(tmpdir(), "doubao-faults-"));
  const database = testPostgres("faults");
  const running = new Set<ChildProcess>();
  let emulator: Emulator | undefined;
  let s3: TestS3 | undefined;
  let pgProxy: FaultProxy | undefined;
  let redisProxy: FaultProxy | undefined;
  let receiver: Server | undefined;
  let closing = false;
  try {
    emulator = createEmulator(credentials);
    const upstream = await emulator.listen(0, "127.0.0.1");
    s3 = await startTestS3();
    pgProxy = await startFaultProxy({ host: "127.0.0.1", port: 5432 });
    redisProxy = await startFaultProxy({ host: "127.0.0.1", port: 6379 });
    // Webhooks: each message's first try is answered 500, so that a retry is always due after a task finishes.
    const deliveries = new Map<string, { tries: number; accepted: number }>();
    receiver = createServer((request, response) => {
      request.resume();
      request.on("end", () => {
        const id = String(request.headers["webhook-id"]);
        const entry = deliveries.get(id) ?? { tries: 0, accepted: 0 };
        entry.tries += 1;
        const accept = entry.tries > 1;
        if (accept) entry.accepted += 1;
        deliveries.set(id, entry);
        response.writeHead(accept ? 204 : 500).end();
      });
    });
    await new Promise<void>((resolve) => receiver?.listen(0, "127.0.0.1", resolve));
    const hook = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;

    const databaseUrl = new URL(database.url);
    databaseUrl.port = String(pgProxy.port);
    const prefix = `doubao-faults-${process.pid}-${Date.now()}:`;
    const environment = (instanceId: string) => ({
      DATA_DIR: join(root, instanceId), INSTANCE_ID: instanceId, GATEWAY_EMULATE: "0", GATEWAY_BOOTSTRAP_KEY: TEST_KEY, PUBLIC_BASE_URL: "http://gateways.test",
      DATABASE_URL: databaseUrl.toString(), REDIS_URL: `redis://127.0.0.1:${redisProxy?.port}/0`, REDIS_PREFIX: prefix, ...s3?.environment("faults"),
      ARK_API_KEY: credentials.arkApiKey, ARK_BASE_URL: `${upstream}/api/v3`, VOLC_ACCESSKEY: credentials.accessKeyId, VOLC_SECRETKEY: credentials.secretAccessKey,
      VOLC_VISUAL_BASE_URL: upstream, API302_KEY: credentials.api302Key, API302_BASE_URL: upstream, GATEWAY_FETCH_ALLOW: "127.0.0.1",
      INSTANCE_HEARTBEAT_MS: "300", TASK_POLL_MS: "100", TASK_CONCURRENCY: "4", KEY_CACHE_MS: "500", ...options.bounds,
    });
    const gateways: GatewayProcess[] = [await spawnGateway(environment("gw-a"), running)];
    gateways.push(await spawnGateway(environment("gw-b"), running));
    const killed = new Set<GatewayProcess>();
    const exits: number[] = [];
    const watch = (gateway: GatewayProcess) => void gateway.exited.then((code) => {
      if (!killed.has(gateway) && !closing) {
        exits.push(code ?? -1);
        log(`gateway exited (${code}):\n${gateway.output().slice(-2000)}`);
      }
    });
    gateways.forEach(watch);

    const call = async (base: string, path: string, key: string, body?: unknown, headers: Record<string, string> = {}) => {
      const response = await fetch(`${base}${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      let json: Json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: response.status, json, text };
    };
    const makeKey = async (name: string, limits: Record<string, unknown>) => {
      const created = await call(gateways[0]?.base as string, "/admin/keys", TEST_KEY, { name, ...limits });
      if (created.status !== 201) throw new Error(`key ${name}: ${created.text}`);
      return { name, secret: created.json.secret as string, id: created.json.key.id as string };
    };
    const keys = [await makeKey("unlimited", {}), await makeKey("limited", { rpm_limit: 100_000, concurrency_limit: 16 }), await makeKey("quota-30", { total_image_quota: 30 })];
    const received = new Map<string, number>(keys.map((key) => [key.name, 0]));

    const direct = new pg.Pool({ connectionString: database.url.replace(/\?.*$/, ""), max: 2, options: `-c search_path=${database.schema}` });
    const sql = async <T>(text: string, parameters: unknown[] = []) => (await direct.query(text, parameters)).rows as T[];

    let requestNumber = 0;
    /** Runs the load until `stop` resolves; resolves to every answer. */
    const load = (stop: Promise<void>) => {
      let stopped = false;
      void stop.then(() => (stopped = true));
      const answers: Answer[] = [];
      let connectionLost = 0;
      let retried = 0;
      let sent = 0;
      const client = async (index: number) => {
        while (!stopped) {
          const key = keys[index % keys.length] as (typeof keys)[number];
          const gateway = gateways[index % 2] as GatewayProcess;
          sent += 1;
          requestNumber += 1;
          const asTask = sent % 5 === 0;
          // Every third synchronous request is a careful client's: an Idempotency-Key, and when its connection is lost,
          // the same request again on the other gateway (while its first try is still held, 409, a moment later).
          const careful = !asTask && sent % 3 === 0;
          const body = { prompt: `fault load ${index} ${requestNumber}`, width: 256, height: 256, use_sr: false, return_url: true };
          const started = performance.now();
          try {
            const path = asTask ? `/doubao/drawing?async=true&webhook_url=${encodeURIComponent(hook)}` : "/doubao/drawing";
            // Unique over the whole run: a key used again with the same body would get its kept answer, charged once.
            const idempotency = careful ? { "idempotency-key": `fault-${requestNumber}-${prefix}` } : undefined;
            let answer;
            try {
              answer = await call(gateway.base, path, key.secret, body, idempotency);
            } catch (error) {
              if (!idempotency) throw error;
              connectionLost += 1;
              const until = performance.now() + 15_000;
              do {
                await sleep(300);
                answer = await call((gateways[(index + 1) % 2] as GatewayProcess).base, path, key.secret, body, idempotency).catch(() => undefined);
              } while ((answer === undefined || answer.status === 409) && performance.now() < until);
              if (!answer) throw error;
              retried += 1;
            }
            const urls: string[] = answer.status === 200 && answer.json?.code === 10000 ? (answer.json.data?.image_urls ?? []) : [];
            answers.push({
              key: key.name, status: answer.status, code: answer.json?.error?.code ?? null, ms: performance.now() - started, urls,
              taskId: answer.status === 202 ? (answer.json.task_id as string) : null,
            });
          } catch {
            connectionLost += 1;
            await sleep(100);
          }
          await sleep(25);
        }
      };
      const done = Promise.all(Array.from({ length: 8 }, (_, index) => client(index)));
      return done.then(() => ({ answers, connectionLost, retried }));
    };

    const scenarios: Array<{ name: string; fault: () => Promise<void> | void; heal: () => Promise<void> | void; ms: number }> = [
      { name: "PostgreSQL cut", fault: () => pgProxy?.set("cut"), heal: () => pgProxy?.set("pass"), ms: options.durations.pgCut },
      { name: "PostgreSQL losing replies", fault: () => pgProxy?.set("lose-replies"), heal: () => pgProxy?.set("pass"), ms: options.durations.pgLostReplies },
      { name: "PostgreSQL slow (200 ms a round trip)", fault: () => pgProxy?.set("latency", { latencyMs: 100 }), heal: () => pgProxy?.set("pass"), ms: options.durations.pgLatency },
      { name: "PostgreSQL blackholed", fault: () => pgProxy?.set("blackhole"), heal: () => pgProxy?.set("pass"), ms: options.durations.pgBlackhole },
      { name: "Redis cut", fault: () => redisProxy?.set("cut"), heal: () => redisProxy?.set("pass"), ms: options.durations.redisCut },
      { name: "Redis blackholed", fault: () => redisProxy?.set("blackhole"), heal: () => redisProxy?.set("pass"), ms: options.durations.redisBlackhole },
      { name: "S3 stopped", fault: () => s3?.stop(), heal: () => s3?.start(), ms: options.durations.s3Stopped },
      {
        name: "gateway SIGKILLed",
        fault: async () => {
          const victim = gateways[1] as GatewayProcess;
          killed.add(victim);
          victim.child.kill("SIGKILL");
          await victim.exited;
        },
        heal: async () => {
          // The same INSTANCE_ID and DATA_DIR: it replays its journal and recovers its previous run at once.
          const restarted = await spawnGateway(environment("gw-b"), running);
          watch(restarted);
          gateways[1] = restarted;
        },
        ms: options.durations.gatewayDown,
      },
    ];

    const figures: ScenarioFigures[] = [];
    const around = options.loadAroundMs ?? 1_500;
    for (const scenario of scenarios) {
      if (options.only && !options.only.includes(scenario.name)) continue;
      log(`${scenario.name}: ${scenario.ms} ms`);
      let stop: () => void = () => undefined;
      const loading = load(new Promise<void>((resolve) => (stop = resolve)));
      await sleep(around);
      // /ready on the gateway that stays up, every 100 ms: how long after the fault it says 503, and after the return 200.
      const probe = { faultAt: 0, healAt: 0, down: -1, back: -1, stop: false };
      const readiness = (async () => {
        while (!probe.stop) {
          const at = performance.now();
          const status = await fetch(`${gateways[0]?.base}/ready`).then((response) => response.arrayBuffer().then(() => response.status), () => 0);
          if (probe.faultAt && probe.down < 0 && status === 503) probe.down = at - probe.faultAt;
          if (probe.healAt && probe.down >= 0 && probe.back < 0 && status === 200) probe.back = at - probe.healAt;
          await sleep(100);
        }
        return { downMs: Math.round(probe.down), backMs: Math.round(probe.back) };
      })();
      probe.faultAt = performance.now();
      await scenario.fault();
      await sleep(scenario.ms);
      await scenario.heal();
      const healedAt = performance.now();
      probe.healAt = healedAt;
      await sleep(around);
      probe.stop = true;
      stop();
      const { answers, connectionLost, retried } = await loading;
      const ready = await readiness;

      // Tasks: each ends succeeded or failed; its images count as received.
      const taskIds = answers.flatMap((answer) => (answer.taskId ? [[answer.taskId, answer.key] as const] : []));
      let unfinished = new Map(taskIds);
      let tasksFinishedMs = 0;
      const taskUrls: string[] = [];
      const waitUntil = performance.now() + 30_000;
      while (unfinished.size > 0 && performance.now() < waitUntil) {
        const next = new Map<string, string>();
        for (const [id, keyName] of unfinished) {
          const key = keys.find((entry) => entry.name === keyName) as (typeof keys)[number];
          const task = await call(gateways[0]?.base as string, `/v1/tasks/${id}`, key.secret).catch(() => undefined);
          if (task?.json?.status === "succeeded" || task?.json?.status === "failed") {
            const urls: string[] = task.json.status === "succeeded" && task.json.result?.code === 10000 ? (task.json.result.data?.image_urls ?? []) : [];
            received.set(keyName, (received.get(keyName) ?? 0) + urls.length);
            taskUrls.push(...urls);
          } else {
            next.set(id, keyName);
          }
        }
        unfinished = next;
        tasksFinishedMs = performance.now() - healedAt;
        if (unfinished.size > 0) await sleep(200);
      }
      for (const answer of answers) received.set(answer.key, (received.get(answer.key) ?? 0) + answer.urls.length);
      if (unfinished.size > 0) {
        const rows = await sql<Record<string, unknown>>("SELECT id, state, instance_id, created_at, started_at FROM tasks WHERE id = ANY($1)", [[...unfinished.keys()]]);
        log(`unfinished tasks: ${JSON.stringify(rows)}`);
      }

      // No row reserved 15 s after the load: polled, the time it took recorded.
      const loadEnded = performance.now();
      let reservedLeft = Number.POSITIVE_INFINITY;
      while (performance.now() - loadEnded < 15_000) {
        reservedLeft = Number((await sql<{ n: string }>("SELECT COUNT(*) AS n FROM usage WHERE state = 'reserved'"))[0]?.n ?? 0);
        if (reservedLeft === 0) break;
        await sleep(200);
      }
      const reservedSettledMs = performance.now() - loadEnded;

      // Webhooks: every finished task's message accepted once, at the latest 10 s after its tasks finished.
      const webhookIds = taskIds.filter(([id]) => !unfinished.has(id)).map(([id]) => `msg_${id}`);
      const hooksUntil = performance.now() + 10_000;
      while (webhookIds.some((id) => !deliveries.get(id)?.accepted) && performance.now() < hooksUntil) await sleep(200);

      // Every URL in a 200 downloads (from either gateway: the files are in S3).
      const urls = [...answers.flatMap((answer) => answer.urls), ...taskUrls];
      let broken = 0;
      for (const [index, url] of urls.entries()) {
        const base = gateways[index % 2]?.base as string;
        const response = await fetch(`${base}${new URL(url).pathname}`).catch(() => undefined);
        if (response?.status !== 200) broken += 1;
        await response?.arrayBuffer().catch(() => undefined);
      }

      const charged = await sql<{ key_id: string; images: string }>("SELECT key_id, COALESCE(SUM(images), 0) AS images FROM usage WHERE state = 'settled' AND charged = 1 GROUP BY key_id");
      const ledger = Object.fromEntries(keys.map((key) => [key.name, { charged: Number(charged.find((row) => row.key_id === key.id)?.images ?? 0), received: received.get(key.name) ?? 0 }]));
      const times = answers.map((answer) => answer.ms).sort((x, y) => x - y);
      const unavailable: Record<string, number> = {};
      const other: string[] = [];
      let quotaRefused = 0;
      for (const answer of answers) {
        if (answer.status === 200 || answer.status === 202) continue;
        if (answer.status === 503 && answer.code) unavailable[answer.code] = (unavailable[answer.code] ?? 0) + 1;
        else if (answer.status === 429 && answer.code === "QuotaExceeded") quotaRefused += 1;
        else other.push(`${answer.status} ${answer.code}`);
      }
      const figure: ScenarioFigures = {
        scenario: scenario.name, answered: answers.length, ok: answers.filter((answer) => answer.status === 200 || answer.status === 202).length, unavailable, quotaRefused, other,
        connectionLost, retried, readyDownMs: ready.downMs, readyBackMs: ready.backMs, maxAnswerMs: Math.round(times.at(-1) ?? 0), p99AnswerMs: Math.round(times[Math.floor(times.length * 0.99)] ?? 0),
        tasksAccepted: taskIds.length, tasksUnfinished: unfinished.size, tasksFinishedMs: Math.round(tasksFinishedMs),
        reservedLeft, reservedSettledMs: Math.round(reservedSettledMs), ledger, urlsChecked: urls.length, urlsBroken: broken,
        quotaKeyCharged: ledger["quota-30"]?.charged ?? 0, exits: [...exits],
        webhooksDue: webhookIds.length, webhooksDelivered: webhookIds.filter((id) => (deliveries.get(id)?.accepted ?? 0) > 0).length,
        webhookDuplicates: webhookIds.reduce((sum, id) => sum + Math.max(0, (deliveries.get(id)?.accepted ?? 0) - 1), 0),
      };
      log(JSON.stringify(figure));
      figures.push(figure);
    }
    await direct.end();
    return figures;
  } finally {
    closing = true;
    for (const child of running) child.kill("SIGKILL");
    await pgProxy?.close();
    await redisProxy?.close();
    await s3?.close();
    await emulator?.close();
    await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
    await database.drop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

/** The lengths `npm test` runs: each fault a few seconds, under tight bounds (PostgreSQL 0.5 s connect + 1 s statement, Redis 0.5 s, S3 1 s). */
export const SHORT_FAULTS: Omit<FaultSuiteOptions, "log" | "only"> = {
  durations: { pgCut: 2_000, pgLostReplies: 2_000, pgLatency: 1_500, pgBlackhole: 3_000, redisCut: 1_500, redisBlackhole: 1_500, s3Stopped: 1_500, gatewayDown: 500 },
  bounds: {
    DATABASE_CONNECT_TIMEOUT_MS: "500", DATABASE_STATEMENT_TIMEOUT_MS: "1000", DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: "2000",
    REDIS_CONNECT_TIMEOUT_MS: "500", REDIS_COMMAND_TIMEOUT_MS: "500", S3_CONNECT_TIMEOUT_MS: "500", S3_REQUEST_TIMEOUT_MS: "1000",
  },
  boundMs: 2_000,
  loadAroundMs: 1_000,
};

/** What a scenario's figures miss of the marks; `boundMs` adds the answer-time mark (the CLI's, not the test's). */
export function faultMisses(figure: ScenarioFigures, boundMs?: number): string[] {
  const misses: string[] = [];
  if (figure.exits.length) misses.push(`a gateway exited (${figure.exits.join(", ")})`);
  if (figure.other.length) misses.push(`answers other than images, 503 or a quota's 429: ${[...new Set(figure.other)].join(", ")}`);
  if (figure.tasksUnfinished) misses.push(`${figure.tasksUnfinished} tasks unfinished 30 s after the part's return`);
  if (figure.reservedLeft) misses.push(`${figure.reservedLeft} rows reserved 15 s after the load`);
  // A gateway killed between a charge's commit and its answer leaves that answer undelivered: only then may charged
  // exceed received, by at most the connections its kill cut; received never exceeds charged.
  const slack = figure.scenario === "gateway SIGKILLed" ? figure.connectionLost : 0;
  // /ready says so within the bound (plus a probe's 2 s), and is back within seconds (a killed gateway's neighbour stays ready).
  if (figure.scenario !== "gateway SIGKILLed" && !figure.scenario.startsWith("PostgreSQL slow")) {
    if (figure.readyDownMs < 0) misses.push("/ready never said 503");
    if (figure.readyBackMs < 0) misses.push("/ready never came back");
  }
  for (const [key, { charged, received }] of Object.entries(figure.ledger)) {
    if (charged < received || charged > received + slack) misses.push(`${key}: ${charged} images charged, ${received} received`);
  }
  if (figure.urlsBroken) misses.push(`${figure.urlsBroken} URLs do not download`);
  if (figure.quotaKeyCharged > 30) misses.push(`the 30-image key got ${figure.quotaKeyCharged}`);
  if (figure.webhooksDelivered < figure.webhooksDue) misses.push(`${figure.webhooksDue - figure.webhooksDelivered} webhooks not delivered`);
  if (boundMs !== undefined && figure.maxAnswerMs > boundMs + 2_000) misses.push(`an answer took ${figure.maxAnswerMs} ms (bound ${boundMs} + 2000)`);
  return misses;
}
