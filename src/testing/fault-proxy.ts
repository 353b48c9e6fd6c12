/**
 * A TCP proxy on loopback that plays a shared part failing (the fault suite puts one in front of the machine's
 * PostgreSQL and one in front of Redis):
 * - `pass`: bytes go both ways;
 * - `cut`: every connection is reset, and each new one is reset as it arrives (the server down, or a network cut);
 * - `blackhole`: connections are accepted and nothing comes back — new ones are never connected through, open ones
 *   stop carrying bytes (a partition, a hung server); they are reset when the blackhole ends, as a kernel's timer would;
 * - `latency`: every chunk, either way, arrives `latencyMs` late;
 * - `lose-replies`: what the client sends arrives, and the connection is reset as the server's reply comes (a write
 *   that went through and whose answer was lost).
 */
import net, { type Socket } from "node:net";

export type FaultMode = "pass" | "cut" | "blackhole" | "latency" | "lose-replies";

export interface FaultProxy {
  readonly port: number;
  readonly mode: FaultMode;
  set(mode: FaultMode, options?: { latencyMs?: number }): void;
  /** Connections accepted, and those reset by a fault, since the start. */
  readonly stats: { accepted: number; reset: number };
  close(): Promise<void>;
}

interface Connection {
  client: Socket;
  upstream: Socket | undefined;
  /** Carrying nothing (accepted, or caught, in a blackhole). */
  silent: boolean;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let mode: FaultMode = "pass";
  let latencyMs = 0;
  const connections = new Set<Connection>();
  const stats = { accepted: 0, reset: 0 };

  const reset = (connection: Connection) => {
    if (!connections.delete(connection)) return;
    stats.reset += 1;
    if (!connection.client.destroyed) connection.client.resetAndDestroy();
    connection.upstream?.destroy();
  };
  const drop = (connection: Connection) => {
    connections.delete(connection);
    connection.client.destroy();
    connection.upstream?.destroy();
  };
  const forward = (connection: Connection, toServer: boolean, chunk: Buffer) => {
    if (connection.silent || mode === "blackhole") {
      connection.silent = true;
      return;
    }
    if (mode === "lose-replies" && !toServer) return reset(connection);
    const to = toServer ? connection.upstream : connection.client;
    if (!to) return;
    // Timers of one delay fire in the order they were set: the bytes stay in order.
    if (mode === "latency" && latencyMs > 0) setTimeout(() => void (to.destroyed || to.write(chunk)), latencyMs);
    else to.write(chunk);
  };

  const server = net.createServer((client) => {
    stats.accepted += 1;
    const connection: Connection = { client, upstream: undefined, silent: false };
    connections.add(connection);
    client.on("error", () => drop(connection));
    client.on("close", () => drop(connection));
    if (mode === "cut") return reset(connection);
    if (mode === "blackhole") {
      connection.silent = true;
      client.on("data", () => undefined);
      return;
    }
    const upstream = net.connect(target.port, target.host);
    connection.upstream = upstream;
    upstream.on("error", () => drop(connection));
    upstream.on("close", () => drop(connection));
    upstream.on("data", (chunk: Buffer) => forward(connection, false, chunk));
    client.on("data", (chunk: Buffer) => forward(connection, true, chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    get mode() {
      return mode;
    },
    stats,
    set(next, options = {}) {
      const previous = mode;
      mode = next;
      latencyMs = options.latencyMs ?? latencyMs;
      if (next === "cut") for (const connection of [...connections]) reset(connection);
      // Out of a blackhole, the connections that went silent in it are dead to both ends.
      if (previous === "blackhole" && next !== "blackhole") for (const connection of [...connections]) if (connection.silent) reset(connection);
    },
    async close() {
      for (const connection of [...connections]) drop(connection);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
