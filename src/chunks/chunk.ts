/**
 * The data file chunk: one Kafka message of a file streamed in OpenMSIStream's format.
 *
 * @module
 */

import { safeRelativePath } from "../files/path.ts";
import { sha512 } from "../hash/sha512.ts";

/**
 * OpenMSIStream's default chunk size: 524288 bytes (512 KiB).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_CHUNK_SIZE } from "./chunk.ts";
 *
 * const fileSize = 1_500_000;
 * assert.equal(Math.ceil(fileSize / DEFAULT_CHUNK_SIZE), 3);
 * ```
 */
export const DEFAULT_CHUNK_SIZE = 524_288;

/**
 * One chunk of a file, with the fields of OpenMSIStream's chunk message (names from its wire
 * format in comments).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createChunk, type DataFileChunk } from "./chunk.ts";
 *
 * const data = new TextEncoder().encode("hello");
 * const chunk: DataFileChunk = createChunk({
 *   filename: "a.txt",
 *   fileHash: new Uint8Array(64),
 *   chunkOffset: 0,
 *   chunkIndex: 1,
 *   totalChunks: 1,
 *   data,
 * });
 * assert.equal(chunk.subdir, "");
 * assert.equal(chunk.chunkHash.length, 64);
 * ```
 */
export interface DataFileChunk {
  /** `filename`: the bare file name, without directories. */
  readonly filename: string;
  /** `file_hash`: raw SHA-512 digest (64 bytes) of the whole file. */
  readonly fileHash: Uint8Array;
  /** `chunk_hash`: raw SHA-512 digest (64 bytes) of {@linkcode DataFileChunk.data}. */
  readonly chunkHash: Uint8Array;
  /** `chunk_offset_write`: byte offset of this chunk in the rebuilt file (a safe integer). */
  readonly chunkOffset: number;
  /** `chunk_i`: index of this chunk, from 1 to {@linkcode DataFileChunk.totalChunks}. */
  readonly chunkIndex: number;
  /** `n_total_chunks`: number of chunks of the file, at least 1. */
  readonly totalChunks: number;
  /** `subdir_str`: POSIX directory relative to the uploaded root, "" for the root. */
  readonly subdir: string;
  /** `filename_append`: usually ""; if set, the output name is stem + append + suffix. */
  readonly filenameAppend: string;
  /** `data`: the chunk's bytes (a view into the message when decoded). */
  readonly data: Uint8Array;
  /**
   * `file_mtime`: the file's modification time in seconds since the Unix epoch (a float), when
   * known; only 10-field messages carry it, and 0.0 there means unknown.
   */
  readonly fileMtime?: number;
}

/**
 * The fields {@linkcode createChunk} needs: the chunk hash is computed, the rest defaulted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ChunkInit, createChunk } from "./chunk.ts";
 *
 * const init: ChunkInit = {
 *   filename: "a.txt",
 *   fileHash: new Uint8Array(64),
 *   chunkOffset: 0,
 *   chunkIndex: 1,
 *   totalChunks: 1,
 *   data: new Uint8Array([1]),
 * };
 * assert.equal(createChunk(init).filenameAppend, "");
 * ```
 */
export interface ChunkInit {
  /** The bare file name. */
  filename: string;
  /** SHA-512 (64 bytes) of the whole file. */
  fileHash: Uint8Array;
  /** Byte offset of the chunk in the file. */
  chunkOffset: number;
  /** 1-based index of the chunk. */
  chunkIndex: number;
  /** Number of chunks of the file. */
  totalChunks: number;
  /** The chunk's bytes. */
  data: Uint8Array;
  /** POSIX subdirectory, default "" (the root). */
  subdir?: string;
  /** Default "". */
  filenameAppend?: string;
  /** Modification time in seconds since the epoch, if known. */
  fileMtime?: number;
}

/**
 * Builds a {@linkcode DataFileChunk}, computing its `chunkHash` from `data`. It does not
 * validate: `encodeChunk` in `encode.ts` does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha512 } from "../hash/sha512.ts";
 * import { createChunk } from "./chunk.ts";
 *
 * const data = new Uint8Array([1, 2, 3]);
 * const chunk = createChunk({
 *   filename: "x.bin",
 *   fileHash: sha512(data),
 *   chunkOffset: 0,
 *   chunkIndex: 1,
 *   totalChunks: 1,
 *   data,
 *   subdir: "run1",
 * });
 * assert.deepEqual(chunk.chunkHash, sha512(data));
 * ```
 *
 * @param init The chunk's fields, without `chunkHash`.
 * @returns The chunk.
 */
export function createChunk(init: ChunkInit): DataFileChunk {
  const chunk: DataFileChunk = {
    filename: init.filename,
    fileHash: init.fileHash,
    chunkHash: sha512(init.data),
    chunkOffset: init.chunkOffset,
    chunkIndex: init.chunkIndex,
    totalChunks: init.totalChunks,
    subdir: init.subdir ?? "",
    filenameAppend: init.filenameAppend ?? "",
    data: init.data,
  };
  return init.fileMtime === undefined ? chunk : { ...chunk, fileMtime: init.fileMtime };
}

/**
 * The file's path relative to the uploaded root, `subdir/filename` normalized (what OpenMSIStream
 * calls `relative_filepath`; the filename append is not applied). This is the file's identity for
 * matching, registries and logs. Throws `UnsafePathError` (from `src/files/path.ts`) for an unsafe path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createChunk, relativePath } from "./chunk.ts";
 *
 * const chunk = createChunk({
 *   filename: "scan.tif",
 *   subdir: "run1/raw",
 *   filenameAppend: "_v2",
 *   fileHash: new Uint8Array(64),
 *   chunkOffset: 0,
 *   chunkIndex: 1,
 *   totalChunks: 1,
 *   data: new Uint8Array(),
 * });
 * assert.equal(relativePath(chunk), "run1/raw/scan.tif");
 * ```
 *
 * @param chunk Any chunk of the file.
 * @returns A normalized relative POSIX path.
 */
export function relativePath(chunk: Pick<DataFileChunk, "subdir" | "filename">): string {
  return safeRelativePath(chunk.subdir, chunk.filename, "");
}

/**
 * The relative path the rebuilt file is written to: like {@linkcode relativePath} but with the
 * filename append applied (stem + append + suffix), as OpenMSIStream's downloader does. Throws
 * `UnsafePathError` (from `src/files/path.ts`) for an unsafe path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { outputPath } from "./chunk.ts";
 *
 * assert.equal(
 *   outputPath({ subdir: "run1", filename: "scan.tif", filenameAppend: "_v2" }),
 *   "run1/scan_v2.tif",
 * );
 * ```
 *
 * @param chunk Any chunk of the file.
 * @returns A normalized relative POSIX path.
 */
export function outputPath(
  chunk: Pick<DataFileChunk, "subdir" | "filename" | "filenameAppend">,
): string {
  return safeRelativePath(chunk.subdir, chunk.filename, chunk.filenameAppend);
}
