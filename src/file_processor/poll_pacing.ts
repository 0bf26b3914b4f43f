/**
 * How much the file processor's loop reads, and when it stops reading: each poll's size, from
 * the room ahead of the workers and the messages per complete file lately, and the backpressure
 * that pauses the assigned partitions while the workers have enough complete files waiting.
 * Apart from the runner because these rules decide how far reading runs ahead of `process`
 * (memory held, what a revoke waits for) and can be followed without a broker.
 *
 * @module
 */

import type { TopicPartition } from "../kafka/mod.ts";
import type { PausableConsumer } from "./new_partitions_first.ts";

/** How long the loop waits for running jobs before it pauses the partitions (ms). */
export const BACKPRESSURE_WAIT_MS = 5_000;

/**
 * The most messages read per poll: 32 chunks of 512 KiB are 16 MiB held at once, and a file
 * completed in a batch waits for at most that batch to be decoded before its job is sent.
 */
export const POLL_MAX_MESSAGES = 32;

/**
 * The most chunk data librdkafka fetches ahead into the consumer queue
 * (`queued.max.messages.kbytes`, KiB; librdkafka's default is 64 MiB): 32 MiB, two polls of
 * {@linkcode POLL_MAX_MESSAGES} chunks of 512 KiB, keeps the coordinator fed while the rest of
 * the data waits in Kafka instead of in memory (measured on a loaded machine, 256 MiB mixed set,
 * interleaved runs: peak RSS 30-50 MiB lower, CPU unchanged within the noise; 16 MiB saved more
 * but left less than a wake-up of librdkafka 2.0.2's fetchers, every 50 ms at most, of data at
 * full speed). The user's own setting wins.
 */
export const QUEUED_MAX_KBYTES = 32 * 1024;

/**
 * Bytes of complete files waiting for (or in) `process` beyond which the loop keeps no more
 * than two files per worker ahead (see {@linkcode PollPacing.applyBackpressure}).
 */
export const JOBS_AHEAD_BYTES = 32 * 1024 * 1024;

/**
 * About the most `process` time (ms, per worker) of the files let ahead beyond two per worker:
 * what a revoke waits for longer than it would without them (it waits for the revoked
 * partitions' files to finish), going by how long `process` calls took lately.
 */
export const JOBS_AHEAD_MS = 100;

/**
 * Messages per complete file assumed before the first file completed: polls start small, and
 * grow once files are known to take more messages (see {@linkcode PollPacing.pollSize}).
 */
export const FIRST_MESSAGES_PER_FILE = 1;

/** The jobs sent to the workers, as {@linkcode PollPacing} sees them (`FileOutcomes`). */
export interface PacedJobs {
  /** The jobs not finished yet (each settles when its file's result is recorded). */
  readonly jobs: ReadonlySet<Promise<void>>;
  /** How long `process` calls took lately (ms, a moving average), `undefined` before any. */
  readonly processMs: number | undefined;
}

/** What {@linkcode PollPacing} pauses and resumes. */
export interface PacedConsumer extends PausableConsumer {
  /** The partitions assigned now. */
  assignment(): TopicPartition[];
}

/** What {@linkcode PollPacing} follows. */
export interface PollPacingOptions {
  /** The number of workers. */
  workers: number;
  /** The jobs sent to the workers. */
  outcomes: PacedJobs;
  /** The consumer whose assigned partitions backpressure pauses. */
  consumer: PacedConsumer;
  /** The bytes received of the files whose jobs run now. */
  runningBytes: () => number;
  /** Whether a partition is held paused for another reason (`new_partitions_first.ts`). */
  held: (partition: number) => boolean;
  /** Whether the run is stopping (then backpressure waits no longer). */
  stopping: () => boolean;
  /** How long backpressure waits for running jobs before it pauses (ms). */
  waitMs?: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Sizes the file processor's polls and applies its backpressure (see the module).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PollPacing } from "./poll_pacing.ts";
 * const pacing = new PollPacing({
 *   workers: 2,
 *   outcomes: { jobs: new Set(), processMs: undefined },
 *   consumer: { assignment: () => [], pause: () => {}, resume: () => {} },
 *   runningBytes: () => 0,
 *   held: () => false,
 *   stopping: () => false,
 * });
 * assert.equal(pacing.pollSize(), 4); // two files per worker, one message per file at first
 * pacing.notePolled(30, 2);
 * assert.equal(pacing.pollSize(), 32); // 15 messages a file: at most a poll's worth
 * ```
 */
export class PollPacing {
  readonly #o: PollPacingOptions;
  readonly #waitMs: number;
  #paused = false;
  /** Messages per complete file lately (see {@linkcode PollPacing.pollSize}). */
  #messagesPerFile: number | undefined;
  /** Messages polled since the last poll that completed a file. */
  #messagesSinceFile = 0;

  /** Paces the polls of a run (see {@linkcode PollPacingOptions}). */
  constructor(options: PollPacingOptions) {
    this.#o = options;
    this.#waitMs = options.waitMs ?? BACKPRESSURE_WAIT_MS;
  }

  /** Whether backpressure has paused the assigned partitions. */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Complete files let ahead of the workers: `limit`, two per worker, and while they are small
   * (under JOBS_AHEAD_BYTES together) and quick to process (about JOBS_AHEAD_MS per worker)
   * `extra` more, up to a poll's worth. Waiting until only two per worker were left after every
   * poll of small files lets the workers run dry while the next poll is decoded (one worker's
   * rate was half of two workers' with a no-op process; on a loaded machine the gain was within
   * the noise).
   */
  #jobsAhead(): { limit: number; extra: number } {
    const workers = this.#o.workers;
    const ms = this.#o.outcomes.processMs;
    const extra = ms === undefined
      ? 0
      : Math.min(POLL_MAX_MESSAGES, Math.floor(JOBS_AHEAD_MS * workers / Math.max(ms, 0.1)));
    return { limit: workers * 2, extra };
  }

  /**
   * How many messages the next poll takes: about as many as make the files there is room for
   * ahead of the workers (two per worker, more while they are small and quick), going by the
   * messages per complete file lately; at least one, at most {@linkcode POLL_MAX_MESSAGES}.
   * Every message polled is handled: a poll of 32 one-chunk files for one worker taking 200 ms
   * a file queued 6.4 s of work, which a revoke waited for and a new partition's files waited
   * behind, and the loop saw the group's next rebalance only after its backpressure wait (up to
   * {@linkcode BACKPRESSURE_WAIT_MS}).
   */
  pollSize(): number {
    const { limit, extra } = this.#jobsAhead();
    const room = Math.max(1, limit + extra - this.#o.outcomes.jobs.size);
    const perFile = this.#messagesPerFile ?? FIRST_MESSAGES_PER_FILE;
    return Math.max(1, Math.min(POLL_MAX_MESSAGES, Math.ceil(room * perFile)));
  }

  /**
   * Follows the messages per complete file (a moving average) from each poll's outcome: the
   * messages it read and the files whose jobs it started.
   */
  notePolled(messages: number, files: number): void {
    this.#messagesSinceFile += messages;
    if (files === 0) return;
    const sample = this.#messagesSinceFile / files;
    this.#messagesSinceFile = 0;
    this.#messagesPerFile = this.#messagesPerFile === undefined
      ? sample
      : this.#messagesPerFile + (sample - this.#messagesPerFile) / 8;
  }

  /**
   * Waits (up to the backpressure wait) while the workers have enough files ahead, then pauses
   * the assigned partitions if they still have, or resumes them once they have not.
   */
  async applyBackpressure(): Promise<void> {
    // Memory held by files in progress is bounded by spilling (#enforceLimits), not by pausing:
    // pausing for files that never complete would block the partitions for good.
    const { limit, extra } = this.#jobsAhead();
    const busy = (): boolean => {
      const jobs = this.#o.outcomes.jobs.size;
      if (jobs < limit) return false;
      if (jobs >= limit + extra) return true;
      return this.#o.runningBytes() >= JOBS_AHEAD_BYTES;
    };
    // Wait a little for running jobs before pausing: librdkafka drops what it fetched for a
    // paused partition and refetches it after resume (about 1 s lost each time, measured), so
    // short waits cost far less. Polling resumes within BACKPRESSURE_WAIT_MS, and pausing
    // keeps a long process() from stalling the group (max.poll.interval.ms).
    const deadline = Date.now() + this.#waitMs;
    while (busy() && Date.now() < deadline && !this.#o.stopping()) {
      await Promise.race([...this.#o.outcomes.jobs, sleep(50)]);
    }
    const full = busy();
    const assigned = this.#o.consumer.assignment();
    if (full && !this.#paused && assigned.length > 0) {
      this.#o.consumer.pause(assigned);
      this.#paused = true;
    } else if (!full && this.#paused) {
      // Partitions held for new ones stay paused until those delivered (`new_partitions_first.ts`).
      const resumed = assigned.filter((tp) => !this.#o.held(tp.partition));
      if (resumed.length > 0) this.#o.consumer.resume(resumed);
      this.#paused = false;
    }
  }
}
