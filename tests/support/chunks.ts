/**
 * Puts files on a topic as chunk messages, the way an uploader does, for tests that need full
 * control (hostile input, chunks spread over partitions as OpenMSIStream does).
 *
 * @module
 */

import { chunkKey } from "../../src/chunks/key.ts";
import { createChunk } from "../../src/chunks/chunk.ts";
import { encodeChunk } from "../../src/chunks/codec.ts";
import { sha512 } from "../../src/chunks/hash.ts";
import { Producer } from "../../src/kafka/mod.ts";
import { BOOTSTRAP } from "./broker.ts";

/** A file to put on a topic. */
export interface TestFile {
  /** Relative path, such as `run1/a.dat`. */
  path: string;
  /** Content. */
  bytes: Uint8Array;
}

/** Deterministic pseudo-random bytes. */
export function testBytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Produces every file's chunks. `partition` chooses where: "spread" puts chunk i in
 * partition i % partitions (as OpenMSIStream's default partitioner may), a number pins all.
 */
export async function putFiles(
  topic: string,
  files: readonly TestFile[],
  options: { chunkSize?: number; partitions?: number; spread?: boolean } = {},
): Promise<void> {
  const chunkSize = options.chunkSize ?? 16 * 1024;
  const partitions = options.partitions ?? 1;
  await using producer = new Producer({ "bootstrap.servers": BOOTSTRAP, "linger.ms": 5 });
  const deliveries: Promise<unknown>[] = [];
  let fileIndex = 0;
  for (const file of files) {
    const slash = file.path.lastIndexOf("/");
    const subdir = slash < 0 ? "" : file.path.slice(0, slash);
    const filename = file.path.slice(slash + 1);
    const fileHash = sha512(file.bytes);
    const total = Math.max(1, Math.ceil(file.bytes.length / chunkSize));
    for (let i = 0; i < total; i++) {
      const chunk = createChunk({
        filename,
        subdir,
        fileHash,
        chunkOffset: i * chunkSize,
        chunkIndex: i + 1,
        totalChunks: total,
        data: file.bytes.subarray(i * chunkSize, (i + 1) * chunkSize),
      });
      const partition = options.spread ? i % partitions : fileIndex % partitions;
      const pending = await producer.send({
        topic,
        partition,
        key: chunkKey(chunk),
        value: encodeChunk(chunk),
      });
      deliveries.push(pending.delivered);
    }
    fileIndex++;
  }
  await Promise.all(deliveries);
}
