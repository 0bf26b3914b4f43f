/**
 * Reads a chunk message value, as OpenMSIStream (any version) or Ferry writes it, with a strict
 * hand-written msgpack decoder that checks every declared length against the bytes left before
 * using it, so that no message, however hostile, makes it allocate or read out of bounds.
 *
 * @module
 */

import type { DataFileChunk } from "./chunk.ts";
import { CHUNK_FIELDS } from "./fields.ts";
import { type ChunkField, ChunkFormatError } from "./format_error.ts";
import { validateChunk } from "./validate.ts";
import { hashesEqual, hashHex, sha512 } from "../hash/sha512.ts";

/**
 * Options of {@linkcode decodeChunk}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createChunk } from "./chunk.ts";
 * import { decodeChunk, type DecodeChunkOptions } from "./decode.ts";
 * import { encodeChunk } from "./encode.ts";
 *
 * const chunk = createChunk({
 *   filename: "a.txt",
 *   fileHash: new Uint8Array(64),
 *   chunkOffset: 0,
 *   chunkIndex: 1,
 *   totalChunks: 1,
 *   data: new Uint8Array([1, 2]),
 * });
 * const bytes = encodeChunk(chunk);
 * bytes[bytes.length - 1] = 9; // corrupt the data
 * const trustWholeFileHash: DecodeChunkOptions = { verifyChunkHash: false };
 * assert.equal(decodeChunk(bytes, trustWholeFileHash).data[1], 9);
 * assert.throws(() => decodeChunk(bytes), /SHA-512/);
 * ```
 */
export interface DecodeChunkOptions {
  /**
   * Check that SHA-512 of `data` equals `chunk_hash` (default true). Turn it off only when the
   * caller verifies the data some other way before using it, such as the whole-file hash.
   */
  verifyChunkHash?: boolean;
}

const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Names a msgpack type byte, for error messages. */
function typeName(byte: number): string {
  let name: string;
  if (byte <= 0x7f) name = "positive fixint";
  else if (byte <= 0x8f) name = "fixmap";
  else if (byte <= 0x9f) name = "fixarray";
  else if (byte <= 0xbf) name = "fixstr";
  else if (byte >= 0xe0) name = "negative fixint";
  else {
    name = [
      "nil",
      "unused",
      "false",
      "true",
      "bin8",
      "bin16",
      "bin32",
      "ext8",
      "ext16",
      "ext32",
      "float32",
      "float64",
      "uint8",
      "uint16",
      "uint32",
      "uint64",
      "int8",
      "int16",
      "int32",
      "int64",
      "fixext1",
      "fixext2",
      "fixext4",
      "fixext8",
      "fixext16",
      "str8",
      "str16",
      "str32",
      "array16",
      "array32",
      "map16",
      "map32",
    ][byte - 0xc0] ?? "unknown";
  }
  return `${name} (byte 0x${byte.toString(16).padStart(2, "0")})`;
}

/** Reads one chunk message; every read checks the bytes left first. */
class Reader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  pos = 0;
  field: ChunkField = "value";

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Makes sure `count` more bytes exist, or throws "truncated". */
  need(count: number, what: string): void {
    const remaining = this.bytes.length - this.pos;
    if (count > remaining) {
      throw new ChunkFormatError(
        this.field,
        "truncated",
        what === "content"
          ? `Chunk field "${this.field}" declares ${count} bytes but only ${remaining} remain.`
          : `Chunk field "${this.field}" is cut off: its ${what} needs ${count} bytes but only ` +
            `${remaining} remain.`,
      );
    }
  }

  /** Reads the type byte of the next element, or throws "truncated" if there is none. */
  typeByte(): number {
    const byte = this.bytes[this.pos];
    if (byte === undefined) {
      throw new ChunkFormatError(
        this.field,
        "truncated",
        `Chunk field "${this.field}" is missing: the message ends at byte ${this.pos}.`,
      );
    }
    this.pos += 1;
    return byte;
  }

  wrongType(byte: number, expected: string): ChunkFormatError {
    return new ChunkFormatError(
      this.field,
      "type",
      `Chunk field "${this.field}" has msgpack type ${typeName(byte)}, expected ${expected}.`,
    );
  }

  /** Reads a str or bin element (OpenMSIStream reads both alike) and returns its extent. */
  raw(expected: "bin" | "str"): [number, number] {
    const byte = this.typeByte();
    let length: number;
    if (byte >= 0xa0 && byte <= 0xbf) {
      length = byte & 0x1f;
    } else if (byte === 0xc4 || byte === 0xd9) {
      this.need(1, "length");
      length = this.view.getUint8(this.pos);
      this.pos += 1;
    } else if (byte === 0xc5 || byte === 0xda) {
      this.need(2, "length");
      length = this.view.getUint16(this.pos);
      this.pos += 2;
    } else if (byte === 0xc6 || byte === 0xdb) {
      this.need(4, "length");
      length = this.view.getUint32(this.pos);
      this.pos += 4;
    } else {
      throw this.wrongType(byte, expected === "bin" ? "bin (or str)" : "str (or bin)");
    }
    this.need(length, "content");
    const start = this.pos;
    this.pos += length;
    return [start, this.pos];
  }

  text(): string {
    const [start, end] = this.raw("str");
    try {
      return textDecoder.decode(this.bytes.subarray(start, end));
    } catch (error) {
      throw new ChunkFormatError(
        this.field,
        "utf8",
        `Chunk field "${this.field}" is not valid UTF-8 (bytes ${start}..${end}).`,
        { cause: error },
      );
    }
  }

  /** Checks that `size` bytes follow, skips them and returns where they start. */
  take(size: number, what: string): number {
    this.need(size, what);
    const at = this.pos;
    this.pos += size;
    return at;
  }

  /**
   * Reads any msgpack integer form, signed or not. Beyond the safe range it throws, unless
   * `lossy` (then the nearest double is returned).
   */
  integer(expected: string, lossy = false): number {
    const byte = this.typeByte();
    if (byte <= 0x7f) return byte;
    if (byte >= 0xe0) return byte - 0x100;
    const view = this.view;
    switch (byte) {
      case 0xcc:
        return view.getUint8(this.take(1, "integer"));
      case 0xcd:
        return view.getUint16(this.take(2, "integer"));
      case 0xce:
        return view.getUint32(this.take(4, "integer"));
      case 0xd0:
        return view.getInt8(this.take(1, "integer"));
      case 0xd1:
        return view.getInt16(this.take(2, "integer"));
      case 0xd2:
        return view.getInt32(this.take(4, "integer"));
      case 0xcf:
      case 0xd3: {
        const at = this.take(8, "integer");
        const big = byte === 0xcf ? view.getBigUint64(at) : view.getBigInt64(at);
        const value = Number(big);
        if (!lossy && !Number.isSafeInteger(value)) {
          throw new ChunkFormatError(
            this.field,
            "range",
            `Chunk field "${this.field}" is ${big}, beyond the safe integer range ` +
              `(magnitude at most ${Number.MAX_SAFE_INTEGER}).`,
          );
        }
        return value;
      }
      default:
        throw this.wrongType(byte, expected);
    }
  }

  /** Reads an integer that must not be negative. */
  count(expected: string): number {
    const value = this.integer(expected);
    if (value < 0) {
      throw new ChunkFormatError(
        this.field,
        "range",
        `Chunk field "${this.field}" is ${value}, expected ${expected}.`,
      );
    }
    return value;
  }

  /** Reads the mtime: float64, float32 or any integer. */
  float(): number {
    const byte = this.bytes[this.pos];
    if (byte === 0xcb) {
      this.pos += 1;
      return this.view.getFloat64(this.take(8, "float64"));
    }
    if (byte === 0xca) {
      this.pos += 1;
      return this.view.getFloat32(this.take(4, "float32"));
    }
    return this.integer("float64, float32 or an integer", true);
  }
}

function readArrayLength(reader: Reader): number {
  const byte = reader.bytes[0];
  const expected = "expected a msgpack array of 9 or 10 elements";
  if (byte === undefined) {
    throw new ChunkFormatError("value", "not_array", `Chunk message is empty, ${expected}.`);
  }
  reader.pos = 1;
  if (byte >= 0x90 && byte <= 0x9f) return byte & 0x0f;
  if (byte === 0xdc) {
    reader.need(2, "array length");
    reader.pos = 3;
    return reader.view.getUint16(1);
  }
  if (byte === 0xdd) {
    reader.need(4, "array length");
    reader.pos = 5;
    return reader.view.getUint32(1);
  }
  throw new ChunkFormatError(
    "value",
    "not_array",
    `Chunk message starts with msgpack type ${typeName(byte)}, ${expected}.`,
  );
}

/**
 * Decodes a chunk message value written by OpenMSIStream (any version) or by `encodeChunk`
 * (`encode.ts`), checking everything, and throws {@linkcode ChunkFormatError} with the field at
 * fault for anything else.
 *
 * Accepted: a msgpack array of 9 or 10 elements (fixarray, array16 or array32) with the fields
 * in OpenMSIStream's order; text and byte fields in any str or bin form (OpenMSIStream reads them
 * alike); integers in any width, signed or not; the mtime as float64, float32 or an integer. Then
 * checked: text is UTF-8, the hashes are 64 bytes, `chunk_i` is in 1..`n_total_chunks`,
 * `chunk_offset_write + len(data)` is a safe integer, the file name, subdir and filename append
 * are safe paths, no byte follows the array, and (unless turned off) SHA-512 of `data` equals
 * `chunk_hash`. Every declared length is checked against the bytes left before it is used, so a
 * hostile length costs nothing.
 *
 * `data` is a view into `bytes` (no copy): keep `bytes` unchanged while the chunk is in use.
 * The hashes are small copies. An mtime of 0.0 or less (OpenMSIStream's "unknown") leaves
 * `fileMtime` out; a non-finite one is an error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createChunk } from "./chunk.ts";
 * import { decodeChunk } from "./decode.ts";
 * import { encodeChunk } from "./encode.ts";
 *
 * const chunk = createChunk({
 *   filename: "a.txt",
 *   fileHash: new Uint8Array(64),
 *   chunkOffset: 0,
 *   chunkIndex: 1,
 *   totalChunks: 1,
 *   data: new Uint8Array([1, 2, 3]),
 *   fileMtime: 1700000000.5,
 * });
 * const bytes = encodeChunk(chunk, { includeMtime: true });
 * const decoded = decodeChunk(bytes);
 * assert.equal(decoded.fileMtime, 1700000000.5);
 * assert.equal(decoded.data.buffer, bytes.buffer); // a view, not a copy
 * ```
 *
 * @param bytes The Kafka message value.
 * @param options Whether to verify the chunk hash (default: verify).
 * @returns The chunk.
 */
export function decodeChunk(bytes: Uint8Array, options: DecodeChunkOptions = {}): DataFileChunk {
  const reader = new Reader(bytes);
  const elements = readArrayLength(reader);
  if (elements !== 9 && elements !== 10) {
    throw new ChunkFormatError(
      "value",
      "array_length",
      `Chunk message is a msgpack array of ${elements} elements, expected 9 or 10.`,
    );
  }
  const next = (index: number): void => {
    reader.field = CHUNK_FIELDS[index] ?? "value";
  };

  next(0);
  const filename = reader.text();
  next(1);
  const [fileHashStart, fileHashEnd] = reader.raw("bin");
  next(2);
  const [chunkHashStart, chunkHashEnd] = reader.raw("bin");
  next(3);
  const chunkOffset = reader.count("a non-negative integer");
  next(4);
  const chunkIndex = reader.count("a positive integer");
  next(5);
  const totalChunks = reader.count("a positive integer");
  next(6);
  const subdir = reader.text();
  next(7);
  const filenameAppend = reader.text();
  next(8);
  const [dataStart, dataEnd] = reader.raw("bin");
  let fileMtime: number | undefined;
  if (elements === 10) {
    next(9);
    const mtime = reader.float();
    if (!Number.isFinite(mtime)) {
      throw new ChunkFormatError(
        "file_mtime",
        "range",
        `Chunk field "file_mtime" is ${mtime}, expected a finite number.`,
      );
    }
    if (mtime > 0) fileMtime = mtime;
  }
  if (reader.pos !== bytes.length) {
    throw new ChunkFormatError(
      "value",
      "trailing_bytes",
      `Chunk message has ${bytes.length - reader.pos} bytes after its last field, expected none.`,
    );
  }

  const base = {
    filename,
    fileHash: bytes.slice(fileHashStart, fileHashEnd),
    chunkHash: bytes.slice(chunkHashStart, chunkHashEnd),
    chunkOffset,
    chunkIndex,
    totalChunks,
    subdir,
    filenameAppend,
    data: bytes.subarray(dataStart, dataEnd),
  };
  const chunk: DataFileChunk = fileMtime === undefined ? base : { ...base, fileMtime };
  validateChunk(chunk);

  if (options.verifyChunkHash ?? true) {
    const actual = sha512(chunk.data);
    if (!hashesEqual(actual, chunk.chunkHash)) {
      throw new ChunkFormatError(
        "data",
        "hash_mismatch",
        `Chunk field "data" has SHA-512 "${hashHex(actual)}", but "chunk_hash" is ` +
          `"${hashHex(chunk.chunkHash)}".`,
      );
    }
  }
  return chunk;
}
