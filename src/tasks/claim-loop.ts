/**
 * The loop both queues of the database are worked by (the task worker, the webhook dispatcher): while fewer than
 * `concurrency` items are in hand, claim the next one (claims one at a time, so none is still on its way when a pass
 * begins) and work it; look again every `pollMs`, when `wake` is called and when an item is done. `beforePass` runs at
 * the start of each pass (the mending of claims whose reply was lost); a failure of a claim or of `beforePass` ends the
 * pass (`onError`), and the next tick tries again. `stop` claims nothing more and resolves when the items in hand are done.
 */
export interface ClaimLoopOptions<T> {
  concurrency: number;
  pollMs: number;
  claim(): Promise<T | undefined>;
  /** The id of an item, for `holds`. */
  idOf(item: T): string;
  work(item: T): Promise<void>;
  beforePass?(): Promise<void>;
  /** Told when a claim failed (its UPDATE may have committed, its reply lost). */
  onClaimFailed?(): void;
  onError?(error: unknown): void;
}

export interface ClaimLoop {
  start(): void;
  wake(): void;
  stop(): Promise<void>;
  /** Whether this loop works the item `id` now. */
  holds(id: string): boolean;
}

export function createClaimLoop<T>(options: ClaimLoopOptions<T>): ClaimLoop {
  const inHand = new Map<string, Promise<void>>();
  let stopped = true;
  let filling = false;
  let again = false;
  let timer: NodeJS.Timeout | undefined;

  const fill = async () => {
    if (filling) {
      again = true;
      return;
    }
    filling = true;
    try {
      do {
        again = false;
        await options.beforePass?.();
        while (!stopped && inHand.size < options.concurrency) {
          let item: T | undefined;
          try {
            item = await options.claim();
          } catch (error) {
            options.onClaimFailed?.();
            throw error;
          }
          if (item === undefined) break;
          const id = options.idOf(item);
          const work: Promise<void> = options.work(item).catch((error: unknown) => options.onError?.(error)).finally(() => {
            inHand.delete(id);
            void fill();
          });
          inHand.set(id, work);
        }
      } while (again && !stopped);
    } catch (error) {
      options.onError?.(error);
    } finally {
      filling = false;
    }
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      timer = setInterval(() => void fill(), options.pollMs);
      timer.unref();
      void fill();
    },
    wake: () => void fill(),
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      while (inHand.size > 0) await Promise.all([...inHand.values()]);
    },
    holds: (id) => inHand.has(id),
  };
}
