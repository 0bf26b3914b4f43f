/**
 * The settle timers of the watch: each file seen changing gets a deadline, the settle time after
 * its last change; a change moves its deadline. All deadlines are the same span after a change,
 * so the order of the last changes is the order of the deadlines: the files are kept in a `Map`
 * in that order (a change re-inserts its file at the end) and one timer, armed for the first
 * deadline, serves them all. Memory is one small entry per file still settling; touching a file
 * costs O(1) whatever the number of files.
 *
 * @module
 */

/** What the scheduler remembers about a file that is settling. */
export interface SettlingFile {
  /** When its settle time ends (`performance.now()` milliseconds). */
  deadline: number;
  /**
   * What the file looked like when last seen (`size:mtime`), when known (a poll or a listing
   * saw it); undefined when only an event said it changed.
   */
  stamp?: string;
}

/**
 * Settle deadlines of files, one timer for all of them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SettleScheduler } from "./settle_scheduler.ts";
 *
 * const due: string[] = [];
 * const scheduler = new SettleScheduler(20, (path) => due.push(path));
 * scheduler.touch("a");
 * scheduler.touch("b");
 * scheduler.touch("a"); // moves a behind b
 * await new Promise((resolve) => setTimeout(resolve, 80));
 * assert.deepEqual(due, ["b", "a"]);
 * assert.equal(scheduler.size, 0);
 * scheduler.close();
 * ```
 */
export class SettleScheduler {
  readonly #settleMs: number;
  readonly #onDue: (path: string, file: SettlingFile) => void;
  readonly #files = new Map<string, SettlingFile>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #closed = false;

  /**
   * Creates the scheduler.
   *
   * @param settleMs How long a file must stay unchanged.
   * @param onDue Called (synchronously, from the timer) for each file whose deadline passed; the
   *   file is no longer in the scheduler then.
   */
  constructor(settleMs: number, onDue: (path: string, file: SettlingFile) => void) {
    this.#settleMs = settleMs;
    this.#onDue = onDue;
  }

  /** Files settling now. */
  get size(): number {
    return this.#files.size;
  }

  /** What is remembered of a settling file, if it is settling. */
  get(path: string): SettlingFile | undefined {
    return this.#files.get(path);
  }

  /**
   * A file changed (or was seen for the first time) now: its deadline becomes the settle time
   * from now.
   *
   * @param path The file's relative path.
   * @param stamp What it looks like now (`size:mtime`), when known.
   */
  touch(path: string, stamp?: string): void {
    if (this.#closed) return;
    this.#files.delete(path);
    this.#files.set(path, { deadline: performance.now() + this.#settleMs, stamp });
    this.#arm();
  }

  /** Forgets a file (deleted, or handled elsewhere). */
  forget(path: string): void {
    this.#files.delete(path);
  }

  /** Stops the timer and forgets every file. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#files.clear();
  }

  #arm(): void {
    const first = this.#files.values().next();
    if (first.done) return;
    const at = first.value.deadline;
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - performance.now()));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = performance.now();
    for (const [path, file] of this.#files) {
      if (file.deadline > now) break;
      this.#files.delete(path);
      this.#onDue(path, file);
      if (this.#closed) return;
    }
    this.#arm();
  }
}
