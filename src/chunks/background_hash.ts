/**
 * SHA-512 off the main thread, so that an uploader hashes on one core while it reads, encodes
 * and produces on another.
 *
 * The digests are computed by OpenSSL's libcrypto (the library librdkafka links for TLS, so it
 * is there wherever librdkafka is) through Deno FFI symbols marked `nonblocking`: each call runs
 * on Deno's pool of blocking threads and returns a promise. Neither `node:crypto` (synchronous)
 * nor `crypto.subtle.digest` (computed on the calling thread in this Deno, despite its promise)
 * can do that. When libcrypto cannot be loaded (not installed, or `--allow-ffi` scoped to
 * librdkafka alone) {@linkcode backgroundSha512} falls back to `node:crypto` on the main thread:
 * the same digests, only slower.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { getLogger } from "@logtape/logtape";

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

const LIBRARY_NAMES: Record<string, string[]> = {
  linux: ["libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.so"],
  darwin: [
    "libcrypto.3.dylib",
    "/opt/homebrew/opt/openssl@3/lib/libcrypto.3.dylib",
    "/usr/local/opt/openssl@3/lib/libcrypto.3.dylib",
  ],
  windows: ["libcrypto-3-x64.dll", "libcrypto-1_1-x64.dll"],
};

const SYMBOLS = {
  // const EVP_MD *EVP_sha512(void);
  EVP_sha512: { parameters: [], result: "pointer" },
  // EVP_MD_CTX *EVP_MD_CTX_new(void);
  EVP_MD_CTX_new: { parameters: [], result: "pointer" },
  // void EVP_MD_CTX_free(EVP_MD_CTX *ctx);
  EVP_MD_CTX_free: { parameters: ["pointer"], result: "void" },
  // int EVP_DigestInit_ex(EVP_MD_CTX *ctx, const EVP_MD *type, ENGINE *impl);
  EVP_DigestInit_ex: { parameters: ["pointer", "pointer", "pointer"], result: "i32" },
  // int EVP_DigestUpdate(EVP_MD_CTX *ctx, const void *d, size_t cnt);
  EVP_DigestUpdate: {
    parameters: ["pointer", "buffer", "usize"],
    result: "i32",
    nonblocking: true,
  },
  // int EVP_DigestFinal_ex(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *s);
  EVP_DigestFinal_ex: { parameters: ["pointer", "buffer", "pointer"], result: "i32" },
  // int EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size,
  //                const EVP_MD *type, ENGINE *impl);
  EVP_Digest: {
    parameters: ["buffer", "usize", "buffer", "pointer", "pointer", "pointer"],
    result: "i32",
    nonblocking: true,
  },
} as const;

type Crypto = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

class OpenSslHasher implements BackgroundHasher {
  #ctx: Deno.PointerObject | null;
  #busy = false;

  constructor(readonly lib: Crypto, md: Deno.PointerObject) {
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

  constructor(readonly lib: Crypto) {
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
  #hash: Hash | undefined = createHash("sha512");

  update(bytes: Uint8Array): Promise<void> {
    if (!this.#hash) throw new Error("This SHA-512 hasher was already finished.");
    this.#hash.update(bytes);
    return Promise.resolve();
  }

  digest(): Uint8Array<ArrayBuffer> {
    if (!this.#hash) throw new Error("This SHA-512 hasher was already finished.");
    const out = new Uint8Array(this.#hash.digest());
    this.#hash = undefined;
    return out;
  }

  free(): void {
    this.#hash = undefined;
  }
}

/**
 * SHA-512 with `node:crypto`, on the calling thread: the fallback of
 * {@linkcode backgroundSha512}, with the same interface.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nodeSha512 } from "./background_hash.ts";
 * import { sha512 } from "./hash.ts";
 *
 * const bytes = new TextEncoder().encode("abc");
 * assert.deepEqual(await nodeSha512.digest(bytes), sha512(bytes));
 * ```
 */
export const nodeSha512: BackgroundSha512 = {
  engine: "node:crypto",
  digest(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    return Promise.resolve(new Uint8Array(createHash("sha512").update(bytes).digest()));
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
 * import { opensslSha512 } from "./background_hash.ts";
 * import { sha512 } from "./hash.ts";
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
  const reasons: string[] = [];
  for (const name of LIBRARY_NAMES[Deno.build.os] ?? LIBRARY_NAMES.linux) {
    try {
      return new OpenSslSha512(Deno.dlopen(name, SYMBOLS).symbols);
    } catch (error) {
      reasons.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  logger.debug(
    "OpenSSL's libcrypto could not be loaded ({reasons}); SHA-512 runs on the main thread.",
    { reasons: reasons.join("; ") },
  );
  return undefined;
}

/**
 * SHA-512 on background threads (OpenSSL), or `node:crypto` on the main thread when libcrypto
 * cannot be loaded. Loaded once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backgroundSha512 } from "./background_hash.ts";
 * import { sha512 } from "./hash.ts";
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
