/**
 * Checking a complete file against its SHA-512 when it was not computed while its chunks arrived
 * ({@linkcode digestAssembly}), and, when the file's hash fails, finding which chunks do not match
 * the SHA-512 their message claims ({@linkcode findBadChunks}): from the file's data in memory or
 * read back from its partial file. Moved out of `reassembly.ts` (whose `FileAssembler.digest` and
 * `FileAssembler.badChunks` call these) so the hashing reads apart from the assembling.
 *
 * @module
 */

import { backgroundSha512 } from "../hash/background.ts";
import { hashesEqual, hashHex } from "../hash/sha512.ts";
import type { ChunkSource, FileAssembly } from "./file_assembly.ts";

/**
 * A chunk whose data does not match the SHA-512 its message claims, found by
 * {@linkcode FileAssembler.badChunks}.
 */
export interface BadChunk {
  /** `chunk_i`, from 1. */
  index: number;
  /** Its offset in the file. */
  offset: number;
  /** Its length. */
  length: number;
  /** The message that brought it. */
  source: ChunkSource;
}

/** The data of a complete file, in file order: chunks or one array of the whole file. */
export type FileData = { offset: number; data: Uint8Array }[];

/** Bytes read at a time when a file is hashed from disk (two such buffers are used). */
const READ_BLOCK_BYTES = 4 * 1024 * 1024;

/**
 * The SHA-512 (hex) of a complete file of `size` bytes (after `FileAssembly.checkedSize`): of
 * `data` when given (its parts in file order), else of its partial file, read back. Hashed on a
 * background thread when OpenSSL's libcrypto is there (see `backgroundSha512`).
 */
export async function digestAssembly(
  assembly: FileAssembly,
  size: number,
  data?: FileData,
): Promise<string> {
  const hasher = backgroundSha512().hasher();
  let pending: Promise<void> | undefined;
  try {
    if (data !== undefined) {
      for (const part of data) await hasher.update(part.data);
    } else {
      using file = await Deno.open(assembly.partialPath, { read: true });
      // Two buffers: the next block is read while the last one is hashed.
      const block = Math.max(1, Math.min(READ_BLOCK_BYTES, size));
      const buffers = [new Uint8Array(block), new Uint8Array(block)];
      let left = size;
      for (let i = 0; left > 0; i ^= 1) {
        const bytes = buffers[i].subarray(0, Math.min(block, left));
        await readFully(file, bytes, assembly.partialPath);
        await pending;
        pending = hasher.update(bytes);
        left -= bytes.length;
      }
      await pending;
    }
  } catch (error) {
    await pending?.catch(() => undefined);
    hasher.free();
    throw error;
  }
  return hashHex(hasher.digest());
}

/**
 * The chunks of a complete file whose data does not match the SHA-512 their message claims, in
 * file order. The data comes from `data` when given (as for {@linkcode digestAssembly}), else
 * from memory when every chunk is held there, else from the partial file.
 */
export async function findBadChunks(
  assembly: FileAssembly,
  data?: FileData,
): Promise<BadChunk[]> {
  const sha = backgroundSha512();
  const bad: BadChunk[] = [];
  const chunks = assembly.chunkList();
  const fromMemory = data === undefined && assembly.dataInMemory;
  using file = data === undefined && !fromMemory
    ? await Deno.open(assembly.partialPath, { read: true })
    : undefined;
  let buffer = new Uint8Array(0);
  for (const chunk of chunks) {
    let bytes: Uint8Array;
    if (data !== undefined) bytes = sliceOf(data, chunk.offset, chunk.length);
    else if (fromMemory) bytes = chunk.data!;
    else {
      if (buffer.length < chunk.length) buffer = new Uint8Array(chunk.length);
      bytes = buffer.subarray(0, chunk.length);
      await file!.seek(chunk.offset, Deno.SeekMode.Start);
      await readFully(file!, bytes, assembly.partialPath);
    }
    if (!hashesEqual(await sha.digest(bytes), chunk.hash)) {
      bad.push({
        index: chunk.index,
        offset: chunk.offset,
        length: chunk.length,
        source: chunk.source,
      });
    }
  }
  return bad;
}

/** Fills `bytes` from the file's current position, or throws when the file ends first. */
async function readFully(file: Deno.FsFile, bytes: Uint8Array, path: string): Promise<void> {
  let filled = 0;
  while (filled < bytes.length) {
    const n = await file.read(bytes.subarray(filled));
    if (n === null) {
      throw new Error(`"${path}" ended ${bytes.length - filled} bytes earlier than its chunks.`);
    }
    filled += n;
  }
}

/** The bytes `[offset, offset + length)` of a file held as `data` (its parts in file order). */
function sliceOf(data: FileData, offset: number, length: number): Uint8Array {
  for (const part of data) {
    if (offset >= part.offset && offset + length <= part.offset + part.data.length) {
      return part.data.subarray(offset - part.offset, offset - part.offset + length);
    }
  }
  throw new Error(`No part of the file holds bytes ${offset}..${offset + length}.`);
}
