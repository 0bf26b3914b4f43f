/**
 * Progress of a long-running command (`ferry upload`, every processor): a live status line on a
 * terminal (standard error), periodic log lines otherwise. Generic: counts of items and bytes,
 * with a rate, and optionally items in progress and the consumer lag.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { stderrTerminal, type Terminal } from "./terminal.ts";

/** What the progress display shows; totals are optional (unknown in watch mode). */
export interface ProgressState {
  /** Items done (files uploaded, files processed...). */
  done: number;
  /** Items expected, if known. */
  total?: number;
  /** Items that failed. */
  failed: number;
  /** Bytes done. */
  bytes: number;
  /** Bytes expected, if known. */
  totalBytes?: number;
  /** Items under way (files being rebuilt or processed), when that means something. */
  inProgress?: number;
  /** Messages not yet read (consumers), when known. */
  lag?: number;
  /** Further counts, shown as written after the others (`4 partitions`). */
  detail?: string;
  /** A watching upload's backlog now (also in heartbeats and metrics). */
  backlog?: UploadBacklogFigures;
}

/** The backlog of a watching upload, as heartbeats and metrics report it. */
export interface UploadBacklogFigures {
  /** Files settled and waiting for a slot. */
  waiting: number;
  /** Milliseconds the longest-waiting of them has waited. */
  oldestWaitingMs: number;
  /** Files changed recently, waiting to settle. */
  settling: number;
}

/** Options of {@linkcode Progress}. */
export interface ProgressOptions {
  /** What an item is called, plural ("files"). */
  noun?: string;
  /** Live line or log lines; default: live when standard error is a terminal. */
  live?: boolean;
  /** Refresh interval of the live line; default 250 ms. */
  refreshMs?: number;
  /** Interval of the log lines when not live (a processor's status interval); default 10 000 ms. */
  logEveryMs?: number;
  /** No output at all. */
  quiet?: boolean;
  /** Where the live line goes; default standard error. */
  terminal?: Terminal;
}

const logger = getLogger(["ferry", "progress"]);

/**
 * Formats a byte count for people, in decimal units (1 kB = 1000 bytes, 1 MB = 10^6 bytes), the
 * unit of every size and rate Ferry shows: progress lines, summaries, `ferry status` (a rate is
 * MB/s, 10^6 bytes per second).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatBytes } from "./progress.ts";
 *
 * assert.equal(formatBytes(512), "512 B");
 * assert.equal(formatBytes(73_121), "73.1 kB");
 * assert.equal(formatBytes(3_700_000), "3.7 MB");
 * assert.equal(formatBytes(2 ** 31), "2.1 GB");
 * ```
 *
 * @param bytes The count.
 * @returns The text: `512 B`, `73.1 kB`, `3.7 MB`, `2.1 GB`, `1.0 TB`.
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  // 999 950 bytes would round to "1000.0 kB": from there the next unit.
  while (value >= 999.95 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A count of seconds for a log line: a number with one decimal at most (5.7, 12, 0.1). */
export function roundSeconds(seconds: number): number {
  return Math.round(seconds * 10) / 10;
}

/**
 * A progress display. Update the state as often as you like; it redraws on a timer.
 *
 * @example
 * ```ts ignore
 * import { Progress } from "./progress.ts";
 * const progress = new Progress({ noun: "files" });
 * progress.start();
 * progress.state.done++;
 * progress.state.bytes += 524288;
 * progress.stop();
 * ```
 */
export class Progress {
  /** The live numbers; change them freely. */
  readonly state: ProgressState = { done: 0, failed: 0, bytes: 0 };
  readonly #noun: string;
  readonly #live: boolean;
  readonly #quiet: boolean;
  readonly #refreshMs: number;
  readonly #logEveryMs: number;
  readonly #terminal: Terminal;
  readonly #startedAt = performance.now();
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastBytes = 0;
  #lastAt = performance.now();
  #rate = 0;

  /** Creates the display (nothing is shown until {@linkcode Progress.start} or {@linkcode Progress.show}). */
  constructor(options: ProgressOptions = {}) {
    this.#noun = options.noun ?? "items";
    this.#live = options.live ?? Deno.stderr.isTerminal();
    this.#quiet = options.quiet ?? false;
    this.#refreshMs = options.refreshMs ?? 250;
    this.#logEveryMs = options.logEveryMs ?? 10_000;
    this.#terminal = options.terminal ?? stderrTerminal;
  }

  /** Whether it draws a live line (on a terminal) rather than log lines. */
  get live(): boolean {
    return this.#live;
  }

  /** How often it wants fresh numbers: its refresh interval when live, its log interval otherwise. */
  get intervalMs(): number {
    return this.#live ? this.#refreshMs : this.#logEveryMs;
  }

  /** Starts redrawing every {@linkcode Progress.intervalMs}. */
  start(): void {
    if (this.#quiet || this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.show(), this.intervalMs);
    Deno.unrefTimer(this.#timer);
  }

  /**
   * The status text, such as `3/10 files, 1 failed, 12.0 MB/40.0 MB, 85.1 MB/s`, or for a
   * processor `3 files, 2 in progress, lag 40, 12.0 MB, 85.1 MB/s` (decimal units, see
   * {@linkcode formatBytes}).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Progress } from "./progress.ts";
   *
   * const progress = new Progress({ noun: "files", live: false });
   * Object.assign(progress.state, { done: 3, failed: 1, bytes: 2048, inProgress: 2, lag: 40 });
   * assert.equal(progress.text(), "3 files, 1 failed, 2 in progress, lag 40, 2.0 kB, 0.0 MB/s");
   * ```
   */
  text(): string {
    const s = this.state;
    const now = performance.now();
    const dt = (now - this.#lastAt) / 1000;
    if (dt >= 0.5) {
      const instant = (s.bytes - this.#lastBytes) / dt;
      this.#rate = this.#rate === 0 ? instant : 0.5 * this.#rate + 0.5 * instant;
      this.#lastBytes = s.bytes;
      this.#lastAt = now;
    }
    const items = s.total === undefined
      ? `${s.done} ${this.#nounFor(s.done)}`
      : `${s.done}/${s.total} ${this.#nounFor(s.total)}`;
    const bytes = s.totalBytes === undefined
      ? formatBytes(s.bytes)
      : `${formatBytes(s.bytes)}/${formatBytes(s.totalBytes)}`;
    const parts = [items];
    if (s.failed > 0) parts.push(`${s.failed} failed`);
    if (s.inProgress !== undefined) parts.push(`${s.inProgress} in progress`);
    if (s.lag !== undefined) parts.push(`lag ${s.lag}`);
    if (s.detail) parts.push(s.detail);
    parts.push(bytes, `${(this.#rate / 1e6).toFixed(1)} MB/s`);
    return parts.join(", ");
  }

  /** Average rate since the start, in MB/s (10^6 bytes per second). */
  averageMbPerSec(): number {
    return this.state.bytes / 1e6 / Math.max(0.001, (performance.now() - this.#startedAt) / 1000);
  }

  /** Sets some of the numbers and draws them at once (see {@linkcode Progress.show}). */
  update(state: Partial<ProgressState>): void {
    Object.assign(this.state, state);
    this.show();
  }

  /** Draws the current numbers now (unless quiet): the live line, or one log line. */
  show(): void {
    if (this.#quiet) return;
    if (this.#live) this.#terminal.setStatus(this.text());
    else logger.info("Progress: {status}", { status: this.text() });
  }

  /** Stops redrawing and removes the live line. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#live && !this.#quiet) this.#terminal.clearStatus();
  }

  /** The noun for `count` things: "1 file", "2 files" (a plural noun ending in "s"). */
  #nounFor(count: number): string {
    return count === 1 && this.#noun.endsWith("s") ? this.#noun.slice(0, -1) : this.#noun;
  }
}
