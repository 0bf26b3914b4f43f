/**
 * A limit on the bytes handed to the producer but not yet acknowledged, which keeps the
 * uploader's memory bounded whatever the file sizes.
 *
 * @module
 */

/**
 * A counting semaphore over bytes. A request larger than the whole window is let through when
 * nothing else is in flight, so it can never wait forever.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteWindow } from "./byte_window.ts";
 *
 * const window = new ByteWindow(10);
 * await window.acquire(8);
 * let second = false;
 * const waiting = window.acquire(5).then(() => second = true);
 * await Promise.resolve();
 * assert.equal(second, false);
 * window.release(8);
 * await waiting;
 * assert.equal(window.inFlight, 5);
 * ```
 */
export class ByteWindow {
  /** The limit in bytes. */
  readonly limit: number;
  #inFlight = 0;
  #waiters: { bytes: number; wake: () => void }[] = [];

  /** Creates a window of `limit` bytes. */
  constructor(limit: number) {
    if (!(limit > 0)) throw new RangeError(`Window size ${limit} is not a positive number.`);
    this.limit = limit;
  }

  /** The bytes currently acquired. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Waits until `bytes` fit in the window, then takes them. */
  acquire(bytes: number): Promise<void> {
    if (this.#waiters.length === 0 && this.#fits(bytes)) {
      this.#inFlight += bytes;
      return Promise.resolve();
    }
    return new Promise((wake) => this.#waiters.push({ bytes, wake }));
  }

  /** Gives `bytes` back and wakes waiters that now fit, in order. */
  release(bytes: number): void {
    this.#inFlight -= bytes;
    while (this.#waiters.length > 0 && this.#fits(this.#waiters[0].bytes)) {
      const next = this.#waiters.shift()!;
      this.#inFlight += next.bytes;
      next.wake();
    }
  }

  #fits(bytes: number): boolean {
    return this.#inFlight === 0 || this.#inFlight + bytes <= this.limit;
  }
}
