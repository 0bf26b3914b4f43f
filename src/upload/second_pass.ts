/**
 * The second pass of a file's upload: the chunks still to send, in order, each read again (for a
 * file not kept by the first pass) into its message buffer, checked against the first read's
 * CRC-32 and hashed on a background thread, a few chunks ahead of the one being sent so that the
 * producer never waits for the disk or a hash. Moved out of `file_uploader.ts`, which encodes and
 * sends each chunk.
 *
 * @module
 */

import { crc32 } from "node:zlib";
import type { ChunkLayout } from "../chunks/encode.ts";
import { backgroundSha512 } from "../hash/background.ts";
import { FileChanged } from "./file_failures.ts";
import { readFull } from "./file_reads.ts";
import type { FirstPass } from "./first_pass.ts";

/**
 * Spare bytes of a second-pass message buffer: later chunks' headers are a few bytes longer
 * (larger offsets and indexes), and the buffer of the first is reused for them.
 */
const HEADER_SLACK = 32;

/**
 * Chunks of the second pass read and hashed ahead of the one being sent, so that the producer
 * never waits for the disk or a hash.
 */
const SEND_AHEAD = 4;

/** A chunk ready to be encoded: its data and SHA-512. */
export interface ReadyChunk {
  /** 1-based chunk index. */
  index: number;
  /** The chunk's bytes (valid until the next chunks are read: encode it first). */
  data: Uint8Array;
  /** SHA-512 of `data`. */
  hash: Uint8Array;
  /**
   * The buffer `data` was read into, at its place in the chunk's message (see
   * `chunkLayout`): encoded into it, the data is not copied. Undefined for the chunks
   * of a kept file of several chunks.
   */
  message: Uint8Array<ArrayBuffer> | undefined;
}

/**
 * The chunks `indexes` (1-based, ascending) of a file, in order, each read (again, for a file not
 * kept by the first pass) and hashed up to {@linkcode SEND_AHEAD} chunks ahead of the one the
 * caller is handling. A chunk whose bytes differ from the first read (its CRC-32) throws
 * `FileChanged`: the file hash sent is the first read's. `handle` must be done with a chunk's
 * data when its promise resolves (the buffer is reused).
 */
export async function sendChunks(
  file: Deno.FsFile | undefined,
  size: number,
  chunkSize: number,
  first: FirstPass,
  indexes: readonly number[],
  layout: (index: number, dataLength: number) => ChunkLayout,
  handle: (chunk: ReadyChunk) => Promise<boolean>,
): Promise<void> {
  const kept = first.kept;
  if (kept) {
    for (const index of indexes) {
      const go = await handle({
        index,
        data: kept.chunks[index - 1],
        hash: kept.hashes[index - 1],
        message: kept.message,
      });
      if (!go) return;
    }
    return;
  }
  if (!file) throw new Error("A file not kept in memory is read again: it must be open.");
  const sha = backgroundSha512();
  // Message buffers: each chunk is read where its data sits in its message.
  const ring: Uint8Array<ArrayBuffer>[] = [];
  let position = size; // where the file handle is: the first pass read it all
  let reads: Promise<unknown> = Promise.resolve(); // one read after the other
  const prepare = (n: number): Promise<ReadyChunk> => {
    const index = indexes[n];
    const offset = (index - 1) * chunkSize;
    const length = Math.min(chunkSize, size - offset);
    const place = layout(index, length);
    const slot = n % SEND_AHEAD;
    if (!ring[slot] || ring[slot].length < place.length) {
      ring[slot] = new Uint8Array(place.length + HEADER_SLACK);
    }
    const message = ring[slot];
    const data = message.subarray(place.dataOffset, place.dataOffset + length);
    const read = reads.then(async () => {
      if (position !== offset) await file.seek(offset, Deno.SeekMode.Start);
      if (await readFull(file, data) !== data.length) throw new FileChanged();
      position = offset + data.length;
      // The file hash sent is that of the first read: the bytes must be the same.
      if (crc32(data) !== first.prints[index - 1]) throw new FileChanged();
    });
    reads = read.catch(() => {});
    return read.then(async () => ({ index, data, hash: await sha.digest(data), message }));
  };
  const ahead: Promise<ReadyChunk>[] = [];
  let next = 0;
  const fill = () => {
    while (ahead.length < SEND_AHEAD && next < indexes.length) {
      const ready = prepare(next++);
      ready.catch(() => {}); // awaited in turn below; a failure ahead must not go unhandled
      ahead.push(ready);
    }
  };
  try {
    fill();
    while (ahead.length > 0) {
      const chunk = await ahead[0];
      const go = await handle(chunk);
      ahead.shift(); // its buffer is free again
      if (!go) return;
      fill();
    }
  } finally {
    // No read or background hash may still be using a buffer once this returns.
    await Promise.allSettled(ahead);
  }
}
