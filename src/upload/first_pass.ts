/**
 * The first pass of a file's upload: its whole-file SHA-512 (every chunk message carries it, so
 * it must be known before the first chunk is sent), computed on a background thread while this
 * thread reads on, with a CRC-32 of each chunk that the second read must match; files of at most
 * {@linkcode IN_MEMORY_CHUNKS} chunks are read once, kept in memory with their chunk hashes, a
 * file of one chunk straight into its message buffer. Moved out of `file_uploader.ts`.
 *
 * @module
 */

import { crc32 } from "node:zlib";
import type { ChunkLayout } from "../chunks/encode.ts";
import { backgroundSha512 } from "../hash/background.ts";
import { FileChanged } from "./file_failures.ts";
import { readFull, readWholeSync } from "./file_reads.ts";
import { takeMessage } from "./spare_messages.ts";

/** Files of at most this many chunks are read once and kept in memory while they are sent. */
export const IN_MEMORY_CHUNKS = 4;

/** What the first pass learns about a file. */
export interface FirstPass {
  /** SHA-512 of the whole file. */
  fileHash: Uint8Array;
  /** CRC-32 of each chunk (files not kept): the second read must return the same bytes. */
  prints: Uint32Array;
  /**
   * For files of at most {@linkcode IN_MEMORY_CHUNKS} chunks, read once: the chunks themselves
   * and their SHA-512s (for a file of one chunk, the file hash). Larger files' chunk hashes are
   * computed as they are read again to be sent.
   */
  kept:
    | {
      chunks: Uint8Array<ArrayBuffer>[];
      hashes: Uint8Array[];
      /** For a file of one chunk: the message buffer its data was read into, at its place. */
      message?: Uint8Array<ArrayBuffer>;
    }
    | undefined;
}

/**
 * Ring buffers of the first pass: block `i`'s is reused once the file hash has taken block
 * `i - 3`.
 */
const FIRST_PASS_BUFFERS = 3;

/**
 * Chunks the first pass reads (and feeds the file hash) at once: each read and each hash update
 * is an operation on another thread, whose hand-over costs about as much CPU as hashing 50 KiB.
 */
const FIRST_PASS_CHUNKS_PER_READ = 4;

/**
 * The first pass of a file of at most {@linkcode IN_MEMORY_CHUNKS} chunks, read whole (one
 * operation: open, read, close): its hash and its chunks' hashes, each on a background thread
 * at the same time (a file of one chunk has one hash).
 */
export async function hashKept(
  bytes: Uint8Array<ArrayBuffer>,
  chunkSize: number,
): Promise<FirstPass> {
  const sha = backgroundSha512();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    chunks.push(bytes.subarray(offset, Math.min(bytes.length, offset + chunkSize)));
  }
  const [fileHash, ...hashes] = await Promise.all([
    chunks.length > 1 ? sha.digest(bytes) : undefined,
    ...chunks.map((chunk) => sha.digest(chunk)),
  ]);
  return { fileHash: fileHash ?? hashes[0]!, prints: new Uint32Array(0), kept: { chunks, hashes } };
}

/**
 * The first (and only) read of a file of one chunk: straight into its message buffer, where
 * `encodeChunk` leaves it (no copy), with one synchronous open, read and close (a
 * few microseconds for a small file in the page cache; each asynchronous file operation costs
 * tens of microseconds of CPU in hand-overs between threads). Its hash, the file's and the
 * chunk's, runs on a background thread.
 */
export async function readSingle(
  full: string,
  path: string,
  size: number,
  layout: ChunkLayout,
): Promise<FirstPass> {
  const message = takeMessage(layout.length);
  const data = message.subarray(layout.dataOffset, layout.dataOffset + size);
  readWholeSync(full, path, data);
  const hash = await backgroundSha512().digest(data);
  return {
    fileHash: hash,
    prints: new Uint32Array(0),
    kept: { chunks: [data], hashes: [hash], message },
  };
}

/**
 * The first pass of a larger file: reads it once and computes its whole-file SHA-512 on a
 * background thread (see {@linkcode backgroundSha512}) while this thread reads on, and a CRC-32
 * of each chunk. Its chunk hashes wait for the second read (`sendChunks`, `second_pass.ts`), so that
 * only the hash every chunk must carry stands between reading a large file and sending it.
 */
export async function firstPass(
  file: Deno.FsFile,
  size: number,
  chunkSize: number,
): Promise<FirstPass> {
  const total = Math.ceil(size / chunkSize);
  const block = chunkSize * FIRST_PASS_CHUNKS_PER_READ;
  const blocks = Math.ceil(size / block);
  const ring = Array.from({ length: FIRST_PASS_BUFFERS }, () => new Uint8Array(block));
  const prints = new Uint32Array(total);
  const hasher = backgroundSha512().hasher();
  const busy: Promise<unknown>[] = []; // per ring slot: the file hash's update with its data
  let updates: Promise<void> = Promise.resolve(); // one after the other
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown) => {
    failure ??= { error };
  };
  try {
    for (let i = 0; i < blocks; i++) {
      const slot = i % ring.length;
      await busy[slot];
      if (failure) throw failure.error;
      const bytes = ring[slot].subarray(0, Math.min(block, size - i * block));
      if (await readFull(file, bytes) !== bytes.length) throw new FileChanged();
      for (let at = 0; at < bytes.length; at += chunkSize) {
        prints[(i * block + at) / chunkSize] = crc32(bytes.subarray(at, at + chunkSize));
      }
      updates = updates.then(() => hasher.update(bytes));
      busy[slot] = updates.catch(fail);
    }
    if (await file.read(new Uint8Array(1)) !== null) throw new FileChanged(); // it grew
    await Promise.all(busy);
    if (failure) throw failure.error;
    return { fileHash: hasher.digest(), prints, kept: undefined };
  } finally {
    // No background hash may still be reading a buffer once this returns.
    await Promise.allSettled([...busy, updates]);
    hasher.free();
  }
}
