/**
 * The OpenSSL libcrypto symbol table and library loading, for SHA-512 through Deno FFI.
 *
 * libcrypto is the library librdkafka links for TLS, so it is there wherever librdkafka is.
 * Every symbol Ferry calls is listed here once, with its C prototype. Only the calls that hash
 * data (`EVP_DigestUpdate`, `EVP_Digest`) are `nonblocking`: they run on Deno's pool of blocking
 * threads and return a promise, so hashing uses another core while the calling thread goes on.
 * Everything else is a fast synchronous call. Only symbols present in OpenSSL 1.1 and 3 are
 * used.
 *
 * @module
 */

const symbols = {
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
} as const satisfies Deno.ForeignLibraryInterface;

/** The typed libcrypto library handle. */
export type Libcrypto = Deno.DynamicLibrary<typeof symbols>["symbols"];

/** Names tried, in order. */
const LIBRARY_NAMES: Record<string, string[]> = {
  linux: ["libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.so"],
  darwin: [
    "libcrypto.3.dylib",
    "/opt/homebrew/opt/openssl@3/lib/libcrypto.3.dylib",
    "/usr/local/opt/openssl@3/lib/libcrypto.3.dylib",
  ],
  windows: ["libcrypto-3-x64.dll", "libcrypto-1_1-x64.dll"],
};

let loaded: Libcrypto | undefined;

/**
 * Loads libcrypto once per thread and returns its symbols.
 *
 * @throws {Error} naming every library tried and why it failed (not installed, or
 * `--allow-ffi` not granted for it).
 */
export function libcrypto(): Libcrypto {
  if (loaded) return loaded;
  const reasons: string[] = [];
  for (const name of LIBRARY_NAMES[Deno.build.os] ?? LIBRARY_NAMES.linux) {
    try {
      loaded = Deno.dlopen(name, symbols).symbols;
      return loaded;
    } catch (error) {
      reasons.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new Error(`OpenSSL's libcrypto could not be loaded (${reasons.join("; ")}).`);
}
