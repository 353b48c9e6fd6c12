/**
 * `doubao-gateway` command line: serve (default), emulator, keys create.
 * Output meant for scripts goes to stdout alone; everything else to stderr.
 */
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "./config.js";
import { createEmulator } from "./emulator/server.js";
import { serve } from "./main.js";
import { openDatabase } from "./runtime.js";
import { createKeyStore } from "./stores/keys.js";

const HELP = `doubao-gateway — a 302.AI-compatible Doubao image API gateway

Usage:
  doubao-gateway [serve]                 Start the gateway (configured by environment variables; see README)
  doubao-gateway emulator [--port N] [--host H] [--ark-key K] [--access-key AK] [--secret-key SK]
                                         Start the standalone Volcengine emulator (Ark + Visual) for offline tests
  doubao-gateway keys create --name NAME Create an API key and print it (only the key, on stdout)
  doubao-gateway --help                  Show this help

Environment: HOST, PORT, PUBLIC_BASE_URL, DATA_DIR, FILE_TTL_HOURS, RESULT_HOSTING, ARK_API_KEY, ARK_BASE_URL,
VOLC_ACCESSKEY, VOLC_SECRETKEY, VOLC_VISUAL_BASE_URL, GATEWAY_EMULATE, GATEWAY_BOOTSTRAP_KEY, GATEWAY_FETCH_ALLOW.
`;

const EMULATOR_HELP = `doubao-gateway emulator — the Volcengine emulator (Ark Images + Visual CVProcess)

Options:
  --port N         Port to listen on (default 8400)
  --host H         Address to bind (default 127.0.0.1)
  --ark-key K      Bearer key Ark requests must carry (default: EMULATOR_ARK_KEY or "emulator-ark-key")
  --access-key AK  Visual access key id (default: EMULATOR_ACCESSKEY or "AKEMULATOR")
  --secret-key SK  Visual secret key (default: EMULATOR_SECRETKEY or "emulator-secret")

Point a gateway at it with ARK_BASE_URL=http://HOST:PORT/api/v3 and VOLC_VISUAL_BASE_URL=http://HOST:PORT.
`;

async function emulatorCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "8400" },
      host: { type: "string", default: "127.0.0.1" },
      "ark-key": { type: "string" },
      "access-key": { type: "string" },
      "secret-key": { type: "string" },
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
  const emulator = createEmulator({ arkApiKey, accessKeyId, secretAccessKey });
  const base = await emulator.listen(port, values.host);
  process.stderr.write(
    `Volcengine emulator listening on ${base}\n` +
      `  Ark:    POST ${base}/api/v3/images/generations  (Authorization: Bearer <ark key>)\n` +
      `  Visual: POST ${base}/?Action=CVProcess&Version=2022-08-31  (signed with the access key ${accessKeyId})\n` +
      `  Gateway: ARK_BASE_URL=${base}/api/v3 VOLC_VISUAL_BASE_URL=${base} ARK_API_KEY=… VOLC_ACCESSKEY=… VOLC_SECRETKEY=…\n`,
  );
  const stop = () => void emulator.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return 0;
}

function keysCommand(args: string[]): number {
  const [action, ...rest] = args;
  if (action !== "create") {
    process.stderr.write('Usage: doubao-gateway keys create --name NAME\n(only "create" exists so far)\n');
    return 2;
  }
  const { values } = parseArgs({ args: rest, options: { name: { type: "string" }, help: { type: "boolean", short: "h" } } });
  if (values.help || !values.name?.trim()) {
    process.stderr.write("Usage: doubao-gateway keys create --name NAME\nPrints the new key on stdout; it is stored hashed and cannot be shown again.\n");
    return values.help ? 0 : 2;
  }
  const config = loadConfig({ ...process.env, GATEWAY_EMULATE: process.env.GATEWAY_EMULATE ?? "1" });
  const database = openDatabase(config.dataDir);
  try {
    const { secret } = createKeyStore(database).create(values.name.trim());
    process.stdout.write(`${secret}\n`);
  } finally {
    database.close();
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case "serve":
        await serve(loadConfig());
        return 0;
      case "emulator":
        return await emulatorCommand(rest);
      case "keys":
        return keysCommand(rest);
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
    const known = error instanceof ConfigError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    process.stderr.write(`doubao-gateway: ${known ? (error as Error).message : ((error as Error).stack ?? String(error))}\n`);
    return 1;
  }
}
