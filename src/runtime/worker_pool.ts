/**
 * The pool of workers that run `process` on files: one job per worker at a time, a time limit
 * per job, and a worker that dies (an uncaught error, a time-out) replaced with a fresh one
 * while its job is reported as failed.
 *
 * A busy worker is also sent its next small job ahead (up to {@linkcode JOBS_IN_FLIGHT} jobs,
 * {@linkcode AHEAD_MAX_BYTES} of data each): the worker runs them one after the other, so it
 * starts its next file at once instead of idling for a round trip to the coordinator (which
 * may be busy decoding and hashing a batch of chunks). A job sent ahead is copied, not
 * transferred, so that if the worker dies before running it, it goes back to the queue whole.
 * A job's time limit starts when the job before it on that worker finished.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { WorkerChannel } from "./worker_channel.ts";
import type { FileJobMessage, JobResult, WorkerInit } from "./worker_protocol.ts";

const logger = getLogger(["ferry", "workers"]);

/** Options for {@linkcode WorkerPool}. */
export interface WorkerPoolOptions {
  /** The number of workers. */
  size: number;
  /** Everything but the worker index of each worker's init message. */
  init: Omit<WorkerInit, "type" | "workerIndex">;
  /** The time limit of one `process` call in ms; 0 for none. */
  jobTimeoutMs: number;
}

interface Job {
  message: FileJobMessage;
  transfer: Transferable[];
  resolve: (result: JobResult) => void;
}

/** Jobs sent to one worker at a time: the one running plus the ones queued behind it. */
export const JOBS_IN_FLIGHT = 2;

/** The most data of a job sent ahead to a busy worker (larger jobs wait for an idle one). */
export const AHEAD_MAX_BYTES = 4 * 1024 * 1024;

interface Slot {
  channel: WorkerChannel;
  /** Jobs sent to the worker, in order; the first is running. */
  jobs: Job[];
  timer: ReturnType<typeof setTimeout> | undefined;
  up: boolean;
}

function transferBytes(transfer: readonly Transferable[]): number {
  let total = 0;
  for (const item of transfer) if (item instanceof ArrayBuffer) total += item.byteLength;
  return total;
}

/** Runs file jobs on a fixed number of workers. */
export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  #stopping = false;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
  }

  /** Starts the workers; rejects with `WorkerStartError` if one cannot start. */
  async start(): Promise<void> {
    for (let i = 0; i < this.#options.size; i++) this.#slots.push(this.#spawn(i));
    try {
      await Promise.all(this.#slots.map((slot) => slot.channel.ready));
    } catch (error) {
      for (const slot of this.#slots) slot.channel.terminate();
      throw error;
    }
  }

  #spawn(index: number): Slot {
    const slot: Slot = { channel: undefined!, jobs: [], timer: undefined, up: false };
    slot.channel = new WorkerChannel({ type: "init", workerIndex: index, ...this.#options.init }, {
      onMessage: (message) => {
        if (message.type === "result") this.#finished(slot, message);
      },
      onDeath: (reason) => this.#died(slot, `the worker died: ${reason}`),
    });
    slot.channel.ready.then(() => {
      slot.up = true;
      this.#dispatch();
    }, () => undefined);
    return slot;
  }

  /** Jobs waiting for a worker plus jobs running. */
  get pending(): number {
    return this.#queue.length + this.#slots.reduce((n, s) => n + s.jobs.length, 0);
  }

  /** Runs a job; resolves with its result (a worker's death becomes a `failed` result). */
  run(message: FileJobMessage, transfer: Transferable[] = []): Promise<JobResult> {
    return new Promise((resolve) => {
      this.#queue.push({ message, transfer, resolve });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    // Fill the idle workers first, then queue one more job behind each running one.
    for (let depth = 0; depth < JOBS_IN_FLIGHT; depth++) {
      for (const slot of this.#slots) {
        if (this.#queue.length === 0) return;
        if (slot.jobs.length !== depth || !slot.up) continue;
        if (depth > 0 && transferBytes(this.#queue[0].transfer) > AHEAD_MAX_BYTES) return;
        const job = this.#queue.shift()!;
        slot.jobs.push(job);
        if (depth === 0) this.#startTimer(slot);
        slot.channel.post(job.message, depth === 0 ? job.transfer : []);
      }
    }
  }

  /** Starts the time limit of the slot's first job. */
  #startTimer(slot: Slot): void {
    const limit = this.#options.jobTimeoutMs;
    if (limit > 0) {
      slot.timer = setTimeout(
        () => this.#died(slot, `process() did not finish within ${limit / 1000} s`),
        limit,
      );
    }
  }

  #finished(slot: Slot, result: JobResult): void {
    clearTimeout(slot.timer);
    const at = slot.jobs.findIndex((j) => j.message.id === result.id);
    const [job] = at < 0 ? [] : slot.jobs.splice(at, 1);
    if (slot.jobs.length > 0) this.#startTimer(slot);
    job?.resolve(result);
    this.#dispatch();
  }

  /** A worker died or timed out: fail its job and put a fresh worker in its place. */
  #died(slot: Slot, reason: string): void {
    const at = this.#slots.indexOf(slot);
    if (at < 0) return;
    clearTimeout(slot.timer);
    slot.channel.terminate();
    // The first job was running; the ones behind it never started: they go back to the queue.
    const [job, ...waiting] = slot.jobs;
    slot.jobs = [];
    this.#queue.unshift(...waiting);
    logger.error("Worker {worker} stopped: {reason}.", { worker: slot.channel.index, reason });
    if (this.#stopping) this.#slots.splice(at, 1);
    else this.#slots[at] = this.#spawn(slot.channel.index);
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
    const channels = this.#slots.map((s) => s.channel);
    for (const slot of this.#slots) clearTimeout(slot.timer);
    for (const channel of channels) channel.post({ type: "shutdown" });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(channels.map((c) => c.stopped)),
      new Promise((resolve) => timer = setTimeout(resolve, graceMs)),
    ]);
    clearTimeout(timer);
    for (const channel of channels) channel.terminate();
    this.#slots.length = 0;
  }
}
