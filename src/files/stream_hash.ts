/**
 * The SHA-512 of a file rebuilt on disk (disk and both modes, without a whole-file buffer),
 * computed from its chunks' data as they arrive in order, on a background thread
 * (`backgroundSha512`, OpenSSL's libcrypto on Deno's blocking threads). The data may be lent
 * (a view of librdkafka's memory, freed at the consumer's next poll): the caller waits for
 * {@linkcode StreamHash.update}'s promise before that memory goes, so a chunk is written to
 * disk and hashed from where librdkafka put it, with no copy. A chunk out of order ends the
 * hash: {@linkcode StreamHash.digest} then says `undefined` and the caller hashes the file
 * from disk.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { BackgroundHasher, BackgroundSha512 } from "../hash/background.ts";
import { hashHex } from "../hash/sha512.ts";

const logger = getLogger(["ferry", "hash"]);

/**
 * Hashes a file's chunks fed in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StreamHash } from "./stream_hash.ts";
 * import { backgroundSha512 } from "../hash/background.ts";
 * import { hashHex, sha512 } from "../hash/sha512.ts";
 *
 * const bytes = new TextEncoder().encode("hello, world");
 * const hash = new StreamHash(backgroundSha512());
 * await hash.update(0, bytes.subarray(0, 5));
 * await hash.update(5, bytes.subarray(5));
 * assert.equal(await hash.digest(bytes.length), hashHex(sha512(bytes)));
 * ```
 */
export class StreamHash {
  #hasher: BackgroundHasher | undefined;
  /** The offset the next chunk must start at. */
  #next = 0;
  #failed = false;
  /** The updates, one after the other (never rejected). */
  #chain: Promise<void> = Promise.resolve();

  /** Starts a hash. */
  constructor(sha: BackgroundSha512) {
    this.#hasher = sha.hasher();
  }

  /**
   * Feeds `bytes`, the file's bytes at `offset`: hashed when they follow what came before,
   * else the hash is given up. Resolves once they are hashed (or given up): `bytes` must stay
   * unchanged until then.
   */
  update(offset: number, bytes: Uint8Array): Promise<void> {
    const hasher = this.#hasher;
    if (hasher === undefined || this.#failed) return Promise.resolve();
    if (offset !== this.#next) {
      this.#failed = true;
      return this.#chain;
    }
    this.#next += bytes.length;
    this.#chain = this.#chain.then(() =>
      hasher.update(bytes).catch((error) => {
        this.#failed = true;
        logger.warn("Hashing a chunk failed ({error}); its file is hashed again from disk.", {
          error: error instanceof Error ? error.message : String(error),
        });
      })
    );
    return this.#chain;
  }

  /**
   * The SHA-512 (hex) of the file's first `size` bytes, once hashed; `undefined` when they did
   * not all come in order, or an update failed. The hash is finished either way.
   */
  async digest(size: number): Promise<string | undefined> {
    const hasher = this.#hasher;
    this.#hasher = undefined;
    if (hasher === undefined) return undefined;
    await this.#chain;
    if (this.#failed || this.#next !== size) {
      hasher.free();
      return undefined;
    }
    return hashHex(hasher.digest());
  }

  /** Gives the hash up (the file was discarded), once its updates ran. */
  abandon(): void {
    const hasher = this.#hasher;
    this.#hasher = undefined;
    if (hasher !== undefined) this.#chain.then(() => hasher.free());
  }
}
