/**
 * Buffers for message values, recycled. The coordinator copies every message value out of
 * librdkafka; a fresh 512 KiB array costs about ten times the copy itself (its pages are new
 * to the process: zeroed and faulted in one by one), so buffers that come back from the hash
 * worker, which the coordinator handed them to by transfer, are used again for later values.
 * Only buffers that came back are reused: each was transferred, so nothing else can still see
 * its bytes.
 *
 * @module
 */

/** The most bytes of spare buffers kept (beyond, returned buffers are freed at once). */
export const MAX_POOLED_BYTES = 32 * 1024 * 1024;

/**
 * The most a reused buffer may exceed the value it holds, as a fraction of the value's length:
 * a value handed on by copy (structured clone) copies its whole buffer, slack included.
 */
const MAX_SLACK = 1 / 8;

/**
 * A pool of spare buffers for values of similar sizes (a topic's chunks are mostly of one size).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ValuePool } from "./value_pool.ts";
 *
 * const pool = new ValuePool();
 * const first = pool.take(1000);
 * const buffer = first.buffer.transfer(); // as a worker would send it back
 * pool.give(buffer);
 * const again = pool.take(990);
 * assert.equal(again.buffer, buffer);
 * assert.equal(again.length, 990);
 * ```
 */
export class ValuePool {
  readonly #spare: ArrayBuffer[] = [];
  #bytes = 0;

  /** Bytes held in spare buffers. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * An array of exactly `length` bytes: a view on a spare buffer that fits (at least `length`,
   * at most an eighth more), or a new array. Its contents are unspecified until written.
   */
  take(length: number): Uint8Array<ArrayBuffer> {
    const spare = this.#spare;
    for (let i = spare.length - 1; i >= 0; i--) {
      const size = spare[i].byteLength;
      if (size >= length && size - length <= length * MAX_SLACK) {
        const buffer = spare[i];
        spare[i] = spare[spare.length - 1];
        spare.pop();
        this.#bytes -= size;
        return new Uint8Array(buffer, 0, length);
      }
    }
    return new Uint8Array(length);
  }

  /** Gives back a buffer no one else can see (it came back by transfer); freed if the pool is full. */
  give(buffer: ArrayBuffer): void {
    if (buffer.detached || buffer.resizable || buffer.byteLength === 0) return;
    if (this.#bytes + buffer.byteLength > MAX_POOLED_BYTES) {
      buffer.transfer(0); // frees its memory now rather than at a later garbage collection
      return;
    }
    this.#spare.push(buffer);
    this.#bytes += buffer.byteLength;
  }
}
