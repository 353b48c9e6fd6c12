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
  close(): Promise<void>;
}

export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export async function startTestS3(): Promise<TestS3> {
  const directory = mkdtempSync(join(tmpdir(), "doubao-s3rver-"));
  const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory, configureBuckets: [{ name: "results" }] });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    port,
    endpoint,
    environment: (prefix) => ({ STORAGE_URL: `s3://results/${prefix}`, S3_ENDPOINT: endpoint, S3_ACCESS_KEY_ID: "S3RVER", S3_SECRET_ACCESS_KEY: "S3RVER" }),
    async close() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
