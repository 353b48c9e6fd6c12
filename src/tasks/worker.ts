/**
 * This instance's share of the task queue: claims queued tasks (the oldest first) while fewer than `concurrency`
 * run here, runs each, and keeps its result. It looks for work every `pollMs` and at once when `wake` is called (a
 * task submitted here). `stop` claims nothing more and resolves when the tasks running here have finished; a task
 * never claimed stays queued for the next instance — nothing is handed back because nothing waits in memory.
 */
import type { ClaimedTask, TaskResult, TaskStore } from "./tasks.js";

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
  let running = 0;
  let stopped = true;
  let filling = false;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  const idle: Array<() => void> = [];

  const runOne = async (task: ClaimedTask) => {
    const started = performance.now();
    let result: TaskResult;
    try {
      result = await options.run(task);
    } catch (error) {
      result = options.failed(task, error);
    }
    try {
      if (await options.tasks.finish(task.id, result, options.now())) options.onFinished?.(task, result, (performance.now() - started) / 1000);
    } catch (error) {
      options.onError?.(error);
    }
  };

  const fill = async () => {
    if (filling) {
      again = true;
      return;
    }
    filling = true;
    try {
      do {
        again = false;
        while (!stopped && running < options.concurrency) {
          const task = await options.tasks.claim(options.instanceId, options.now());
          if (!task) break;
          running += 1;
          void runOne(task).finally(() => {
            running -= 1;
            if (running === 0) for (const resolve of idle.splice(0)) resolve();
            void fill();
          });
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
      timer = setInterval(() => void fill(), options.pollMs ?? 500);
      timer.unref();
      void fill();
    },
    wake: () => void fill(),
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      if (running > 0) await new Promise<void>((resolve) => idle.push(resolve));
    },
  };
}
