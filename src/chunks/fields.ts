/**
 * What the encoder, the decoder and the validator of chunk messages share: the order of the
 * fields in the msgpack array (as OpenMSIStream writes them), msgpack's largest length, and how
 * a text value is quoted in error messages.
 *
 * @module
 */

import type { ChunkField } from "./format_error.ts";

/**
 * The fields of a chunk message in their order in the msgpack array (OpenMSIStream's names):
 * nine, and a tenth, `file_mtime`, since OpenMSIStream 1.8.6.
 */
export const CHUNK_FIELDS: readonly ChunkField[] = [
  "filename",
  "file_hash",
  "chunk_hash",
  "chunk_offset_write",
  "chunk_i",
  "n_total_chunks",
  "subdir_str",
  "filename_append",
  "data",
  "file_mtime",
];

/** The largest length msgpack can declare (str32, bin32): 2^32 - 1. */
export const MAX_UINT32 = 0xffff_ffff;

/** A text value as it is shown in error messages: JSON-quoted, so controls stay visible. */
export function quote(value: string): string {
  return JSON.stringify(value);
}
