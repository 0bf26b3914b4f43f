/**
 * Partition affinity for uploads: every chunk of a file goes to the partition chosen from a
 * stable hash of the file's relative path, so one consumer always sees a whole file.
 *
 * The hash is Kafka's murmur2, exactly as the Java client's default partitioner computes it for
 * a key (`Utils.toPositive(Utils.murmur2(bytes)) % numPartitions`), over the UTF-8 bytes of the
 * relative POSIX path. So a Java or librdkafka (`partitioner=murmur2`) producer keyed by the
 * relative path would choose the same partition.
 *
 * @module
 */

import { crc32 } from "node:zlib";

const encoder = new TextEncoder();

/**
 * Kafka's murmur2 hash (seed `0x9747b28c`), as a signed 32-bit integer like Java's
 * `org.apache.kafka.common.utils.Utils.murmur2`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { murmur2 } from "./partition.ts";
 *
 * assert.equal(murmur2(new TextEncoder().encode("21")), -973932308);
 * ```
 *
 * @param data The bytes to hash.
 * @returns The hash, from -2^31 to 2^31 - 1.
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  const r = 24;
  let h = (0x9747b28c ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = (data[i4] & 0xff) + ((data[i4 + 1] & 0xff) << 8) + ((data[i4 + 2] & 0xff) << 16) +
      ((data[i4 + 3] & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = length4 * 4;
  const rest = length % 4;
  if (rest === 3) h ^= (data[tail + 2] & 0xff) << 16;
  if (rest >= 2) h ^= (data[tail + 1] & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[tail] & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition for a file: `(murmur2(utf8(relativePath)) & 0x7fffffff) % partitionCount`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { partitionForPath } from "./partition.ts";
 *
 * const p = partitionForPath("run1/raw/scan.tif", 8);
 * assert.ok(p >= 0 && p < 8);
 * assert.equal(partitionForPath("run1/raw/scan.tif", 8), p); // stable
 * ```
 *
 * @param relativePath The file's POSIX path relative to the uploaded root.
 * @param partitionCount The topic's number of partitions, at least 1.
 * @returns A partition number from 0 to `partitionCount - 1`.
 */
export function partitionForPath(relativePath: string, partitionCount: number): number {
  if (!Number.isSafeInteger(partitionCount) || partitionCount < 1) {
    throw new RangeError(`Partition count ${partitionCount} is not a positive integer.`);
  }
  return (murmur2(encoder.encode(relativePath)) & 0x7fffffff) % partitionCount;
}

/**
 * The partition librdkafka's default partitioner (`consistent_random`) gives a message with a
 * non-empty key: `crc32(key) % partitionCount`. The uploader sends chunks of the `default`
 * partitioner to it explicitly (the same partition librdkafka would choose), so that the
 * producer can bound the messages it holds per partition.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { consistentPartition } from "./partition.ts";
 *
 * assert.equal(consistentPartition("123456789", 1000), 0xcbf43926 % 1000);
 * ```
 *
 * @param key The message key (UTF-8), not empty.
 * @param partitionCount The topic's number of partitions, at least 1.
 * @returns A partition number from 0 to `partitionCount - 1`.
 */
export function consistentPartition(key: string, partitionCount: number): number {
  if (!Number.isSafeInteger(partitionCount) || partitionCount < 1) {
    throw new RangeError(`Partition count ${partitionCount} is not a positive integer.`);
  }
  return (crc32(encoder.encode(key)) >>> 0) % partitionCount;
}
