/** An S3-compatible server (s3rver) on loopback with a `results` bucket, in a folder of its own removed on close. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";

export interface TestS3 {
  port: number;
  endpoint: string;
  /** The gateway's variables for it (STORAGE_URL under `prefix`, endpoint, s3rver's fixed credentials). */
  environment(prefix: string): Record<string, string>;
  /** Stops the server (connections refused), keeping its objects; `start` brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export async function startTestS3(): Promise<TestS3> {
  const directory = mkdtempSync(join(tmpdir(), "doubao-s3rver-"));
  const make = (port: number) => new S3rver({ port, address: "127.0.0.1", silent: true, directory, configureBuckets: [{ name: "results" }] });
  let server: S3rver | undefined = make(0);
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    const closing = server?.close();
    // Keep-alive connections of the clients would hold close() open: they go too, as they would with the server.
    (server as unknown as { httpServer?: { closeAllConnections?: () => void } } | undefined)?.httpServer?.closeAllConnections?.();
    await closing;
    server = undefined;
  };
  return {
    port,
    endpoint,
    environment: (prefix) => ({ STORAGE_URL: `s3://results/${prefix}`, S3_ENDPOINT: endpoint, S3_ACCESS_KEY_ID: "S3RVER", S3_SECRET_ACCESS_KEY: "S3RVER" }),
    stop,
    async start() {
      if (server) return;
      server = make(port);
      await server.run();
    },
    async close() {
      await stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
