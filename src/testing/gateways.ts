/**
 * Real gateway processes for the tests that need several (scale-out, the fault suite): `src/main.ts` under tsx, on
 * a port of its own on loopback, resolved once it says where it listens. A child that exits before that rejects with
 * what it printed.
 */
import { spawn, type ChildProcess } from "node:child_process";

export interface GatewayProcess {
  base: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** What it printed so far (stdout and stderr). */
  output(): string;
}

export function spawnGateway(environment: Record<string, string>, running?: Set<ChildProcess>): Promise<GatewayProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], { env: { ...process.env, NODE_ENV: "", PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "warn", ...environment } });
    running?.add(child);
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => (running?.delete(child), done(code))));
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const listening = /listening on (http:\/\/[\d.]+:\d+)/.exec(output)?.[1];
      if (listening && output.endsWith("\n")) resolve({ base: listening, child, exited, output: () => output });
    });
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    void exited.then(() => reject(new Error(`${environment.INSTANCE_ID ?? "the gateway"} exited before listening:\n${output}`)));
  });
}
