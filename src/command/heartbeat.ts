/**
 * Heartbeat messages (`--heartbeat-topic`): every `--heartbeat-interval` seconds, and once more
 * when the run ends, a small JSON message saying that the program is alive and what it did since
 * the previous one. The message follows OpenMSIStream's (`heartbeat_producibles.py`): the key is
 * `<program id>_heartbeat`, the value a JSON object whose `timestamp` is a UTC ISO 8601 time, and
 * where the counters overlap, OpenMSIStream's names (`n_bytes_read` for consumers,
 * `n_bytes_produced` for uploads, `n_messages_processed` for record processors).
 *
 * @module
 */

import type { ProgressState } from "./progress.ts";

/** What a run counts in its heartbeats: processors consume, `ferry upload` produces. */
export type HeartbeatRole = "consumer" | "producer";

/** The JSON value of one heartbeat message. */
export interface HeartbeatValue {
  /** When it was sent: UTC, ISO 8601 (OpenMSIStream's field). */
  timestamp: string;
  /** The program id (also in the key). */
  program_id: string;
  /** The processor's name, `download` or `upload`. */
  program: string;
  /** When the counted interval began (the previous heartbeat, or the start): UTC, ISO 8601. */
  since: string;
  /** Files (file processors, download, upload) or records (record processors) done since. */
  files?: number;
  /** Records processed since (record processors). */
  records?: number;
  /** Failures since: files that failed (file processors, download, upload). */
  failures: number;
  /** Bytes received (consumers) or acknowledged (upload) since. */
  bytes: number;
  /** Messages not yet read over the assigned partitions now, when known (consumers). */
  lag?: number | null;
  /** OpenMSIStream's name for `bytes` in a consumer's heartbeat. */
  n_bytes_read?: number;
  /** OpenMSIStream's name for `bytes` in an upload's heartbeat. */
  n_bytes_produced?: number;
  /** OpenMSIStream's name for `records` in a record processor's heartbeat. */
  n_messages_processed?: number;
  /** A watching upload's backlog now: files settled and waiting, the oldest's wait, settling. */
  backlog?: { waiting: number; oldest_waiting_seconds: number; settling: number };
  /** Whether this is the last heartbeat of the run (sent as it ends). */
  final?: boolean;
}

/** The running totals a heartbeat counts from (a run's progress state). */
export type HeartbeatTotals = Pick<ProgressState, "done" | "failed" | "bytes" | "lag" | "backlog">;

/**
 * Turns running totals into heartbeats that count what happened since the previous one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeartbeatCounter } from "./heartbeat.ts";
 *
 * const counter = new HeartbeatCounter({
 *   programId: "checksum@lab1", program: "checksum", noun: "files", role: "consumer",
 *   start: new Date("2026-12-05T10:00:00Z"),
 * });
 * const first = counter.next({ done: 3, failed: 1, bytes: 3000, lag: 7 }, new Date("2026-12-05T10:01:00Z"));
 * assert.deepEqual(first, {
 *   timestamp: "2026-12-05T10:01:00.000Z", program_id: "checksum@lab1", program: "checksum",
 *   since: "2026-12-05T10:00:00.000Z", files: 3, failures: 1, bytes: 3000, lag: 7,
 *   n_bytes_read: 3000,
 * });
 * const second = counter.next({ done: 5, failed: 1, bytes: 5000, lag: 0 }, new Date("2026-12-05T10:02:00Z"));
 * assert.equal(second.files, 2);
 * assert.equal(second.failures, 0);
 * assert.equal(second.since, "2026-12-05T10:01:00.000Z");
 * ```
 */
export class HeartbeatCounter {
  readonly #programId: string;
  readonly #program: string;
  readonly #noun: string;
  readonly #role: HeartbeatRole;
  #since: Date;
  #last: HeartbeatTotals = { done: 0, failed: 0, bytes: 0 };

  /**
   * Creates the counter.
   *
   * @param options The program id and name, what the run counts (`files` or `records`), its
   *   role, and when counting starts.
   */
  constructor(options: {
    programId: string;
    program: string;
    noun: string;
    role: HeartbeatRole;
    start?: Date;
  }) {
    this.#programId = options.programId;
    this.#program = options.program;
    this.#noun = options.noun;
    this.#role = options.role;
    this.#since = options.start ?? new Date();
  }

  /** The message key: `<program id>_heartbeat`, as OpenMSIStream's. */
  get key(): string {
    return `${this.#programId}_heartbeat`;
  }

  /**
   * The next heartbeat: counts since the previous one (or the start), the lag as it is now.
   *
   * @param totals The run's totals now.
   * @param now The time of the heartbeat.
   * @param final Whether the run is ending.
   * @returns The message's value.
   */
  next(totals: HeartbeatTotals, now: Date = new Date(), final = false): HeartbeatValue {
    const done = totals.done - this.#last.done;
    const bytes = totals.bytes - this.#last.bytes;
    const value: HeartbeatValue = {
      timestamp: now.toISOString(),
      program_id: this.#programId,
      program: this.#program,
      since: this.#since.toISOString(),
      ...(this.#noun === "records" ? { records: done } : { files: done }),
      failures: totals.failed - this.#last.failed,
      bytes,
    };
    if (this.#role === "consumer") {
      value.lag = totals.lag ?? null;
      value.n_bytes_read = bytes;
      if (this.#noun === "records") value.n_messages_processed = done;
    } else {
      value.n_bytes_produced = bytes;
    }
    if (totals.backlog !== undefined) {
      value.backlog = {
        waiting: totals.backlog.waiting,
        oldest_waiting_seconds: Math.round(totals.backlog.oldestWaitingMs) / 1000,
        settling: totals.backlog.settling,
      };
    }
    if (final) value.final = true;
    this.#last = { done: totals.done, failed: totals.failed, bytes: totals.bytes };
    this.#since = now;
    return value;
  }
}
