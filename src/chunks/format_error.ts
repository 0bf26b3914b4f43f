/**
 * The error thrown for a chunk message that does not follow OpenMSIStream's format.
 *
 * @module
 */

/**
 * The part of a chunk message a {@linkcode ChunkFormatError} is about: "value" for the message
 * as a whole, otherwise the OpenMSIStream name of the field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ChunkField } from "./format_error.ts";
 *
 * const field: ChunkField = "chunk_i";
 * assert.equal(field, "chunk_i");
 * ```
 */
export type ChunkField =
  | "value"
  | "filename"
  | "file_hash"
  | "chunk_hash"
  | "chunk_offset_write"
  | "chunk_i"
  | "n_total_chunks"
  | "subdir_str"
  | "filename_append"
  | "data"
  | "file_mtime";

/**
 * Why a chunk message was refused.
 *
 * - `not_array`: the message is not a msgpack array.
 * - `array_length`: the array does not have 9 or 10 elements.
 * - `truncated`: the message ends inside a field, or a declared length exceeds the bytes left.
 * - `type`: a field has the wrong msgpack type.
 * - `length`: a hash field is not 64 bytes long.
 * - `range`: a number is outside its allowed range.
 * - `utf8`: a text field is not valid UTF-8.
 * - `unsafe_path`: the file name, subdir or filename append could escape the output directory.
 * - `hash_mismatch`: SHA-512 of `data` differs from `chunk_hash`.
 * - `trailing_bytes`: bytes follow the array.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeChunk } from "./decode.ts";
 * import { ChunkFormatError, type ChunkFormatReason } from "./format_error.ts";
 *
 * let reason: ChunkFormatReason | undefined;
 * try {
 *   decodeChunk(new TextEncoder().encode("not msgpack"));
 * } catch (error) {
 *   if (error instanceof ChunkFormatError) reason = error.reason;
 * }
 * assert.equal(reason, "not_array");
 * ```
 */
export type ChunkFormatReason =
  | "not_array"
  | "array_length"
  | "truncated"
  | "type"
  | "length"
  | "range"
  | "utf8"
  | "unsafe_path"
  | "hash_mismatch"
  | "trailing_bytes";

/**
 * A chunk message (or a chunk to encode) that does not follow OpenMSIStream's chunk format.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeChunk } from "./decode.ts";
 * import { ChunkFormatError } from "./format_error.ts";
 *
 * try {
 *   decodeChunk(new Uint8Array([0x92, 0x01, 0x02]));
 *   assert.fail("expected an error");
 * } catch (error) {
 *   assert.ok(error instanceof ChunkFormatError);
 *   assert.equal(error.field, "value");
 *   assert.equal(error.reason, "array_length");
 * }
 * ```
 */
export class ChunkFormatError extends Error {
  /** The field at fault, or "value" for the message as a whole. */
  readonly field: ChunkField;
  /** A short machine-readable code for the problem. */
  readonly reason: ChunkFormatReason;

  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ChunkFormatError } from "./format_error.ts";
   *
   * const error = new ChunkFormatError("chunk_i", "range", 'Chunk field "chunk_i" is 0.');
   * assert.equal(error.name, "ChunkFormatError");
   * ```
   *
   * @param field The field at fault.
   * @param reason Why it is refused.
   * @param message The human-readable message.
   * @param options Standard error options, e.g. the `cause`.
   */
  constructor(
    field: ChunkField,
    reason: ChunkFormatReason,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ChunkFormatError";
    this.field = field;
    this.reason = reason;
  }
}
