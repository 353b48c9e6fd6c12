/**
 * Writes that must happen although the database is away when they are due: the settle of a request whose images
 * went out, the release of one that failed, the finish of a task. `perform` runs the write at once; when a shared part
 * is unavailable (`isPartUnavailable`: PostgreSQL, S3 or Redis past its bound) it is journalled instead — appended to
 * a file under DATA_DIR and synced before `perform` resolves — and retried every `retryMs` until it succeeds. A process
 * that dies with writes still journalled replays them when it starts again (`retry`, before its crash recovery, so
 * that recovery never undoes what a client was given). Every write kind's handler is idempotent: a write that
 * succeeded but whose reply was lost runs again harmlessly, and reads the row back to learn what happened.
 */
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { isPartUnavailable } from "../errors/errors.js";

export type DurablePayload = Record<string, unknown>;

export interface DurableWrites {
  /** What to do for each kind of write (registered before the first `perform` or `replay` of that kind). */
  register(kind: string, handler: (id: string, payload: DurablePayload) => Promise<void>): void;
  /** Runs the write now, or journals it when a shared part is away; resolves to which. Rejects only for a failure that is not an outage. */
  perform(kind: string, id: string, payload: DurablePayload): Promise<"done" | "deferred">;
  /** Whether a write about `id` is waiting (recovery leaves such rows alone). */
  holds(id: string): boolean;
  /** Writes waiting. */
  readonly size: number;
  /** Tries every waiting write once; resolves to how many remain. */
  retry(): Promise<number>;
  /** Starts the retry timer. */
  start(): void;
  close(): Promise<void>;
}

interface Entry {
  kind: string;
  id: string;
  payload: DurablePayload;
  /** Failures that were not outages; an entry that keeps failing so is given up after MAX_FAILURES. */
  failures: number;
}

const MAX_FAILURES = 20;

export interface DurableOptions {
  /** The journal's file; memory only when absent (a crash then loses what waited). */
  file?: string;
  /** How often waiting writes are retried; default 1000 ms. */
  retryMs?: number;
  log?: { warn(object: Record<string, unknown>, message: string): void; error(object: Record<string, unknown>, message: string): void };
}

export function createDurableWrites(options: DurableOptions = {}): DurableWrites {
  const handlers = new Map<string, (id: string, payload: DurablePayload) => Promise<void>>();
  const waiting = new Map<string, Entry>();
  const file = options.file;
  let timer: NodeJS.Timeout | undefined;
  let retrying: Promise<number> | undefined;

  // The journal: one JSON line per change ({"add": entry} or {"done": "kind:id"}), synced; rewritten whole when it empties.
  const keyOf = (kind: string, id: string) => `${kind}:${id}`;
  const append = (line: unknown) => {
    if (!file) return;
    const fd = openSync(file, "a");
    try {
      appendFileSync(fd, `${JSON.stringify(line)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  };
  const rewrite = () => {
    if (!file) return;
    const text = [...waiting.values()].map((entry) => `${JSON.stringify({ add: entry })}\n`).join("");
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  if (file) {
    mkdirSync(dirname(file), { recursive: true });
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      text = "";
    }
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      try {
        const record = JSON.parse(line) as { add?: Entry; done?: string };
        if (record.add) waiting.set(keyOf(record.add.kind, record.add.id), { ...record.add, failures: record.add.failures ?? 0 });
        else if (record.done) waiting.delete(record.done);
      } catch {
        // A line cut short by a crash mid-append: the write it began was never acknowledged to anyone.
      }
    }
    rewrite();
  }

  const attempt = async (entry: Entry): Promise<boolean> => {
    const handler = handlers.get(entry.kind);
    if (!handler) return false;
    try {
      await handler(entry.id, entry.payload);
      return true;
    } catch (error) {
      if (isPartUnavailable(error)) return false;
      entry.failures += 1;
      options.log?.error({ err: error, kind: entry.kind, id: entry.id, failures: entry.failures }, "a journalled write failed");
      return entry.failures >= MAX_FAILURES;
    }
  };

  const retryAll = async (): Promise<number> => {
    for (const [key, entry] of [...waiting]) {
      if (await attempt(entry)) {
        waiting.delete(key);
        append({ done: key });
      }
    }
    if (waiting.size === 0 && file) rewrite();
    return waiting.size;
  };
  // One pass at a time: a call while one runs shares it.
  const retry = () => (retrying ??= retryAll().finally(() => (retrying = undefined)));

  return {
    register(kind, handler) {
      handlers.set(kind, handler);
    },
    async perform(kind, id, payload) {
      const handler = handlers.get(kind);
      if (!handler) throw new Error(`no handler for journalled writes of kind ${kind}`);
      try {
        await handler(id, payload);
        return "done";
      } catch (error) {
        if (!isPartUnavailable(error)) throw error;
        const entry: Entry = { kind, id, payload, failures: 0 };
        waiting.set(keyOf(kind, id), entry);
        append({ add: entry });
        options.log?.warn({ kind, id, waiting: waiting.size }, "a write waits for the database; journalled, and retried until it succeeds");
        return "deferred";
      }
    },
    holds: (id) => [...waiting.values()].some((entry) => entry.id === id),
    get size() {
      return waiting.size;
    },
    retry,
    start() {
      if (timer) return;
      timer = setInterval(() => {
        if (waiting.size > 0) void retry().catch(() => undefined);
      }, options.retryMs ?? 1_000);
      timer.unref();
    },
    async close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await retrying?.catch(() => undefined);
    },
  };
}
