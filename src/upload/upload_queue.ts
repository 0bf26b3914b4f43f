/**
 * The queue of files waiting to be uploaded and the files in flight, shared by a one-off upload
 * and the watch: an upload starts as soon as a file is queued and a reading slot is free. A file
 * whose chunks were all handed to the producer no longer takes a reading slot while its
 * acknowledgements arrive (at most `maxAwaitingAcks` such files; the byte window bounds the
 * rest): otherwise many small files would each wait a broker round trip with the next one idle.
 *
 * @module
 */

import type { FileOutcome } from "./file_uploader.ts";

/** Starts one file's upload; `onAllSent` is called once only acknowledgements are awaited. */
export type StartUpload = (path: string, onAllSent: () => void) => Promise<FileOutcome>;

/** Options of {@linkcode UploadQueue}. */
export interface UploadQueueOptions {
  /** Files read and sent at once (reading slots); default 4. */
  concurrency?: number;
  /** Files at most whose chunks were all sent and whose acknowledgements are awaited; default 256. */
  maxAwaitingAcks?: number;
  /** Called when a file is finished, whatever the outcome. */
  onDone?: (path: string, outcome: FileOutcome) => void;
  /** Once aborted, no further file is started (those in flight go on). */
  signal?: AbortSignal;
  /**
   * Asked before each start: an error it returns (a producer that can no longer deliver, such
   * as one not authorized to write to the topic) starts no further file, and `drain` throws it.
   */
  fatalError?: () => Error | undefined;
}

/** How many files wait and are in flight, as {@linkcode UploadQueue.stats} reports it. */
export interface UploadQueueStats {
  /** Files queued and not started yet. */
  waiting: number;
  /** Milliseconds the longest-waiting queued file has waited (0 when none waits). */
  oldestWaitingMs: number;
  /** Files being read and sent. */
  reading: number;
  /** Files whose chunks were all sent, waiting for their acknowledgements. */
  awaitingAcks: number;
}

/**
 * Files to upload, started as slots free up.
 *
 * @example
 * ```ts ignore
 * import { UploadQueue } from "./upload_queue.ts";
 * const queue = new UploadQueue((path, onAllSent) => session.uploadOne(path, onAllSent));
 * for (const path of ["a", "b"]) queue.push(path);
 * await queue.drain();
 * ```
 */
export class UploadQueue {
  readonly #start: StartUpload;
  readonly #concurrency: number;
  readonly #maxAwaitingAcks: number;
  readonly #onDone?: (path: string, outcome: FileOutcome) => void;
  readonly #signal?: AbortSignal;
  readonly #fatalError?: () => Error | undefined;
  /** Queued paths and when each was queued (`performance.now()`), in queue order. */
  readonly #waiting = new Map<string, number>();
  readonly #inFlight = new Set<string>();
  readonly #finishing = new Set<Promise<unknown>>();
  #reading = 0;
  #failure: { error: unknown } | undefined;
  #idle = Promise.withResolvers<void>();

  /**
   * Creates an empty queue.
   *
   * @param start Starts one file's upload.
   * @param options Slots, the callback for finished files, the stop signal.
   */
  constructor(start: StartUpload, options: UploadQueueOptions = {}) {
    this.#start = start;
    this.#concurrency = Math.max(1, options.concurrency ?? 4);
    this.#maxAwaitingAcks = Math.max(1, options.maxAwaitingAcks ?? 256);
    this.#onDone = options.onDone;
    this.#signal = options.signal;
    this.#fatalError = options.fatalError;
    this.#idle.resolve();
  }

  /** Queues a file (a file already queued keeps its place); starts it if a slot is free. */
  push(path: string): void {
    if (this.#waiting.has(path)) return;
    if (this.#waiting.size === 0 && this.#finishing.size === 0) {
      this.#idle = Promise.withResolvers<void>();
    }
    this.#waiting.set(path, performance.now());
    this.#pump();
  }

  /** Whether the file is queued or in flight. */
  has(path: string): boolean {
    return this.#waiting.has(path) || this.#inFlight.has(path);
  }

  /** Whether the file is being uploaded now. */
  inFlight(path: string): boolean {
    return this.#inFlight.has(path);
  }

  /** The figures of the backlog now. */
  stats(): UploadQueueStats {
    let oldest = 0;
    for (const since of this.#waiting.values()) {
      oldest = performance.now() - since;
      break;
    }
    return {
      waiting: this.#waiting.size,
      oldestWaitingMs: Math.max(0, oldest),
      reading: this.#reading,
      awaitingAcks: this.#finishing.size - this.#reading,
    };
  }

  /**
   * Waits until nothing is queued or in flight (queued files are not started once the signal is
   * aborted: they are dropped). Rethrows the first error an upload threw (outcomes are not
   * errors).
   */
  async drain(): Promise<void> {
    for (;;) {
      if (this.#signal?.aborted) this.#waiting.clear();
      if (this.#waiting.size === 0 && this.#finishing.size === 0) break;
      await this.#idle.promise;
    }
    if (this.#failure) throw this.#failure.error;
  }

  #pump(): void {
    while (
      this.#waiting.size > 0 && this.#reading < this.#concurrency &&
      this.#finishing.size - this.#reading < this.#maxAwaitingAcks
    ) {
      const fatal = this.#fatalError?.();
      if (fatal !== undefined) this.#failure ??= { error: fatal };
      if (this.#signal?.aborted || this.#failure) {
        this.#waiting.clear();
        break;
      }
      const [path] = this.#waiting.keys();
      this.#waiting.delete(path);
      this.#begin(path);
    }
    if (this.#waiting.size === 0 && this.#finishing.size === 0) this.#idle.resolve();
  }

  #begin(path: string): void {
    this.#reading++;
    this.#inFlight.add(path);
    let reading = true;
    const stopReading = () => {
      if (!reading) return;
      reading = false;
      this.#reading--;
      this.#pump();
    };
    const done = this.#start(path, stopReading).then(
      (outcome) => this.#onDone?.(path, outcome),
      (error) => {
        this.#failure ??= { error };
      },
    ).finally(() => {
      this.#inFlight.delete(path);
      this.#finishing.delete(done);
      if (reading) {
        reading = false;
        this.#reading--;
      }
      this.#pump();
    });
    this.#finishing.add(done);
  }
}
