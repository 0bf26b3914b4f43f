/**
 * The chunk message value: a msgpack array of 9 (or 10) fields, written byte for byte as
 * OpenMSIStream writes it with `msgpack.packb([...], use_bin_type=True)`, and read by a strict
 * hand-written decoder that never trusts a length from the message.
 *
 * @module
 */

import type { DataFileChunk } from "./chunk.ts";
import { type ChunkField, ChunkFormatError } from "./format_error.ts";
import { hashesEqual, hashHex, sha512, SHA512_LENGTH } from "./hash.ts";
import { safeRelativePath, UnsafePathError } from "../files/path.ts";

/**
 * Options of {@linkcode encodeChunk}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createChunk } from "./chunk.ts";
 * import { encodeChunk, type EncodeChunkOptions } from "./codec.ts";
 *
 * const chunk = createChunk({
 *   filename: "a.txt",
 *   fileHash: new Uint8Array(64),
 *   chunkOffset: 0,
 *   chunkIndex: 1,
 *   totalChunks: 1,
 *   data: new Uint8Array(),
 *   fileMtime: 1700000000,
 * });
 * const options: EncodeChunkOptions = { includeMtime: true };
 * assert.equal(encodeChunk(chunk, options)[0], 0x9a); // a msgpack array of 10 elements
 * ```
 */
export interface EncodeChunkOptions {
  /**
   * Write the 10th field, `file_mtime`, as a float64 (the chunk's `fileMtime`, or 0.0 when
   * unknown), as OpenMSIStream 1.8.6+ does. Default false: 9 fields, which every OpenMSIStream
   * version reads (versions up to 1.8.5 refuse 10).
   */
  includeMtime?: boolean;
  /**
   * A buffer to encode into when it is large enough (the result is then a view on its start,
   * valid until the buffer is reused); otherwise a new buffer is allocated. Lets a sender whose
   * transport copies the message (librdkafka's `RD_KAFKA_MSG_F_COPY`) reuse one buffer.
   */
  into?: Uint8Array<ArrayBuffer>;
}

/**
 * Options of {@linkcode decodeChunk}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createChunk } from "./chunk.ts";
 * import { decodeChunk, type DecodeChunkOptions, encodeChunk } from "./codec.ts";
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

const MAX_UINT32 = 0xffff_ffff;
const TWO_POW_32 = 0x1_0000_0000;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// ---------------------------------------------------------------------------------------------
// Validation shared by the encoder and the decoder

function quote(value: string): string {
  return JSON.stringify(value);
}

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
 * import { validateChunk } from "./codec.ts";
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

// ---------------------------------------------------------------------------------------------
// Encoder

function utf8Length(text: string): number {
  // Assumes well-formed UTF-16 (checked by validateChunk).
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) length += 1;
    else if (unit < 0x800) length += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}

function strHeaderLength(length: number): number {
  return length < 32 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
}

function binHeaderLength(length: number): number {
  return length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
}

function uintLength(value: number): number {
  return value < 0x80 ? 1 : value < 0x100 ? 2 : value < 0x10000 ? 3 : value < TWO_POW_32 ? 5 : 9;
}

/** Writes msgpack values into one preallocated buffer. */
class Writer {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly #view: DataView;
  pos = 0;

  constructor(length: number, into?: Uint8Array<ArrayBuffer>) {
    this.bytes = into && into.length >= length ? into.subarray(0, length) : new Uint8Array(length);
    this.#view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  uint(value: number): void {
    const view = this.#view;
    if (value < 0x80) {
      view.setUint8(this.pos, value);
      this.pos += 1;
    } else if (value < 0x100) {
      view.setUint8(this.pos, 0xcc);
      view.setUint8(this.pos + 1, value);
      this.pos += 2;
    } else if (value < 0x10000) {
      view.setUint8(this.pos, 0xcd);
      view.setUint16(this.pos + 1, value);
      this.pos += 3;
    } else if (value < TWO_POW_32) {
      view.setUint8(this.pos, 0xce);
      view.setUint32(this.pos + 1, value);
      this.pos += 5;
    } else {
      view.setUint8(this.pos, 0xcf);
      view.setUint32(this.pos + 1, Math.floor(value / TWO_POW_32));
      view.setUint32(this.pos + 5, value % TWO_POW_32);
      this.pos += 9;
    }
  }

  str(text: string, length: number): void {
    const view = this.#view;
    if (length < 32) {
      view.setUint8(this.pos, 0xa0 | length);
      this.pos += 1;
    } else if (length < 0x100) {
      view.setUint8(this.pos, 0xd9);
      view.setUint8(this.pos + 1, length);
      this.pos += 2;
    } else if (length < 0x10000) {
      view.setUint8(this.pos, 0xda);
      view.setUint16(this.pos + 1, length);
      this.pos += 3;
    } else {
      view.setUint8(this.pos, 0xdb);
      view.setUint32(this.pos + 1, length);
      this.pos += 5;
    }
    const { written } = textEncoder.encodeInto(
      text,
      this.bytes.subarray(this.pos, this.pos + length),
    );
    if (written !== length) {
      throw new Error(`UTF-8 length of ${quote(text)} is ${written}, expected ${length}.`);
    }
    this.pos += length;
  }

  bin(data: Uint8Array): void {
    const view = this.#view;
    const length = data.length;
    if (length < 0x100) {
      view.setUint8(this.pos, 0xc4);
      view.setUint8(this.pos + 1, length);
      this.pos += 2;
    } else if (length < 0x10000) {
      view.setUint8(this.pos, 0xc5);
      view.setUint16(this.pos + 1, length);
      this.pos += 3;
    } else {
      view.setUint8(this.pos, 0xc6);
      view.setUint32(this.pos + 1, length);
      this.pos += 5;
    }
    this.bytes.set(data, this.pos);
    this.pos += length;
  }

  float64(value: number): void {
    this.#view.setUint8(this.pos, 0xcb);
    this.#view.setFloat64(this.pos + 1, value);
    this.pos += 9;
  }
}

/**
 * Encodes `chunk` as a chunk message value, byte-identical to what OpenMSIStream's
 * `DataFileChunkSerializer` (msgpack-python, `use_bin_type=True`) writes: smallest integer forms,
 * fixstr/str8/str16/str32 for text, bin8/bin16/bin32 for bytes, float64 for the mtime. The
 * result is one allocation of the exact size; `data` is copied once. Validates the chunk first
 * (see {@linkcode validateChunk}) and throws {@linkcode ChunkFormatError}; the chunk hash is
 * not recomputed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createChunk } from "./chunk.ts";
 * import { sha512 } from "./hash.ts";
 * import { decodeChunk, encodeChunk } from "./codec.ts";
 *
 * const data = new TextEncoder().encode("hello");
 * const chunk = createChunk({
 *   filename: "a.txt",
 *   subdir: "run1",
 *   fileHash: sha512(data),
 *   chunkOffset: 0,
 *   chunkIndex: 1,
 *   totalChunks: 1,
 *   data,
 * });
 * const bytes = encodeChunk(chunk);
 * assert.equal(bytes[0], 0x99); // a msgpack array of 9 elements
 * assert.deepEqual(decodeChunk(bytes), chunk);
 * ```
 *
 * @param chunk The chunk to encode.
 * @param options Whether to write the 10th field (the mtime).
 * @returns The message value.
 */
export function encodeChunk(
  chunk: DataFileChunk,
  options: EncodeChunkOptions = {},
): Uint8Array<ArrayBuffer> {
  validateChunk(chunk);
  const includeMtime = options.includeMtime ?? false;
  const filenameLength = utf8Length(chunk.filename);
  const subdirLength = utf8Length(chunk.subdir);
  const appendLength = utf8Length(chunk.filenameAppend);
  const dataLength = chunk.data.length;
  const length = 1 +
    strHeaderLength(filenameLength) + filenameLength +
    2 * (binHeaderLength(SHA512_LENGTH) + SHA512_LENGTH) +
    uintLength(chunk.chunkOffset) +
    uintLength(chunk.chunkIndex) +
    uintLength(chunk.totalChunks) +
    strHeaderLength(subdirLength) + subdirLength +
    strHeaderLength(appendLength) + appendLength +
    binHeaderLength(dataLength) + dataLength +
    (includeMtime ? 9 : 0);

  const writer = new Writer(length, options.into);
  writer.bytes[0] = includeMtime ? 0x9a : 0x99;
  writer.pos = 1;
  writer.str(chunk.filename, filenameLength);
  writer.bin(chunk.fileHash);
  writer.bin(chunk.chunkHash);
  writer.uint(chunk.chunkOffset);
  writer.uint(chunk.chunkIndex);
  writer.uint(chunk.totalChunks);
  writer.str(chunk.subdir, subdirLength);
  writer.str(chunk.filenameAppend, appendLength);
  writer.bin(chunk.data);
  if (includeMtime) writer.float64(chunk.fileMtime ?? 0);
  if (writer.pos !== length) {
    throw new Error(`Encoded chunk is ${writer.pos} bytes long, expected ${length}.`);
  }
  return writer.bytes;
}

// ---------------------------------------------------------------------------------------------
// Decoder

const FIELDS: readonly ChunkField[] = [
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
 * Decodes a chunk message value written by OpenMSIStream (any version) or by
 * {@linkcode encodeChunk}, checking everything, and throws {@linkcode ChunkFormatError} with the
 * field at fault for anything else.
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
 * import { decodeChunk, encodeChunk } from "./codec.ts";
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
    reader.field = FIELDS[index] ?? "value";
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
