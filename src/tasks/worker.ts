/**
 * This instance's share of the task queue: claims queued tasks (the oldest first) while fewer than `concurrency`
 * run here, runs each, and keeps its result. It looks for work every `pollMs` and at once when `wake` is called (a
 * task submitted here). `stop` claims nothing more and resolves when the tasks running here have finished; a task
 * never claimed stays queued for the next instance — nothing is handed back because nothing waits in memory.
 */
import { createClaimLoop } from "./claim-loop.js";
import type { ClaimedTask, TaskResult, TaskStore } from "./tasks.js";

/** The durable write kind of a task's finish (stores/durable.ts): a result that could not be kept is kept later. */
export const FINISH_WRITE = "task.finish";

export interface TaskWorkerOptions {
  tasks: TaskStore;
  instanceId: string;
  /** Tasks run at once by this instance (TASK_CONCURRENCY). */
  concurrency: number;
  /** How often an idle worker looks for queued tasks; default 500 ms. */
  pollMs?: number;
  now: () => number;
  /** Makes the task's request; resolves to its result (never rejects for an answer, only for a failure to run). */
  run(task: ClaimedTask): Promise<TaskResult>;
  /** Keeps a task's result: at once, or (the database away) journalled and kept when it is back; never rejects for an outage. */
  finish(task: ClaimedTask, result: TaskResult): Promise<void>;
  /**
   * Past this since a claim failed, a task still marked running here that this worker is not running is a claim whose
   * reply was lost, and is queued again (the database's statement bound and a margin); default 10 000 ms.
   */
  claimBoundMs?: number;
  /** Whether a write about a task is waiting (its finish journalled): such a task is not an orphan. */
  held?: (taskId: string) => boolean;
  /** The result of a task that failed to run at all. */
  failed(task: ClaimedTask, error: unknown): TaskResult;
  /** Told of each task this instance finished, with its run time in seconds. */
  onFinished?(task: ClaimedTask, result: TaskResult, seconds: number): void;
  /** Told of a failure of the queue itself (the database unreachable). */
  onError?(error: unknown): void;
}

export interface TaskWorker {
  start(): void;
  /** Looks for work now. */
  wake(): void;
  stop(): Promise<void>;
}

export function createTaskWorker(options: TaskWorkerOptions): TaskWorker {
  // When a claim failed (its UPDATE may have committed, its reply lost): from then on, look for such orphans.
  let orphansSince: number | undefined;
  const claimBoundMs = options.claimBoundMs ?? 10_000;

  const runOne = async (task: ClaimedTask) => {
    const started = performance.now();
    let result: TaskResult;
    try {
      result = await options.run(task);
    } catch (error) {
      result = options.failed(task, error);
    }
    await options.finish(task, result);
    options.onFinished?.(task, result, (performance.now() - started) / 1000);
  };

  const loop = createClaimLoop<ClaimedTask>({
    concurrency: options.concurrency, pollMs: options.pollMs ?? 500,
    claim: () => options.tasks.claim(options.instanceId, options.now()),
    idOf: (task) => task.id,
    work: runOne,
    onClaimFailed: () => void (orphansSince = options.now()),
    async beforePass() {
      if (orphansSince === undefined) return;
      const now = options.now();
      // Claims made up to the failure's time plus the bound have all answered by now, or failed for good.
      if (now < orphansSince + claimBoundMs) return;
      const since = orphansSince;
      await options.tasks.requeueOwn(options.instanceId, now - claimBoundMs, (id) => loop.holds(id) || (options.held?.(id) ?? false));
      if (orphansSince === since) orphansSince = undefined;
    },
    ...(options.onError ? { onError: options.onError } : {}),
  });
  return { start: loop.start, wake: loop.wake, stop: loop.stop };
}
