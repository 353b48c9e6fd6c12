/**
 * Group commit for a store where every call is a round trip (PostgreSQL statements, Redis scripts): calls that arrive while a batch is
 * in flight wait for it and then go together, as one statement for all of them. At low load a call is sent at once,
 * alone; under load each round trip carries every call that queued meanwhile (at most `max`), so the database's and
 * the gateway's work per call — a socket write and read, a parse, a commit — is shared among them.
 */
export interface GroupCommitOptions<T> {
  /** Calls in one batch at most (bounded by the statement's parameters). */
  max?: number;
  /** Calls with the same key never share a batch: the later waits for the next (one row's settle told twice). */
  keyOf?: (item: T) => string;
}

export function groupCommit<T, R>(
  /** Runs one batch; answers each call's outcome in order. A rejection is every call's. */
  run: (items: readonly T[]) => Promise<ReadonlyArray<PromiseSettledResult<R>>>,
  options: GroupCommitOptions<T> = {},
): (item: T) => Promise<R> {
  const max = options.max ?? 200;
  const keyOf = options.keyOf;
  type Waiting = { item: T; resolve: (value: R) => void; reject: (error: unknown) => void };
  let queue: Waiting[] = [];
  let busy = false;
  const next = (): Waiting[] => {
    if (!keyOf && queue.length <= max) return queue.splice(0);
    const batch: Waiting[] = [];
    const keys = new Set<string>();
    const left: Waiting[] = [];
    for (const waiting of queue) {
      const key = keyOf?.(waiting.item);
      if (batch.length >= max || (key !== undefined && keys.has(key))) left.push(waiting);
      else {
        batch.push(waiting);
        if (key !== undefined) keys.add(key);
      }
    }
    queue = left;
    return batch;
  };
  const flush = async () => {
    busy = true;
    while (queue.length > 0) {
      const batch = next();
      try {
        const outcomes = await run(batch.map((waiting) => waiting.item));
        for (const [index, waiting] of batch.entries()) {
          const outcome = outcomes[index];
          if (outcome?.status === "fulfilled") waiting.resolve(outcome.value);
          else waiting.reject(outcome ? outcome.reason : new Error("the batch gave no outcome for this call"));
        }
      } catch (error) {
        for (const waiting of batch) waiting.reject(error);
      }
    }
    busy = false;
  };
  return (item) =>
    new Promise<R>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!busy) void flush();
    });
}
