/**
 * Results in an S3 bucket (or an S3-compatible store: MinIO, R2, …), under a prefix, with the same key shape
 * as on disk (`yyyymmdd/<random>.jpeg`). A PutObject is atomic, so a crash never leaves half an object. The AWS
 * SDK is imported when the driver is made, so a gateway on local files never loads it. Expiry: the gateway's
 * sweeper deletes objects older than FILE_TTL_HOURS (or set a bucket lifecycle rule on the prefix).
 */
import { partUnavailable } from "../errors/errors.js";
import { BLOB_KEY, blobStorage, type BlobStorage } from "./types.js";

export interface S3StorageOptions {
  bucket: string;
  /** Key prefix, e.g. `doubao/` (a trailing slash is added when missing); default none. */
  prefix?: string;
  /** `S3_ENDPOINT`, for S3-compatible stores; AWS's own endpoint when absent. */
  endpoint?: string;
  /** `S3_REGION` (or AWS_REGION); default us-east-1. */
  region?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which S3-compatible stores usually need; default true with an endpoint. */
  forcePathStyle?: boolean;
  /** Explicit credentials; the AWS SDK's default chain (AWS_ACCESS_KEY_ID, …, instance roles) when absent. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  now?: () => Date;
  /** S3_CONNECT_TIMEOUT_MS and S3_REQUEST_TIMEOUT_MS; see DEFAULT_S3_TIMEOUTS. */
  timeouts?: Partial<S3Timeouts>;
}

export interface S3Timeouts {
  /** Opening a connection to the store. */
  connectMs: number;
  /** One request, from sending it to the end of its answer (the SDK's `requestTimeout`: no bytes for this long fails it). */
  requestMs: number;
}

export const DEFAULT_S3_TIMEOUTS: S3Timeouts = { connectMs: 2_000, requestMs: 10_000 };

/**
 * A failure of the store itself (refused, reset, timed out, or its 5xx) as the 503 StorageUnavailable a client gets;
 * an answer about the object (403, 404, a bad key) passes unchanged.
 */
function storeFailure(error: unknown): unknown {
  const { $metadata, name, code, message } = (error ?? {}) as { $metadata?: { httpStatusCode?: number }; name?: string; code?: string; message?: string };
  const status = $metadata?.httpStatusCode;
  if (status !== undefined && status < 500) return error;
  const detail = String(code ?? (name && name !== "Error" ? name : undefined) ?? message ?? "no answer").slice(0, 120);
  return Object.assign(partUnavailable("storage", detail), { cause: error });
}

/** `s3://bucket/prefix` → bucket and prefix; undefined for another scheme. */
export function parseStorageUrl(url: string): { bucket: string; prefix: string } | undefined {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!match) return undefined;
  const prefix = (match[2] ?? "").replace(/^\/+|\/+$/g, "");
  return { bucket: match[1] as string, prefix: prefix ? `${prefix}/` : "" };
}

export async function createS3Storage(options: S3StorageOptions): Promise<BlobStorage> {
  const { S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand, DeleteObjectCommand, DeleteObjectsCommand, ListObjectsV2Command } = await import("@aws-sdk/client-s3");
  const { getSignedUrl } = await import("@aws-sdk/s3-request-presigner");
  const timeouts = { ...DEFAULT_S3_TIMEOUTS, ...options.timeouts };
  const client = new S3Client({
    region: options.region ?? "us-east-1",
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle ?? Boolean(options.endpoint),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    // Bounded: a store that stopped answering fails a request within these, instead of holding it for the outage.
    requestHandler: { connectionTimeout: timeouts.connectMs, requestTimeout: timeouts.requestMs },
    maxAttempts: 2,
  });
  const guard = <T>(call: Promise<T>): Promise<T> => call.catch((error: unknown) => Promise.reject(storeFailure(error)));
  const bucket = options.bucket;
  const prefix = options.prefix ? `${options.prefix.replace(/\/+$/, "")}/` : "";
  const now = options.now ?? (() => new Date());
  const objectKey = (key: string) => {
    if (!BLOB_KEY.test(key)) throw new Error(`invalid blob key ${JSON.stringify(key)}`);
    return `${prefix}${key}`;
  };
  return blobStorage({
    async write(key, bytes) {
      await guard(client.send(new PutObjectCommand({ Bucket: bucket, Key: objectKey(key), Body: bytes, ContentType: key.endsWith(".png") ? "image/png" : "image/jpeg" })));
    },
    async get(key) {
      if (!BLOB_KEY.test(key)) return undefined;
      try {
        const object = await guard(client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(key) })));
        const bytes = Buffer.from((await guard(object.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array()))));
        return { bytes, storedAt: object.LastModified ?? new Date(0) };
      } catch (error) {
        if ((error as { name?: string }).name === "NoSuchKey" || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
        throw error;
      }
    },
    async delete(key) {
      if (BLOB_KEY.test(key)) await guard(client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) })));
    },
    async storedAt(key) {
      if (!BLOB_KEY.test(key)) return undefined;
      try {
        return (await guard(client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) })))).LastModified ?? new Date(0);
      } catch (error) {
        if ((error as { name?: string }).name === "NotFound" || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
        throw error;
      }
    },
    signedUrl: (key, expiresInSeconds) => getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: objectKey(key) }), { expiresIn: expiresInSeconds }),
    async sweep(cutoff) {
      let removed = 0;
      let token: string | undefined;
      do {
        const page = await guard(client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) })));
        const old = (page.Contents ?? []).filter((object) => object.Key && BLOB_KEY.test(object.Key.slice(prefix.length)) && object.LastModified && object.LastModified < cutoff);
        if (old.length > 0) {
          await guard(client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: old.map((object) => ({ Key: object.Key as string })), Quiet: true } })));
          removed += old.length;
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return removed;
    },
  }, now);
}
