/**
 * `doubao-gateway` command line: serve (default), check, emulator, keys create.
 * Output meant for scripts goes to stdout alone; everything else to stderr.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { checkUpstreams, formatCheck } from "./check.js";
import { keysCommand, usageCommand } from "./accounts.js";
import { ConfigError, loadConfig } from "../config/environment.js";
import { CLIENT_COMMANDS, describeFailure } from "./client.js";
import { UsageError } from "./usage.js";
import { serve } from "../main.js";
import { openMigrated } from "../stores/database.js";

const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

const HELP = `doubao-gateway — a 302.AI-compatible Doubao image API gateway

Usage:
  doubao-gateway [serve]                 Start the gateway (configured by environment variables; see README)
  doubao-gateway check [--json]          Tell, for each configured upstream, whether it is reachable and accepts
                                         the credentials (no image is generated); exit 1 if any is not usable
  doubao-gateway migrate                 Create or bring up to date the database's tables (SQLite under DATA_DIR, or
                                         DATABASE_URL's PostgreSQL) and exit; the gateway also does this at start
  doubao-gateway emulator [--port N] [--host H] [--ark-key K] [--access-key AK] [--secret-key SK] [--api302-key K]
                                         Start the standalone emulator (Ark, Visual, 302.AI relay) for offline tests
  doubao-gateway keys create --name NAME Create an API key and print it (only the key, on stdout); also
                                         keys list | show | update | disable | enable | delete (keys --help)
  doubao-gateway usage [--since D] [--until D] [--by key,model,day] [--format table|json|csv]
                                         Usage and cost per key, model and day (usage --help)
  doubao-gateway generate PROMPT         Make images from a terminal (also: edit, draw, portrait, tasks, models);
                                         DOUBAO_BASE_URL and DOUBAO_API_KEY say where and who (generate --help)
  doubao-gateway --help | --version      Show this help | the version

Exit status: 0 ok, 1 refused or failed (the message says why), 2 a usage error.

Environment: HOST, PORT, PUBLIC_BASE_URL, DATA_DIR, DATABASE_URL, REDIS_URL, STORAGE_URL, FILE_TTL_HOURS, RESULT_HOSTING, ARK_API_KEY, ARK_BASE_URL,
VOLC_ACCESSKEY, VOLC_SECRETKEY, VOLC_VISUAL_BASE_URL, API302_KEY, API302_BASE_URL, GATEWAY_CONFIG, GATEWAY_EMULATE,
GATEWAY_BOOTSTRAP_KEY, GATEWAY_FETCH_ALLOW. The README's "Upstreams" section explains each.
`;

const EMULATOR_HELP = `doubao-gateway emulator — the upstream emulator (Ark Images, Visual CVProcess, 302.AI relay)

Options:
  --port N         Port to listen on (default 8400)
  --host H         Address to bind (default 127.0.0.1)
  --ark-key K      Bearer key Ark requests must carry (default: EMULATOR_ARK_KEY or "emulator-ark-key")
  --access-key AK  Visual access key id (default: EMULATOR_ACCESSKEY or "AKEMULATOR")
  --secret-key SK  Visual secret key (default: EMULATOR_SECRETKEY or "emulator-secret")
  --api302-key K   Bearer key 302.AI relay requests must carry (default: EMULATOR_API302_KEY or "emulator-302-key")
  --retire IDS     Comma-separated model ids to answer as Ark answers a retired model (404 "… does not exist"),
                   e.g. --retire doubao-seedream-3-0-t2i-250415,doubao-seededit-3-0-i2i-250628

It serves Seedream 3.0, SeedEdit 3.0 and the Seedream 4.0 / 4.5 / 5.0 / 5.0-pro family (reference images, group
generation, streaming) with Ark's own checks per version. In a prompt, [[images:K]] makes a group of K images,
[[refuse-image:N]] fails image N for moderation (the rest go on), [[fail-image:N]] fails image N internally (the
rest are not made), [[drop-after:N]] cuts a stream after N events.

Point a gateway at it with ARK_BASE_URL=http://HOST:PORT/api/v3, VOLC_VISUAL_BASE_URL=http://HOST:PORT and
API302_BASE_URL=http://HOST:PORT.

Make it fail on purpose: put [[fault:SPEC]] in a prompt (add *N to fail only the first N times, ,retry-after=S for
a Retry-After header), or POST /_emulator/faults {"fault": "SPEC", "times": N, "api": "ark"|"visual"|"302"|"any"}.
SPEC is ark:<Code> (e.g. ark:ServerOverloaded), visual:<code> (e.g. visual:50429), 302:<err_code> (e.g. 302:-10004),
http:<status>, slow:<ms>, drop, malformed or expired-url. GET /_emulator/stats counts requests, images and aborts.
`;

const SERVE_HELP = `doubao-gateway [serve] — start the gateway

Configured by environment variables (read once at start; the README's "Configuration" lists them all):
  HOST, PORT               where to listen (default 127.0.0.1:8302)
  PUBLIC_BASE_URL          the origin clients reach, for result URLs (set it behind a proxy or with HOST=0.0.0.0)
  DATA_DIR                 the SQLite database and stored results (default ./data)
  ARK_API_KEY, VOLC_ACCESSKEY + VOLC_SECRETKEY, API302_KEY   the upstreams; with none of them (and NODE_ENV not
                           production) the built-in emulator answers every request
  GATEWAY_CONFIG           a YAML or JSON file: model table, lifecycles, prices, retries

Examples:
  npm start                                   # build and serve on http://127.0.0.1:8302 (emulator mode)
  PORT=9000 ARK_API_KEY=… doubao-gateway serve
`;

const CHECK_HELP = `doubao-gateway check [--json] [--timeout-ms N]

Reads the same environment as the server (ARK_API_KEY, VOLC_ACCESSKEY/VOLC_SECRETKEY, API302_KEY, their *_BASE_URL,
GATEWAY_CONFIG) and asks each configured upstream something it must refuse for a parameter only after accepting the
credentials — an out-of-range size, or a missing prompt — so no image is generated and nothing is charged.
Prints, per upstream: OK, DENIED (credentials rejected), FAILED (reachable but not usable) or DOWN (unreachable),
then which providers serve each model, then a table of the image models (Seedream, SeedEdit) per provider: live,
not activated or retired — probed with a 1x1 size, which the upstream refuses as a parameter when the model is there
and with 404 when it is not; nothing is generated or billed. Exit status 0 when every configured upstream is OK,
1 otherwise.
`;

async function checkCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: "boolean" }, "timeout-ms": { type: "string", default: "15000" }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    process.stdout.write(CHECK_HELP);
    return 0;
  }
  const timeoutMs = Number(values["timeout-ms"]);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new ConfigError(`--timeout-ms must be a positive integer; got "${values["timeout-ms"]}".`);
  const environment: Record<string, string | undefined> = { ...process.env, NODE_ENV: "" };
  if (!environment.ARK_API_KEY?.trim() && !environment.VOLC_ACCESSKEY?.trim() && !environment.API302_KEY?.trim() && !environment.GATEWAY_CONFIG?.trim()) {
    process.stderr.write(
      "No upstream credentials are set, so there is nothing to check (the server would serve its built-in emulator).\n" +
        "Set ARK_API_KEY, VOLC_ACCESSKEY + VOLC_SECRETKEY and/or API302_KEY, or accounts in GATEWAY_CONFIG's upstreams:; see the README's \"Upstreams\" section.\n",
    );
    return 1;
  }
  const config = loadConfig({ ...environment, GATEWAY_EMULATE: "0" });
  const result = await checkUpstreams(config, timeoutMs);
  process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : formatCheck(result));
  return result.ok ? 0 : 1;
}

async function emulatorCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "8400" },
      host: { type: "string", default: "127.0.0.1" },
      "ark-key": { type: "string" },
      "access-key": { type: "string" },
      "secret-key": { type: "string" },
      "api302-key": { type: "string" },
      retire: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(EMULATOR_HELP);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--port must be an integer in [0, 65535]; got "${values.port}".`);
  const arkApiKey = values["ark-key"] ?? process.env.EMULATOR_ARK_KEY ?? "emulator-ark-key";
  const accessKeyId = values["access-key"] ?? process.env.EMULATOR_ACCESSKEY ?? "AKEMULATOR";
  const secretAccessKey = values["secret-key"] ?? process.env.EMULATOR_SECRETKEY ?? "emulator-secret";
  const api302Key = values["api302-key"] ?? process.env.EMULATOR_API302_KEY ?? "emulator-302-key";
  const retiredModels = (values.retire ?? "").split(",").map((id) => id.trim()).filter(Boolean);
  const { createEmulator } = await import("../emulator/server.js");
  const emulator = createEmulator({ arkApiKey, accessKeyId, secretAccessKey, api302Key, retiredModels });
  const base = await emulator.listen(port, values.host);
  process.stderr.write(
    `Volcengine emulator listening on ${base}\n` +
      `  Ark:    POST ${base}/api/v3/images/generations  (Authorization: Bearer <ark key>)\n` +
      `  Visual: POST ${base}/?Action=CVProcess&Version=2022-08-31  (signed with the access key ${accessKeyId})\n` +
      `  302.AI: POST ${base}/doubao/images/generations, /doubao/drawing, /doubao/drawing/portrait  (Authorization: Bearer <302 key>)\n` +
      `  Faults: [[fault:SPEC]] in a prompt, or POST ${base}/_emulator/faults (see --help); stats at GET ${base}/_emulator/stats\n` +
      `  Gateway: ARK_BASE_URL=${base}/api/v3 VOLC_VISUAL_BASE_URL=${base} API302_BASE_URL=${base} ARK_API_KEY=… VOLC_ACCESSKEY=… VOLC_SECRETKEY=… API302_KEY=…\n`,
  );
  const stop = () => void emulator.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return 0;
}

const MIGRATE_HELP = `doubao-gateway migrate — create or update the database's tables, then exit

Uses DATABASE_URL (postgres://user:password@host:port/database[?schema=NAME]) when set, else SQLite at
DATA_DIR/gateway.db. Safe to run again and while gateways run: every step creates only what is missing, and all
of them run in one transaction under one lock. The gateway runs the same at start.
`;

async function migrateCommand(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(MIGRATE_HELP);
    return 0;
  }
  if (args.length > 0) throw new UsageError(`migrate takes no arguments (DATABASE_URL or DATA_DIR say which database); got "${args.join(" ")}"`, "migrate");
  const config = loadConfig({ ...process.env, GATEWAY_EMULATE: "1" });
  const database = await openMigrated({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, sqliteSynchronous: config.sqliteSynchronous });
  await database.close();
  process.stdout.write(`The database at ${database.location} is up to date.\n`);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case "serve":
        if (rest.includes("--help") || rest.includes("-h")) {
          process.stdout.write(SERVE_HELP);
          return 0;
        }
        if (rest.length > 0) throw new UsageError(`serve takes no arguments (it is configured by environment variables); got "${rest.join(" ")}"`, "serve");
        await serve(loadConfig());
        return 0;
      case "check":
        return await checkCommand(rest);
      case "migrate":
        return await migrateCommand(rest);
      case "emulator":
        return await emulatorCommand(rest);
      case "keys":
        return await keysCommand(rest);
      case "generate":
      case "edit":
      case "draw":
      case "portrait":
      case "tasks":
      case "models":
        return await (CLIENT_COMMANDS[command] as (args: string[]) => Promise<number>)(rest);
      case "version":
      case "--version":
      case "-v":
        process.stdout.write(`${VERSION}\n`);
        return 0;
      case "usage":
        return await usageCommand(rest);
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(HELP);
        return 0;
      default:
        process.stderr.write(`Unknown command "${command}".\n\n${HELP}`);
        return 2;
    }
  } catch (error) {
    const usage = error instanceof UsageError ? error : (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ? UsageError.fromParseArgs(error as Error, []) : undefined;
    if (usage instanceof UsageError) {
      const where = usage.command ?? command ?? "";
      process.stderr.write(`doubao-gateway ${where}: ${usage.message}\nSee: doubao-gateway ${where ? `${where.split(" ")[0]} ` : ""}--help\n`);
      return 2;
    }
    const failure = describeFailure(error);
    if (failure) {
      process.stderr.write(failure);
      return 1;
    }
    // A system error (a file that cannot be written, …) is its message; anything else is a bug, with its stack.
    const system = typeof (error as NodeJS.ErrnoException).code === "string";
    process.stderr.write(`doubao-gateway: ${error instanceof ConfigError || system ? (error as Error).message : ((error as Error).stack ?? String(error))}\n`);
    return 1;
  }
}
