/** Process entry for `npm start`: read config, build the gateway, listen, handle signals. */
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, type Config } from "./config/environment.js";
import { createGateway } from "./server/runtime.js";

export async function serve(config: Config): Promise<void> {
  const gateway = await createGateway(config, {
    logger: {
      level: config.logLevel, redact: ["req.headers.authorization", "req.headers.cookie"],
      ...(config.logFormat === "pretty" ? { transport: { target: "pino-pretty", options: { translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" } } } : {}),
    },
    processMetrics: true,
  });
  let address: string;
  try {
    address = await gateway.app.listen({ host: config.host, port: config.port, backlog: config.listenBacklog });
  } catch (error) {
    // Nothing may keep the process alive after a failed start (the embedded emulator listens, the database is open).
    await gateway.close().catch(() => undefined);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") throw new ConfigError(`port ${config.port} on ${config.host} is already in use; stop the process that holds it, or set PORT to a free port.`);
    if (code === "EACCES") throw new ConfigError(`port ${config.port} on ${config.host} may not be opened by this user; set PORT to a port above 1023.`);
    if (code === "EADDRNOTAVAIL") throw new ConfigError(`HOST=${config.host} is not an address of this machine; set HOST to one (127.0.0.1, 0.0.0.0, …).`);
    throw error;
  }
  const everywhere = config.host === "0.0.0.0" || config.host === "::";
  const port = new URL(address).port;
  const addresses = everywhere ? listeningAddresses(config.host, port) : [address];
  const lines = [
    `doubao-gateway listening on ${addresses.join(", ")} (public URL ${config.publicBaseUrl})`,
    `Database and results: ${join(config.dataDir, "gateway.db")}, ${join(config.dataDir, "files")} (DATA_DIR)`,
    `Playground and console: open ${config.publicBaseUrl}/ in a browser and paste an API key`,
  ];
  if (everywhere && !config.publicBaseUrlSet) {
    lines.push(`WARNING: HOST=${config.host} listens on every address, but result URLs are built on ${config.publicBaseUrl}, which other machines cannot reach. Set PUBLIC_BASE_URL to the address clients use.`);
  }
  if (gateway.emulator) {
    lines.push(
      "EMULATOR MODE: no upstream credentials are set, so the built-in Volcengine emulator answers every request",
      "  with generated placeholder images (x-gateway-provider: emulator). Nothing is sent to Volcengine and nothing is billed.",
      `  The emulator listens on ${gateway.emulator.base ?? "?"}: GET /_emulator/stats, POST/DELETE /_emulator/faults (README "The Volcengine emulator").`,
      "  Set ARK_API_KEY, VOLC_ACCESSKEY + VOLC_SECRETKEY and/or API302_KEY to use the real upstreams.",
    );
  } else {
    const shorthand = [config.ark ? "Ark" : "", config.visual ? "Visual" : "", config.api302 ? "302.AI relay" : ""].filter(Boolean);
    const accounts = config.accounts.map((account) => `${account.id} (${account.protocol})`);
    lines.push(`Upstreams: ${[...shorthand, ...accounts].join(", ")} (check them with: doubao-gateway check)`);
  }
  if (gateway.recovered.requests > 0) {
    lines.push(
      `Recovered ${gateway.recovered.requests} request(s) a previous process left unfinished: settled uncharged, ${gateway.recovered.files} stored file(s) removed.`,
    );
  }
  if (gateway.bootstrapSecret) {
    lines.push(
      "",
      "Created the first API key, with the admin role (shown only this once; store it now):",
      `  ${gateway.bootstrapSecret}`,
      `Try: curl -s ${config.publicBaseUrl}/v1/models -H "Authorization: Bearer ${gateway.bootstrapSecret}"`,
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  // SIGTERM/SIGINT: stop accepting, let the requests in flight finish (their streams too) within the grace period, exit 0.
  const graceMs = Number(process.env.SHUTDOWN_GRACE_MS ?? 30_000);
  const stop = (signal: string) => {
    gateway.app.log.info({ signal, graceMs }, "shutting down: no new requests; waiting for those in flight");
    setTimeout(() => {
      gateway.app.log.warn({ graceMs }, "requests still in flight after the grace period; exiting");
      process.exit(1);
    }, graceMs).unref();
    void gateway.close().then(() => process.exit(0));
  };
  // SIGHUP: GATEWAY_CONFIG read again; a file that does not load is logged and the running configuration stays.
  process.on("SIGHUP", () => {
    try {
      const reloaded = gateway.reload();
      gateway.app.log.info(reloaded, `configuration reloaded from ${reloaded.path ?? "the environment (no GATEWAY_CONFIG)"}: ${reloaded.accounts.length} upstream accounts, ${reloaded.models} models`);
    } catch (error) {
      const message = error instanceof ConfigError ? error.message : (error as Error).message;
      gateway.app.log.error({ path: process.env.GATEWAY_CONFIG }, `configuration not reloaded, the running one stays: ${message}`);
    }
  });
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
}

/** The URLs a server listening on every address (0.0.0.0 or ::) is reachable at, one per interface address. */
function listeningAddresses(host: string, port: string): string[] {
  const family = host === "::" ? undefined : "IPv4";
  return Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .filter((entry) => !family || entry.family === family)
    .map((entry) => `http://${entry.family === "IPv6" ? `[${entry.address}]` : entry.address}:${port}`);
}

const isEntry = import.meta.url === `file://${process.argv[1]}`;
if (isEntry) {
  try {
    await serve(loadConfig());
  } catch (error) {
    process.stderr.write(`doubao-gateway: ${error instanceof ConfigError ? error.message : (error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  }
}
