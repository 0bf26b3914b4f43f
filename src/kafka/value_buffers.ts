/**
 * Recycled buffers for the values {@linkcode Consumer.poll} copies out of librdkafka. A fresh
 * `ArrayBuffer` per message costs more than the copy into it: its pages are faulted in one by
 * one, and freeing it costs a `munmap` or `madvise` (measured on the file processor: page
 * faults of fresh buffers were the largest part of its coordinator's system time). A consumer
 * whose messages' buffers come back once used (the file processor: each chunk's buffer comes
 * back from the file-hash worker once hashed) hands them to {@linkcode ValueBuffers.give}, and
 * the next polls copy into them.
 *
 * A value is a view of exactly its length over a buffer of a size class (its length rounded up
 * to {@linkcode VALUE_BUFFER_GRAIN}), so chunks of one chunk size share their buffers whatever
 * the length of their paths. At most `maxBytes` of buffers are kept; the rest are left to the
 * garbage collector, as without a pool.
 *
 * @module
 */

/** Buffer sizes are multiples of this (64 KiB). */
export const VALUE_BUFFER_GRAIN = 64 * 1024;

/** The default most bytes of idle buffers kept (48 MiB). */
export const DEFAULT_VALUE_BUFFER_BYTES = 48 * 1024 * 1024;

/**
 * Idle buffers for message values, by size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ValueBuffers } from "./value_buffers.ts";
 * const buffers = new ValueBuffers();
 * const value = buffers.take(100_000);
 * assert.equal(value.length, 100_000);
 * buffers.give(value.buffer);
 * assert.equal(buffers.take(90_000).buffer, value.buffer);
 * ```
 */
export class ValueBuffers {
  readonly #idle = new Map<number, ArrayBuffer[]>();
  readonly #maxBytes: number;
  #bytes = 0;

  /** A pool keeping at most `maxBytes` of idle buffers. */
  constructor(maxBytes = DEFAULT_VALUE_BUFFER_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes of idle buffers held. */
  get idleBytes(): number {
    return this.#bytes;
  }

  /** A view of `length` bytes over an idle buffer of its size class, or over a new one. */
  take(length: number): Uint8Array<ArrayBuffer> {
    const size = sizeClass(length);
    const idle = this.#idle.get(size)?.pop();
    if (idle === undefined) return new Uint8Array(new ArrayBuffer(size), 0, length);
    this.#bytes -= size;
    return new Uint8Array(idle, 0, length);
  }

  /**
   * Takes back a buffer no one uses any more (no view of it is read or written from now on).
   * Buffers of no size class (not made by {@linkcode ValueBuffers.take}), detached or
   * resizable ones, and any beyond the pool's bound are dropped.
   */
  give(buffer: ArrayBuffer): void {
    const size = buffer.byteLength;
    if (
      buffer.detached || buffer.resizable || size === 0 || size % VALUE_BUFFER_GRAIN !== 0 ||
      this.#bytes + size > this.#maxBytes
    ) return;
    let idle = this.#idle.get(size);
    if (idle === undefined) this.#idle.set(size, idle = []);
    idle.push(buffer);
    this.#bytes += size;
  }
}

function sizeClass(length: number): number {
  return Math.max(1, Math.ceil(length / VALUE_BUFFER_GRAIN)) * VALUE_BUFFER_GRAIN;
}
