/**
 * Puts files on a topic as chunk messages, the way an uploader does, for tests that need full
 * control (hostile input, chunks spread over partitions as OpenMSIStream does).
 *
 * @module
 */

import { encode as msgpackEncode } from "@msgpack/msgpack";
import { chunkKey } from "../../src/chunks/key.ts";
import { createChunk, type DataFileChunk } from "../../src/chunks/chunk.ts";
import { encodeChunk } from "../../src/chunks/encode.ts";
import { sha512 } from "../../src/hash/sha512.ts";
import { Producer } from "../../src/kafka/mod.ts";
import { BOOTSTRAP } from "./broker.ts";

/** A file to put on a topic. */
export interface TestFile {
  /** Relative path, such as `run1/a.dat`. */
  path: string;
  /** Content. */
  bytes: Uint8Array;
  /** The `file_mtime` its chunks carry (seconds since the epoch), if any: its generation. */
  mtime?: number;
}

/** Splits a file into its chunks, as an uploader would (`chunkSize` bytes each, default 16 KiB). */
export function fileChunks(file: TestFile, chunkSize = 16 * 1024): DataFileChunk[] {
  const slash = file.path.lastIndexOf("/");
  const subdir = slash < 0 ? "" : file.path.slice(0, slash);
  const filename = file.path.slice(slash + 1);
  const fileHash = sha512(file.bytes);
  const total = Math.max(1, Math.ceil(file.bytes.length / chunkSize));
  const chunks: DataFileChunk[] = [];
  for (let i = 0; i < total; i++) {
    chunks.push(createChunk({
      filename,
      subdir,
      fileHash,
      chunkOffset: i * chunkSize,
      chunkIndex: i + 1,
      totalChunks: total,
      data: file.bytes.subarray(i * chunkSize, (i + 1) * chunkSize),
      ...(file.mtime === undefined ? {} : { fileMtime: file.mtime }),
    }));
  }
  return chunks;
}

/**
 * Encodes a chunk as a 9-field msgpack message without any of `encodeChunk`'s checks, so
 * tests can build hostile messages (unsafe paths, wrong hashes, bad counts).
 */
export function encodeChunkUnchecked(chunk: DataFileChunk): Uint8Array {
  return msgpackEncode([
    chunk.filename,
    chunk.fileHash,
    chunk.chunkHash,
    chunk.chunkOffset,
    chunk.chunkIndex,
    chunk.totalChunks,
    chunk.subdir,
    chunk.filenameAppend,
    chunk.data,
  ]);
}

/** Produces raw message values (null for a message without a value) to one partition, in order. */
export async function putMessages(
  topic: string,
  values: readonly (Uint8Array | null)[],
  partition = 0,
): Promise<void> {
  await using producer = new Producer({ "bootstrap.servers": BOOTSTRAP, "linger.ms": 5 });
  const deliveries: Promise<unknown>[] = [];
  for (const value of values) {
    const pending = await producer.send({ topic, partition, value });
    deliveries.push(pending.delivered);
  }
  await Promise.all(deliveries);
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
  const partitions = options.partitions ?? 1;
  await using producer = new Producer({ "bootstrap.servers": BOOTSTRAP, "linger.ms": 5 });
  const deliveries: Promise<unknown>[] = [];
  let fileIndex = 0;
  for (const file of files) {
    for (const chunk of fileChunks(file, options.chunkSize)) {
      const partition = options.spread
        ? (chunk.chunkIndex - 1) % partitions
        : fileIndex % partitions;
      const pending = await producer.send({
        topic,
        partition,
        key: chunkKey(chunk),
        value: encodeChunk(chunk, { includeMtime: chunk.fileMtime !== undefined }),
      });
      deliveries.push(pending.delivered);
    }
    fileIndex++;
  }
  await Promise.all(deliveries);
}
