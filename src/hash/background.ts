/**
 * SHA-512 off the main thread, so that an uploader hashes on one core while it reads, encodes
 * and produces on another.
 *
 * The digests are computed by OpenSSL's libcrypto (the library librdkafka links for TLS, so it
 * is there wherever librdkafka is) through Deno FFI symbols marked `nonblocking` (see
 * `libcrypto.ts`): each call runs on Deno's pool of blocking threads and returns a promise.
 * Neither `node:crypto` (synchronous) nor `crypto.subtle.digest` (computed on the calling thread
 * in this Deno, despite its promise) can do that. When libcrypto cannot be loaded (not
 * installed, or `--allow-ffi` scoped to librdkafka alone) {@linkcode backgroundSha512} falls
 * back to `node:crypto` on the main thread (`sha512.ts`): the same digests, only slower.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { type Libcrypto, libcrypto } from "./libcrypto.ts";
import { sha512, Sha512Hasher } from "./sha512.ts";

/** An incremental SHA-512 whose updates run on a background thread. */
export interface BackgroundHasher {
  /**
   * Feeds `bytes` to the hash. `bytes` must stay unchanged until the promise settles, and the
   * next update (or {@linkcode BackgroundHasher.digest}) must wait for it.
   */
  update(bytes: Uint8Array): Promise<void>;
  /** Finishes the hash (64 bytes) and frees it; the hasher cannot be used afterwards. */
  digest(): Uint8Array<ArrayBuffer>;
  /** Frees the hasher without a digest (after an error); no update may be pending. */
  free(): void;
}

/** SHA-512 computed on background threads, or on the main thread as a fallback. */
export interface BackgroundSha512 {
  /** Where the digests are computed: `"openssl"` (background threads) or `"node:crypto"`. */
  readonly engine: "openssl" | "node:crypto";
  /**
   * The SHA-512 digest of `bytes`, which must stay unchanged until the promise settles. Several
   * digests may run at once, each on its own thread.
   */
  digest(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>>;
  /** A new incremental hasher. */
  hasher(): BackgroundHasher;
}

const logger = getLogger(["ferry", "hash"]);

class OpenSslHasher implements BackgroundHasher {
  #ctx: Deno.PointerObject | null;
  #busy = false;

  constructor(readonly lib: Libcrypto, md: Deno.PointerObject) {
    const ctx = lib.EVP_MD_CTX_new();
    if (ctx === null) throw new Error("OpenSSL could not allocate a SHA-512 context.");
    if (lib.EVP_DigestInit_ex(ctx, md, null) !== 1) {
      lib.EVP_MD_CTX_free(ctx);
      throw new Error("OpenSSL could not start a SHA-512 digest.");
    }
    this.#ctx = ctx;
  }

  async update(bytes: Uint8Array): Promise<void> {
    const ctx = this.#usable();
    this.#busy = true;
    try {
      const ok = await this.lib.EVP_DigestUpdate(ctx, bytes, BigInt(bytes.byteLength));
      if (ok !== 1) throw new Error("OpenSSL failed to update a SHA-512 digest.");
    } finally {
      this.#busy = false;
    }
  }

  digest(): Uint8Array<ArrayBuffer> {
    const ctx = this.#usable();
    const out = new Uint8Array(64);
    const ok = this.lib.EVP_DigestFinal_ex(ctx, out, null);
    this.free();
    if (ok !== 1) throw new Error("OpenSSL failed to finish a SHA-512 digest.");
    return out;
  }

  free(): void {
    if (this.#busy) throw new Error("Cannot free a SHA-512 hasher while an update is running.");
    if (this.#ctx !== null) this.lib.EVP_MD_CTX_free(this.#ctx);
    this.#ctx = null;
  }

  #usable(): Deno.PointerObject {
    if (this.#ctx === null) throw new Error("This SHA-512 hasher was already finished.");
    if (this.#busy) throw new Error("A SHA-512 update is still running: await it first.");
    return this.#ctx;
  }
}

class OpenSslSha512 implements BackgroundSha512 {
  readonly engine = "openssl";
  readonly #md: Deno.PointerObject;

  constructor(readonly lib: Libcrypto) {
    const md = lib.EVP_sha512();
    if (md === null) throw new Error("OpenSSL has no SHA-512.");
    this.#md = md;
  }

  async digest(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    const out = new Uint8Array(64);
    const ok = await this.lib.EVP_Digest(
      bytes,
      BigInt(bytes.byteLength),
      out,
      null,
      this.#md,
      null,
    );
    if (ok !== 1) throw new Error("OpenSSL failed to compute a SHA-512 digest.");
    return out;
  }

  hasher(): BackgroundHasher {
    return new OpenSslHasher(this.lib, this.#md);
  }
}

class NodeHasher implements BackgroundHasher {
  #hasher: Sha512Hasher | undefined = new Sha512Hasher();

  update(bytes: Uint8Array): Promise<void> {
    if (!this.#hasher) throw new Error("This SHA-512 hasher was already finished.");
    this.#hasher.update(bytes);
    return Promise.resolve();
  }

  digest(): Uint8Array<ArrayBuffer> {
    if (!this.#hasher) throw new Error("This SHA-512 hasher was already finished.");
    const out = this.#hasher.digest();
    this.#hasher = undefined;
    return out;
  }

  free(): void {
    this.#hasher = undefined;
  }
}

/**
 * SHA-512 with `node:crypto`, on the calling thread: the fallback of
 * {@linkcode backgroundSha512}, with the same interface.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nodeSha512 } from "./background.ts";
 * import { sha512 } from "./sha512.ts";
 *
 * const bytes = new TextEncoder().encode("abc");
 * assert.deepEqual(await nodeSha512.digest(bytes), sha512(bytes));
 * ```
 */
export const nodeSha512: BackgroundSha512 = {
  engine: "node:crypto",
  digest(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    return Promise.resolve(sha512(bytes));
  },
  hasher(): BackgroundHasher {
    return new NodeHasher();
  },
};

let loaded: BackgroundSha512 | undefined;

/**
 * Loads OpenSSL's libcrypto for SHA-512 on background threads, or returns `undefined` (and
 * says why at debug level) when it cannot be loaded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { opensslSha512 } from "./background.ts";
 * import { sha512 } from "./sha512.ts";
 *
 * const openssl = opensslSha512();
 * if (openssl) {
 *   const bytes = new TextEncoder().encode("abc");
 *   assert.deepEqual(await openssl.digest(bytes), sha512(bytes));
 * }
 * ```
 *
 * @returns The OpenSSL engine, or undefined.
 */
export function opensslSha512(): BackgroundSha512 | undefined {
  try {
    return new OpenSslSha512(libcrypto());
  } catch (error) {
    logger.debug("{reason} SHA-512 runs on the main thread.", {
      reason: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}

/**
 * SHA-512 on background threads (OpenSSL), or `node:crypto` on the main thread when libcrypto
 * cannot be loaded. Loaded once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backgroundSha512 } from "./background.ts";
 * import { sha512 } from "./sha512.ts";
 *
 * const sha = backgroundSha512();
 * const bytes = new TextEncoder().encode("hello, world");
 * const hasher = sha.hasher();
 * await hasher.update(bytes.subarray(0, 5));
 * await hasher.update(bytes.subarray(5));
 * assert.deepEqual(hasher.digest(), sha512(bytes));
 * assert.deepEqual(await sha.digest(bytes), sha512(bytes));
 * ```
 *
 * @returns The engine.
 */
export function backgroundSha512(): BackgroundSha512 {
  loaded ??= opensslSha512() ?? nodeSha512;
  return loaded;
}
