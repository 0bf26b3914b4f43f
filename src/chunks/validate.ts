/**
 * The checks every chunk passes, whether Ferry encodes it or decodes it from a message: the
 * hashes' lengths, the index, count and offset ranges, safe and well-formed paths, a finite
 * mtime. Each failure is a {@linkcode ChunkFormatError} naming the field at fault.
 *
 * @module
 */

import type { DataFileChunk } from "./chunk.ts";
import { MAX_UINT32, quote } from "./fields.ts";
import { type ChunkField, ChunkFormatError } from "./format_error.ts";
import { SHA512_LENGTH } from "../hash/sha512.ts";
import { safeRelativePath, UnsafePathError } from "../files/path.ts";

function pathField(error: UnsafePathError): ChunkField {
  switch (error.part) {
    case "subdir":
      return "subdir_str";
    case "filenameAppend":
      return "filename_append";
    default:
      return "filename";
  }
}

/**
 * Checks every field of `chunk` except the chunk hash itself, throwing
 * {@linkcode ChunkFormatError}: hashes 64 bytes long; `totalChunks` at least 1, `chunkIndex` in
 * 1..`totalChunks`, `chunkOffset` non-negative with `chunkOffset + data.length` a safe integer;
 * file name, subdir and filename append safe (see `safeRelativePath` in `src/files/path.ts`)
 * and well-formed Unicode; `fileMtime`, if present, finite.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createChunk } from "./chunk.ts";
 * import { validateChunk } from "./validate.ts";
 *
 * const chunk = createChunk({
 *   filename: "a.txt",
 *   fileHash: new Uint8Array(64),
 *   chunkOffset: 0,
 *   chunkIndex: 6,
 *   totalChunks: 5,
 *   data: new Uint8Array(),
 * });
 * assert.throws(() => validateChunk(chunk), /Chunk field "chunk_i" is 6, expected 1\.\.5\./);
 * ```
 *
 * @param chunk The chunk to check.
 */
export function validateChunk(chunk: DataFileChunk): void {
  const texts: [ChunkField, string][] = [
    ["filename", chunk.filename],
    ["subdir_str", chunk.subdir],
    ["filename_append", chunk.filenameAppend],
  ];
  for (const [field, text] of texts) {
    if (typeof text !== "string" || !text.isWellFormed()) {
      throw new ChunkFormatError(
        field,
        "utf8",
        `Chunk field "${field}" is ${quote(String(text))}, expected a well-formed string.`,
      );
    }
  }
  try {
    safeRelativePath(chunk.subdir, chunk.filename, chunk.filenameAppend);
  } catch (error) {
    if (!(error instanceof UnsafePathError)) throw error;
    const field = pathField(error);
    throw new ChunkFormatError(
      field,
      "unsafe_path",
      `Chunk field "${field}" is ${quote(error.value)}, which is unsafe: ${error.message}`,
      { cause: error },
    );
  }
  const hashes: [ChunkField, Uint8Array][] = [
    ["file_hash", chunk.fileHash],
    ["chunk_hash", chunk.chunkHash],
  ];
  for (const [field, hash] of hashes) {
    if (hash.length !== SHA512_LENGTH) {
      throw new ChunkFormatError(
        field,
        "length",
        `Chunk field "${field}" is ${hash.length} bytes long, expected ${SHA512_LENGTH}.`,
      );
    }
  }
  const total = chunk.totalChunks;
  if (!Number.isSafeInteger(total) || total < 1) {
    throw new ChunkFormatError(
      "n_total_chunks",
      "range",
      `Chunk field "n_total_chunks" is ${total}, expected an integer of 1 or more.`,
    );
  }
  const index = chunk.chunkIndex;
  if (!Number.isSafeInteger(index) || index < 1 || index > total) {
    throw new ChunkFormatError(
      "chunk_i",
      "range",
      `Chunk field "chunk_i" is ${index}, expected 1..${total}.`,
    );
  }
  const offset = chunk.chunkOffset;
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new ChunkFormatError(
      "chunk_offset_write",
      "range",
      `Chunk field "chunk_offset_write" is ${offset}, expected a non-negative safe integer.`,
    );
  }
  const end = offset + chunk.data.length;
  if (!Number.isSafeInteger(end)) {
    throw new ChunkFormatError(
      "chunk_offset_write",
      "range",
      `Chunk field "chunk_offset_write" is ${offset} and the data is ${chunk.data.length} ` +
        `bytes long, so the chunk ends past the largest safe integer ${Number.MAX_SAFE_INTEGER}.`,
    );
  }
  if (chunk.data.length > MAX_UINT32) {
    throw new ChunkFormatError(
      "data",
      "range",
      `Chunk field "data" is ${chunk.data.length} bytes long, more than msgpack's ${MAX_UINT32}.`,
    );
  }
  const mtime = chunk.fileMtime;
  if (mtime !== undefined && !Number.isFinite(mtime)) {
    throw new ChunkFormatError(
      "file_mtime",
      "range",
      `Chunk field "file_mtime" is ${mtime}, expected a finite number.`,
    );
  }
}
