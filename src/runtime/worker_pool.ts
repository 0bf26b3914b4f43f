/**
 * The pool of workers that run `process` on files: one job per worker at a time, a time limit
 * per job, and a worker that dies (an uncaught error, a time-out) replaced with a fresh one
 * while its job is reported as failed.
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

interface Slot {
  channel: WorkerChannel;
  job: Job | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  up: boolean;
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
    const slot: Slot = { channel: undefined!, job: undefined, timer: undefined, up: false };
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
    return this.#queue.length + this.#slots.filter((s) => s.job).length;
  }

  /** Runs a job; resolves with its result (a worker's death becomes a `failed` result). */
  run(message: FileJobMessage, transfer: Transferable[] = []): Promise<JobResult> {
    return new Promise((resolve) => {
      this.#queue.push({ message, transfer, resolve });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    for (const slot of this.#slots) {
      if (this.#queue.length === 0) return;
      if (slot.job || !slot.up) continue;
      const job = this.#queue.shift()!;
      slot.job = job;
      const limit = this.#options.jobTimeoutMs;
      if (limit > 0) {
        slot.timer = setTimeout(
          () => this.#died(slot, `process() did not finish within ${limit / 1000} s`),
          limit,
        );
      }
      slot.channel.post(job.message, job.transfer);
    }
  }

  #finished(slot: Slot, result: JobResult): void {
    clearTimeout(slot.timer);
    const job = slot.job;
    slot.job = undefined;
    job?.resolve(result);
    this.#dispatch();
  }

  /** A worker died or timed out: fail its job and put a fresh worker in its place. */
  #died(slot: Slot, reason: string): void {
    const at = this.#slots.indexOf(slot);
    if (at < 0) return;
    clearTimeout(slot.timer);
    slot.channel.terminate();
    const job = slot.job;
    slot.job = undefined;
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
