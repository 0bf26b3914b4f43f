/**
 * The SHA-512 of a file rebuilt in one buffer (memory and both modes), computed from that
 * buffer while its chunks arrive: each time the bytes filled from offset 0 on grow, the new
 * ones are fed to an incremental hash on a background thread (`backgroundSha512`, OpenSSL's
 * libcrypto on Deno's blocking threads). The chunk data then needs no copy of its own for the
 * file-hash lane: it is copied once, from librdkafka's memory into the file's buffer, and hashed
 * there. Chunks may come in any order; the hash follows the filled prefix.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { BackgroundHasher, BackgroundSha512 } from "../hash/background.ts";
import { hashHex } from "../hash/sha512.ts";

const logger = getLogger(["ferry", "hash"]);

/**
 * Hashes a buffer's filled prefix as it grows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BufferHash } from "./buffer_hash.ts";
 * import { backgroundSha512 } from "../hash/background.ts";
 * import { hashHex, sha512 } from "../hash/sha512.ts";
 *
 * const buffer = new TextEncoder().encode("hello, world");
 * const hash = new BufferHash(backgroundSha512(), buffer);
 * hash.filled(7, 5); // bytes 7..12 first: nothing to hash yet
 * hash.filled(0, 7); // now 0..12
 * assert.equal(await hash.digest(buffer.length), hashHex(sha512(buffer)));
 * ```
 */
export class BufferHash {
  readonly #buffer: Uint8Array;
  #hasher: BackgroundHasher | undefined;
  /** Bytes from offset 0 fed to the hash (or queued for it). */
  #prefix = 0;
  /** Filled ranges past the prefix, by offset: their lengths. */
  readonly #ahead = new Map<number, number>();
  /** The updates, one after the other; rejected once one failed. */
  #chain: Promise<void> = Promise.resolve();

  /** Starts a hash of `buffer`, whose bytes are then reported with {@linkcode filled}. */
  constructor(sha: BackgroundSha512, buffer: Uint8Array) {
    this.#buffer = buffer;
    this.#hasher = sha.hasher();
  }

  /**
   * Says `length` bytes at `offset` were written and stay unchanged: hashed once every byte
   * before them is.
   */
  filled(offset: number, length: number): void {
    if (this.#hasher === undefined || length === 0) return;
    if (offset !== this.#prefix) {
      if (offset > this.#prefix) this.#ahead.set(offset, length);
      return;
    }
    let end = offset + length;
    for (let next = this.#ahead.get(end); next !== undefined; next = this.#ahead.get(end)) {
      this.#ahead.delete(end);
      end += next;
    }
    const bytes = this.#buffer.subarray(this.#prefix, end);
    this.#prefix = end;
    const hasher = this.#hasher;
    this.#chain = this.#chain.then(() => hasher.update(bytes));
  }

  /**
   * The SHA-512 (hex) of the buffer's first `size` bytes, once hashed; `undefined` when they
   * were not all reported filled, or a hash update failed (the caller hashes the file itself).
   * The hash is finished either way.
   */
  async digest(size: number): Promise<string | undefined> {
    const hasher = this.#hasher;
    this.#hasher = undefined;
    if (hasher === undefined) return undefined;
    try {
      await this.#chain;
    } catch (error) {
      logger.warn("Hashing a file buffer failed ({error}); the file is hashed again whole.", {
        error: error instanceof Error ? error.message : String(error),
      });
      hasher.free();
      return undefined;
    }
    if (this.#prefix !== size) {
      hasher.free();
      return undefined;
    }
    return hashHex(hasher.digest());
  }

  /** Gives the hash up (the file was spilled to disk or discarded), once its updates ran. */
  abandon(): void {
    const hasher = this.#hasher;
    this.#hasher = undefined;
    this.#ahead.clear();
    // A failed update needs no word here: nothing uses this hash any more.
    if (hasher !== undefined) this.#chain.catch(() => undefined).then(() => hasher.free());
  }
}
