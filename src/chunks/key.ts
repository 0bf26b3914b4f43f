/**
 * Kafka message keys of chunk messages, in OpenMSIStream's format:
 * `<subdir with "/" replaced by "_">_<filename>_chunk_<i>_of_<n>`.
 *
 * @module
 */

import type { DataFileChunk } from "./chunk.ts";

/**
 * The part of a chunk key shared by every chunk of a file:
 * `<subdir with "/" replaced by "_">_<filename>_chunk` (OpenMSIStream's `get_message_prepend`).
 * A file at the root has subdir "", so its prefix starts with "_".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chunkKeyPrefix } from "./key.ts";
 *
 * assert.equal(chunkKeyPrefix("run1/raw", "a.txt"), "run1_raw_a.txt_chunk");
 * assert.equal(chunkKeyPrefix("", "a.txt"), "_a.txt_chunk");
 * ```
 *
 * @param subdir The chunk's POSIX subdirectory, "" for the root.
 * @param filename The bare file name.
 * @returns The key prefix.
 */
export function chunkKeyPrefix(subdir: string, filename: string): string {
  return `${subdir.replaceAll("/", "_")}_${filename}_chunk`;
}

/**
 * The Kafka key OpenMSIStream gives a chunk message:
 * `<subdir with "/" replaced by "_">_<filename>_chunk_<chunk_i>_of_<n_total_chunks>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chunkKey } from "./key.ts";
 *
 * assert.equal(
 *   chunkKey({ subdir: "run1/raw", filename: "a.txt", chunkIndex: 1, totalChunks: 1 }),
 *   "run1_raw_a.txt_chunk_1_of_1",
 * );
 * assert.equal(
 *   chunkKey({ subdir: "", filename: "a.txt", chunkIndex: 3, totalChunks: 7 }),
 *   "_a.txt_chunk_3_of_7",
 * );
 * ```
 *
 * @param chunk The chunk (only its subdir, filename, index and total are used).
 * @returns The key as a string; encode it as UTF-8 for Kafka.
 */
export function chunkKey(
  chunk: Pick<DataFileChunk, "subdir" | "filename" | "chunkIndex" | "totalChunks">,
): string {
  return `${
    chunkKeyPrefix(chunk.subdir, chunk.filename)
  }_${chunk.chunkIndex}_of_${chunk.totalChunks}`;
}

/**
 * What {@linkcode parseChunkKey} can recover from a key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseChunkKey, type ParsedChunkKey } from "./key.ts";
 *
 * const parsed: ParsedChunkKey | undefined = parseChunkKey("_a.txt_chunk_1_of_2");
 * assert.equal(parsed?.totalChunks, 2);
 * ```
 */
export interface ParsedChunkKey {
  /**
   * Everything before `_chunk_`: the subdir (with "/" turned into "_") and the file name joined
   * by "_". The split between them is ambiguous, so it is not attempted.
   */
  readonly name: string;
  /** The chunk index written in the key. */
  readonly chunkIndex: number;
  /** The number of chunks written in the key. */
  readonly totalChunks: number;
}

const KEY_PATTERN = /^(.*)_chunk_(\d{1,15})_of_(\d{1,15})$/s;
const keyDecoder = new TextDecoder();

/**
 * Parses a chunk key tolerantly, for logging only: the message value is the authority for every
 * field. Returns `undefined` for a key that does not have the shape `<name>_chunk_<i>_of_<n>`.
 * Invalid UTF-8 in a byte key is replaced, never an error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseChunkKey } from "./key.ts";
 *
 * assert.deepEqual(parseChunkKey("run1_raw_a.txt_chunk_2_of_5"), {
 *   name: "run1_raw_a.txt",
 *   chunkIndex: 2,
 *   totalChunks: 5,
 * });
 * assert.equal(parseChunkKey("not a chunk key"), undefined);
 * ```
 *
 * @param key The Kafka message key, as a string or raw bytes.
 * @returns The parsed parts, or `undefined`.
 */
export function parseChunkKey(
  key: string | Uint8Array | null | undefined,
): ParsedChunkKey | undefined {
  if (key === null || key === undefined) return undefined;
  const text = typeof key === "string" ? key : keyDecoder.decode(key);
  const match = KEY_PATTERN.exec(text);
  if (match === null) return undefined;
  return {
    name: match[1] ?? "",
    chunkIndex: Number(match[2]),
    totalChunks: Number(match[3]),
  };
}
