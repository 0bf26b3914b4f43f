/**
 * What `ferry --version` prints: Ferry's version, and the librdkafka it loads (version and
 * path), or why that library could not be loaded.
 *
 * @module
 */

import { librdkafkaVersion, loadedLibraryPath } from "../kafka/mod.ts";

/** Ferry's version (as in `deno.json`). */
export const FERRY_VERSION = "0.1.0";

/**
 * The lines of `ferry --version`: `ferry <version>`, then `librdkafka <version> (<path>)`, or
 * `librdkafka: <why it could not be loaded>` (printing the version never fails).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { versionText } from "./version.ts";
 *
 * const [ferry, librdkafka] = versionText().split("\n");
 * assert.match(ferry, /^ferry \d+\.\d+\.\d+$/);
 * assert.match(librdkafka, /^librdkafka \d+\.\d+\.\d+ \(.*rdkafka.*\)$/);
 * ```
 */
export function versionText(): string {
  let library: string;
  try {
    const version = librdkafkaVersion();
    library = `librdkafka ${version} (${loadedLibraryPath()})`;
  } catch (error) {
    library = `librdkafka: ${error instanceof Error ? error.message : String(error)}`;
  }
  return `ferry ${FERRY_VERSION}\n${library}`;
}
