/**
 * What the loaded librdkafka can do, by its version (`rd_kafka_version()`). Ferry runs on
 * Debian 12's librdkafka 2.0.2 and on newer releases; the workarounds for 2.0.2's bugs are kept
 * only for the versions that need them, and the features of newer releases are offered only
 * where the library has them.
 *
 * @module
 */

import { rdkafka } from "./ffi.ts";

/**
 * The librdkafka release each feature (or fix) arrived in.
 *
 * - `fetchQueueBackoff`: `fetch.queue.backoff.ms`, how long a partition whose queue is full
 *   waits before fetching again (2.2.0; before, a fixed second).
 * - `consumerGroupProtocol`: KIP-848's `group.protocol=consumer`, generally available in 2.10.0.
 * - `commonRetryBackoff`: `retry.backoff.ms` read by every client (2.3.0, KIP-580's exponential
 *   backoff; before, by producers only).
 * - `earlyCloseSafe`: a consumer of the cooperative-sticky assignor may close between its first
 *   JoinGroup answer and its first assignment (2.3.0; before, `rd_kafka_destroy` failed an
 *   assertion and aborted the process, confluentinc/librdkafka#4312).
 */
export const LIBRARY_FEATURES = {
  fetchQueueBackoff: "2.2.0",
  consumerGroupProtocol: "2.10.0",
  commonRetryBackoff: "2.3.0",
  earlyCloseSafe: "2.3.0",
} as const;

/** A feature of {@linkcode LIBRARY_FEATURES}. */
export type LibraryFeature = keyof typeof LIBRARY_FEATURES;

/**
 * A version `"major.minor.revision"` in librdkafka's integer form without its pre-release
 * byte (`0xMMmmrr`), as {@linkcode hasLibraryFeature} compares them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { versionNumber } from "./library_features.ts";
 *
 * assert.equal(versionNumber("2.10.0"), 0x020a00);
 * assert.ok(versionNumber("2.15.1") > versionNumber("2.2.0"));
 * ```
 */
export function versionNumber(version: string): number {
  const parts = version.split(".").map(Number);
  if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new RangeError(`Not a librdkafka version: ${JSON.stringify(version)}.`);
  }
  return (parts[0] << 16) | (parts[1] << 8) | parts[2];
}

/**
 * Whether librdkafka of version `loaded` (`rd_kafka_version()`'s `0xMMmmrrpp`; the loaded
 * library's when left out) has `feature`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hasLibraryFeature } from "./library_features.ts";
 *
 * assert.equal(hasLibraryFeature("consumerGroupProtocol", 0x020002ff), false); // 2.0.2
 * assert.equal(hasLibraryFeature("consumerGroupProtocol", 0x020f01ff), true); // 2.15.1
 * ```
 */
export function hasLibraryFeature(feature: LibraryFeature, loaded?: number): boolean {
  const version = loaded ?? rdkafka().rd_kafka_version();
  return version >>> 8 >= versionNumber(LIBRARY_FEATURES[feature]);
}
