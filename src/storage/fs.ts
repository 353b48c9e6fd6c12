/** Results on the local disk under `DATA_DIR/files`, written temp-then-rename so a crash never leaves half a file. */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BLOB_KEY, blobStorage, type BlobStorage } from "./types.js";

export function createFsStorage(directory: string, now: () => Date = () => new Date()): BlobStorage {
  const pathOf = (key: string) => {
    if (!BLOB_KEY.test(key)) throw new Error(`invalid blob key ${JSON.stringify(key)}`);
    return join(directory, key);
  };
  const write = async (key: string, bytes: Buffer) => {
    const path = pathOf(key);
    const temporary = `${path}.${process.pid}.tmp`;
    // The day's folder is made when a write finds it missing (once a day, or after the sweeper removed it), not
    // before every write.
    try {
      await writeFile(temporary, bytes);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      await mkdir(join(path, ".."), { recursive: true });
      await writeFile(temporary, bytes);
    }
    await rename(temporary, path);
  };
  return blobStorage({
    write,
    async get(key) {
      if (!BLOB_KEY.test(key)) return undefined;
      try {
        const path = pathOf(key);
        const [bytes, info] = await Promise.all([readFile(path), stat(path)]);
        return { bytes, storedAt: info.mtime };
      } catch {
        return undefined;
      }
    },
    async delete(key) {
      if (BLOB_KEY.test(key)) await rm(pathOf(key), { force: true });
    },
    async storedAt(key) {
      if (!BLOB_KEY.test(key)) return undefined;
      return (await stat(pathOf(key)).catch(() => undefined))?.mtime;
    },
    async sweep(cutoff) {
      let removed = 0;
      let days: string[];
      try {
        days = (await readdir(directory)).filter((name) => /^\d{8}$/.test(name));
      } catch {
        return 0;
      }
      for (const folder of days) {
        const names = await readdir(join(directory, folder)).catch(() => [] as string[]);
        for (const name of names) {
          const path = join(directory, folder, name);
          const info = await stat(path).catch(() => undefined);
          if (info && info.mtime < cutoff) {
            await rm(path, { force: true });
            removed += 1;
          }
        }
        if (names.length > 0 && (await readdir(join(directory, folder)).catch(() => ["?"])).length === 0) {
          await rm(join(directory, folder), { recursive: true, force: true });
        }
      }
      return removed;
    },
  }, now);
}
