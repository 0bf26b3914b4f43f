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
 * {@linkcode WorkerPool.stop} is the one way a run stops its jobs: from then on no job starts
 * (queued ones, ones sent ahead and ones submitted later end `stopped` without running), the
 * running ones finish up to the grace, and those still running then are given up.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { WorkerChannel } from "./channel.ts";
import type { FileJobMessage, JobResult, WorkerInit } from "./protocol.ts";

const logger = getLogger(["ferry", "worker"]);

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

/** What a stop of the pool left undone; those files stay unsettled (read again next start). */
export interface PoolStopReport {
  /** Jobs that never started because the pool was stopping. */
  notStarted: number;
  /** Jobs still running when the grace ran out: their workers were terminated. */
  givenUp: number;
}

/** Runs file jobs on a fixed number of workers. */
export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  /** Set by the first `stop`: no job starts from then on. */
  #stopping = false;
  #stopped: Promise<PoolStopReport> | undefined;
  #notStarted = 0;

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

  /**
   * Runs a job; resolves with its result (a worker's death becomes a `failed` result, and a job
   * that did not run to its end because the pool stopped a `stopped` one).
   */
  run(message: FileJobMessage, transfer: Transferable[] = []): Promise<JobResult> {
    return new Promise((resolve) => {
      const job = { message, transfer, resolve };
      if (this.#stopping) return this.#notRun(job);
      this.#queue.push(job);
      this.#dispatch();
    });
  }

  /** Ends a job that did not start because the pool is stopping. */
  #notRun(job: Job): void {
    this.#notStarted++;
    job.resolve({ type: "result", id: job.message.id, outcome: "stopped", ms: 0 });
  }

  #dispatch(): void {
    if (this.#stopping) return;
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
    if (result.outcome === "stopped") this.#notStarted++; // sent ahead, answered at `shutdown`
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
    // The first job was running; the ones behind it never started: they go back to the queue
    // (or, stopping, end without running).
    const [job, ...waiting] = slot.jobs;
    slot.jobs = [];
    if (this.#stopping) waiting.forEach((other) => this.#notRun(other));
    else this.#queue.unshift(...waiting);
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
   * Stops the pool. From the call on no job starts: queued jobs, jobs sent ahead to a worker
   * and jobs submitted later end `stopped` without running. Running jobs finish (their time
   * limit still applies), then each worker runs the processor's `shutdown`; after `graceMs`
   * the workers still busy are terminated and their jobs end `stopped` (given up). Every job
   * has its result when this resolves. Calling it again returns the first call's report.
   *
   * @param graceMs How long running jobs and `shutdown` may take.
   * @returns What was left undone.
   */
  stop(graceMs = 10_000): Promise<PoolStopReport> {
    return this.#stopped ??= this.#stop(graceMs);
  }

  async #stop(graceMs: number): Promise<PoolStopReport> {
    this.#stopping = true;
    for (const job of this.#queue.splice(0)) this.#notRun(job);
    const channels = this.#slots.map((s) => s.channel);
    // A worker answers the jobs sent ahead to it (`stopped`) at once, and the running one when
    // it ends; then it says `stopped`.
    for (const channel of channels) channel.post({ type: "shutdown" });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(channels.map((c) => c.stopped)),
      new Promise((resolve) => timer = setTimeout(resolve, graceMs)),
    ]);
    clearTimeout(timer);
    let givenUp = 0;
    for (const slot of this.#slots) {
      clearTimeout(slot.timer);
      const [running, ...waiting] = slot.jobs;
      slot.jobs = [];
      if (running) {
        givenUp++;
        running.resolve({ type: "result", id: running.message.id, outcome: "stopped", ms: 0 });
      }
      for (const job of waiting) this.#notRun(job);
    }
    for (const channel of channels) channel.terminate();
    this.#slots.length = 0;
    return { notStarted: this.#notStarted, givenUp };
  }
}
