/**
 * The pool of Deno workers that run `process`: one job per worker at a time, a time limit per
 * job, and a worker that dies (an uncaught error, `self.close()`, a time-out) replaced with a
 * fresh one while its job is reported as failed.
 *
 * @module
 */

import { getLogger, type Logger } from "@logtape/logtape";
import type {
  FileJobMessage,
  FromWorker,
  JobResult,
  SerializedError,
  WorkerInit,
} from "./worker_protocol.ts";

const logger = getLogger(["ferry", "workers"]);
const HARNESS_URL = new URL("./worker_harness.ts", import.meta.url);

/** Options for {@linkcode WorkerPool}. */
export interface WorkerPoolOptions {
  /** The number of workers. */
  size: number;
  /** Everything but the worker index of each worker's init message. */
  init: Omit<WorkerInit, "type" | "workerIndex">;
  /** The time limit of one `process` call in ms; 0 for none. */
  jobTimeoutMs: number;
}

/** Raised when a worker cannot start (for example the user's script fails to import). */
export class WorkerStartError extends Error {
  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import { WorkerStartError } from "./worker_pool.ts";
   * const error = new WorkerStartError({ name: "SyntaxError", message: "Unexpected token" });
   * console.assert(error.message.includes("Unexpected token"));
   * ```
   */
  constructor(error: SerializedError) {
    super(`A worker could not start: ${error.name}: ${error.message}`);
    this.name = "WorkerStartError";
  }
}

interface Job {
  message: FileJobMessage;
  transfer: Transferable[];
  resolve: (result: JobResult) => void;
}

class PoolWorker {
  readonly index: number;
  readonly worker: Worker;
  job: Job | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  ready: Promise<void>;
  stopped: Promise<void>;
  #stoppedResolve!: () => void;

  constructor(index: number, pool: WorkerPool, init: WorkerInit) {
    this.index = index;
    this.worker = new Worker(HARNESS_URL, { type: "module", name: `ferry-worker-${index}` });
    this.stopped = new Promise((resolve) => this.#stoppedResolve = resolve);
    this.ready = new Promise((resolve, reject) => {
      this.worker.onmessage = (event: MessageEvent<FromWorker>) => {
        const message = event.data;
        if (message.type === "ready") resolve();
        else if (message.type === "init-failed") reject(new WorkerStartError(message.error));
        else if (message.type === "stopped") this.#stoppedResolve();
        else if (message.type === "log") {
          forwardLog(message.category, message.level, message.message, index);
        } else if (message.type === "result") pool.finished(this, message);
      };
      this.worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        const error = { name: "WorkerError", message: event.message || "the worker died" };
        reject(new WorkerStartError(error));
        pool.died(this, `the worker died: ${event.message}`);
      };
    });
    this.worker.postMessage(init);
  }

  terminate(): void {
    clearTimeout(this.timer);
    this.worker.terminate();
    this.#stoppedResolve();
  }
}

function forwardLog(category: string[], level: string, message: string, worker: number): void {
  const target: Logger = getLogger(category);
  const properties = { worker };
  switch (level) {
    case "trace":
    case "debug":
      target.debug(message.replaceAll("{", "{{").replaceAll("}", "}}"), properties);
      break;
    case "info":
      target.info(message.replaceAll("{", "{{").replaceAll("}", "}}"), properties);
      break;
    case "warning":
      target.warn(message.replaceAll("{", "{{").replaceAll("}", "}}"), properties);
      break;
    default:
      target.error(message.replaceAll("{", "{{").replaceAll("}", "}}"), properties);
  }
}

/**
 * Runs file jobs on a fixed number of workers.
 */
export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #workers: PoolWorker[] = [];
  readonly #queue: Job[] = [];
  #stopping = false;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
  }

  /** Starts the workers; rejects with {@linkcode WorkerStartError} if one cannot start. */
  async start(): Promise<void> {
    for (let i = 0; i < this.#options.size; i++) this.#workers.push(this.#spawn(i));
    try {
      await Promise.all(this.#workers.map((w) => w.ready));
    } catch (error) {
      for (const worker of this.#workers) worker.terminate();
      throw error;
    }
  }

  #spawn(index: number): PoolWorker {
    return new PoolWorker(index, this, { type: "init", workerIndex: index, ...this.#options.init });
  }

  /** Jobs waiting for a worker plus jobs running. */
  get pending(): number {
    return this.#queue.length + this.#workers.filter((w) => w.job).length;
  }

  /** Runs a job; resolves with its result (a worker's death becomes a `failed` result). */
  run(message: FileJobMessage, transfer: Transferable[] = []): Promise<JobResult> {
    return new Promise((resolve) => {
      this.#queue.push({ message, transfer, resolve });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    for (const worker of this.#workers) {
      if (this.#queue.length === 0) return;
      if (worker.job) continue;
      const job = this.#queue.shift()!;
      worker.job = job;
      if (this.#options.jobTimeoutMs > 0) {
        worker.timer = setTimeout(
          () =>
            this.died(
              worker,
              `process() did not finish within ${this.#options.jobTimeoutMs / 1000} s`,
            ),
          this.#options.jobTimeoutMs,
        );
      }
      worker.worker.postMessage(job.message, job.transfer);
    }
  }

  /** Called by a worker when its job finished. */
  finished(worker: PoolWorker, result: JobResult): void {
    clearTimeout(worker.timer);
    const job = worker.job;
    worker.job = undefined;
    job?.resolve(result);
    this.#dispatch();
  }

  /** Called when a worker died or timed out: fails its job and replaces it. */
  died(worker: PoolWorker, reason: string): void {
    const slot = this.#workers.indexOf(worker);
    if (slot < 0) return;
    worker.terminate();
    const job = worker.job;
    worker.job = undefined;
    logger.error("Worker {worker} stopped: {reason}.", { worker: worker.index, reason });
    if (!this.#stopping) {
      const replacement = this.#spawn(worker.index);
      this.#workers[slot] = replacement;
      replacement.ready.then(
        () => this.#dispatch(),
        (error) => logger.error("A replacement worker failed to start: {error}", { error }),
      );
    } else this.#workers.splice(slot, 1);
    job?.resolve({
      type: "result",
      id: job.message.id,
      outcome: "failed",
      ms: 0,
      error: { name: "WorkerError", message: reason },
    });
  }

  /**
   * Stops the pool: runs each worker's `shutdown` (up to `graceMs`), then terminates them.
   * Jobs still queued are dropped (their files stay unsettled and are read again next start).
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.#stopping = true;
    this.#queue.length = 0;
    const workers = [...this.#workers];
    for (const worker of workers) worker.worker.postMessage({ type: "shutdown" });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(workers.map((w) => w.stopped)),
      new Promise((resolve) => timer = setTimeout(resolve, graceMs)),
    ]);
    clearTimeout(timer);
    for (const worker of workers) worker.terminate();
    this.#workers.length = 0;
  }
}
