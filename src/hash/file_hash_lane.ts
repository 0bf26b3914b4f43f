/**
 * Whole-file SHA-512s computed while the chunks arrive, on a thread of their own, so that each
 * byte is hashed once: the file's SHA-512 covers every byte, so it is the integrity check (the
 * chunks' own hashes are checked only when it fails, to name the damaged chunks, or on arrival
 * with `--check-chunks`). A file complete is then checked without reading it again, and its
 * `process` starts without waiting for a hash of the whole file.
 *
 * The hash needs the chunks in file order. Files whose chunks arrive in order (every file of a
 * Ferry-written topic: one partition, in order) are hashed here; for a file whose chunks come
 * out of order (OpenMSIStream spreads chunks over partitions) {@linkcode FileHashLane.finish}
 * answers `undefined` and the coordinator hashes the rebuilt file once it is complete, before
 * it goes anywhere (`FileAssembler.digest`).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";

const logger = getLogger(["ferry", "hash"]);

/** What the coordinator sends the hash worker. */
export type ToHashWorker =
  /**
   * The next bytes of a file, in order; `first` starts the file's hash afresh. `recycle`: the
   * data's buffer was transferred; send it back once hashed.
   */
  | { type: "update"; key: string; first: boolean; data: Uint8Array; recycle?: boolean }
  /** Finish a file's hash and answer with its digest. */
  | { type: "digest"; key: string; id: number }
  /** Forget a file. */
  | { type: "drop"; key: string };

/** What the hash worker answers. */
export type FromHashWorker =
  /** An update was hashed (for the bound on bytes in flight); its buffer if it was to recycle. */
  | { type: "updated"; bytes: number; buffer?: ArrayBuffer }
  /** A file's digest (lowercase hex), or null when the worker no longer had its hash. */
  | { type: "digest"; id: number; sha512: string | null };

/** The most bytes sent to the hash worker and not hashed yet, before `waitForRoom` waits. */
export const MAX_BYTES_IN_FLIGHT = 16 * 1024 * 1024;

/** The most files followed at once; beyond, the least recently started is forgotten. */
const MAX_FILES = 10_000;

interface FileState {
  /** The offset the next chunk must start at to be hashed. */
  next: number;
  /** False once a chunk came out of order: the worker hashes the rebuilt file instead. */
  inOrder: boolean;
}

/**
 * Hashes files as their chunks arrive, on a worker thread.
 *
 * @example
 * ```ts
 * import { FileHashLane } from "./file_hash_lane.ts";
 * import { hashHex, sha512 } from "./sha512.ts";
 *
 * const lane = new FileHashLane();
 * const data = new TextEncoder().encode("hello, world");
 * lane.add("k", 0, data.subarray(0, 5), true);
 * lane.add("k", 5, data.subarray(5), false);
 * const digest = await lane.finish("k", data.length);
 * if (digest !== hashHex(sha512(data))) throw new Error("wrong digest");
 * lane.close();
 * ```
 */
export class FileHashLane {
  /** Started by the first chunk fed (a run whose files all hash elsewhere starts none). */
  #started: Worker | undefined;
  readonly #onBuffer: ((buffer: ArrayBuffer) => void) | undefined;
  readonly #files = new Map<string, FileState>();
  readonly #digests = new Map<number, (sha512: string | undefined) => void>();
  readonly #roomWaiters: (() => void)[] = [];
  #nextId = 1;
  #inFlight = 0;
  #broken = false;
  /** Whether handed-over buffers are sent back (to `onBuffer`). */
  readonly #recycle: boolean;

  /**
   * Makes a lane; its hash worker starts with the first chunk fed. `onBuffer` receives the
   * buffers of chunks handed over (see {@linkcode FileHashLane.add}) once hashed, by transfer
   * back: no one else sees them then.
   */
  constructor(options: { onBuffer?: (buffer: ArrayBuffer) => void } = {}) {
    this.#recycle = options.onBuffer !== undefined;
    this.#onBuffer = options.onBuffer;
  }

  /** The hash worker, started on first use. */
  get #worker(): Worker {
    if (this.#started !== undefined) return this.#started;
    const worker = new Worker(new URL("./file_hash_worker.ts", import.meta.url), {
      type: "module",
      name: "ferry-file-hashes",
    });
    this.#started = worker;
    const options = { onBuffer: this.#onBuffer };
    worker.onmessage = (event: MessageEvent<FromHashWorker>) => {
      const message = event.data;
      if (message.type === "updated") {
        this.#inFlight -= message.bytes;
        if (message.buffer) options.onBuffer?.(message.buffer);
        if (this.#inFlight < MAX_BYTES_IN_FLIGHT) {
          for (const wake of this.#roomWaiters.splice(0)) wake();
        }
      } else {
        const resolve = this.#digests.get(message.id);
        this.#digests.delete(message.id);
        resolve?.(message.sha512 ?? undefined);
      }
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      logger.warn(
        "The file hash worker stopped ({message}); rebuilt files are hashed by the workers.",
        { message: event.message },
      );
      this.#break();
    };
    return worker;
  }

  /**
   * Feeds a chunk of a file, just added to its assembly (not a duplicate). `first`: the
   * assembly is new (its first chunk), so any earlier state of the same key is forgotten. The
   * data is copied to the worker, or with `handOver` its whole buffer is transferred (no copy;
   * the caller's views of it become empty): for chunks already written to disk.
   */
  add(key: string, offset: number, data: Uint8Array, first: boolean, handOver = false): void {
    if (this.#broken) return;
    let state = this.#files.get(key);
    if (first || state === undefined) {
      if (state === undefined && this.#files.size >= MAX_FILES) {
        const oldest = this.#files.keys().next().value!;
        this.#files.delete(oldest);
        this.#worker.postMessage({ type: "drop", key: oldest } satisfies ToHashWorker);
      }
      state = { next: 0, inOrder: true };
      this.#files.set(key, state);
    }
    if (!state.inOrder) return;
    if (offset !== state.next) {
      state.inOrder = false;
      this.#worker.postMessage({ type: "drop", key } satisfies ToHashWorker);
      return;
    }
    const length = data.byteLength; // before a transfer empties the view
    const update: ToHashWorker = { type: "update", key, first: offset === 0, data };
    if (handOver && data.buffer instanceof ArrayBuffer && !data.buffer.resizable) {
      // Without a taker the worker frees the buffer at once rather than sending it back.
      if (this.#recycle) update.recycle = true;
      this.#worker.postMessage(update, [data.buffer]);
    } else this.#worker.postMessage(update);
    state.next += length;
    this.#inFlight += length;
  }

  /** Marks a file as not hashed here (its hash is known some other way, or not wanted). */
  skip(key: string): void {
    const state = this.#files.get(key);
    if (state === undefined) return;
    this.#files.delete(key);
    if (state.inOrder && state.next > 0) {
      this.#worker.postMessage({ type: "drop", key } satisfies ToHashWorker);
    }
  }

  /**
   * The SHA-512 (hex) of a complete file of `size` bytes, once every chunk fed before is
   * hashed; `undefined` when its chunks did not all arrive in order (or the lane broke): the
   * caller must hash the file itself.
   */
  finish(key: string, size: number): Promise<string | undefined> {
    const state = this.#files.get(key);
    this.#files.delete(key);
    if (this.#broken || state === undefined || !state.inOrder || state.next !== size) {
      if (state?.inOrder && state.next > 0 && !this.#broken) {
        this.#worker.postMessage({ type: "drop", key } satisfies ToHashWorker);
      }
      return Promise.resolve(undefined);
    }
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#digests.set(id, resolve);
      this.#worker.postMessage({ type: "digest", key, id } satisfies ToHashWorker);
    });
  }

  /** Resolves once fewer than {@linkcode MAX_BYTES_IN_FLIGHT} bytes wait to be hashed. */
  waitForRoom(): Promise<void> {
    if (this.#inFlight < MAX_BYTES_IN_FLIGHT || this.#broken) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  #break(): void {
    this.#broken = true;
    this.#files.clear();
    for (const resolve of this.#digests.values()) resolve(undefined);
    this.#digests.clear();
    for (const wake of this.#roomWaiters.splice(0)) wake();
  }

  /** Stops the worker; digests still awaited resolve `undefined`. */
  close(): void {
    this.#started?.terminate();
    this.#break();
  }
}
