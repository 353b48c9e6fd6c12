import { randomBytes } from "node:crypto";

/** Where result images live. Keys are made by the gateway (`yyyymmdd/<random>.jpeg`), never by a client. */
export interface StoredBlob {
  bytes: Buffer;
  storedAt: Date;
}

export interface BlobStorage {
  /** Stores bytes under a new unguessable key and returns it. */
  put(bytes: Buffer, extension: "jpeg" | "png"): Promise<string>;
  /** A new unguessable key, for a caller that records it before writing (`write`). */
  newKey(extension: "jpeg" | "png"): string;
  /** Stores bytes under a key from `newKey`, all or nothing. */
  write(key: string, bytes: Buffer): Promise<void>;
  get(key: string): Promise<StoredBlob | undefined>;
  delete(key: string): Promise<void>;
  /** Deletes everything stored before `cutoff`; returns how many blobs went. */
  sweep(cutoff: Date): Promise<number>;
  /** When the blob was stored, without reading it; undefined when there is none. */
  storedAt?(key: string): Promise<Date | undefined>;
  /** A URL the storage itself answers with the blob for `expiresInSeconds` (S3 presigned GET). */
  signedUrl?(key: string, expiresInSeconds: number): Promise<string>;
}

/** The only key shape storage accepts: a day folder and 22 base64url characters. */
export const BLOB_KEY = /^(\d{8})\/([A-Za-z0-9_-]{22})\.(jpeg|png)$/;

/** What a driver provides; `blobStorage` adds the key making that every driver shares. */
export type StorageDriver = Pick<BlobStorage, "write" | "get" | "delete" | "sweep" | "storedAt" | "signedUrl">;

/** A driver as a BlobStorage: new keys are `yyyymmdd/<22 random base64url characters>.<ext>`, made by the gateway. */
export function blobStorage(driver: StorageDriver, now: () => Date = () => new Date()): BlobStorage {
  const newKey = (extension: "jpeg" | "png") => `${now().toISOString().slice(0, 10).replace(/-/g, "")}/${randomBytes(16).toString("base64url")}.${extension}`;
  return {
    ...driver,
    newKey,
    async put(bytes, extension) {
      const key = newKey(extension);
      await driver.write(key, bytes);
      return key;
    },
  };
}
