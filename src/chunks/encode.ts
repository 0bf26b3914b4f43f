/**
 * Writes a chunk as its message value: a msgpack array of 9 (or 10) fields, byte for byte as
 * OpenMSIStream writes it with `msgpack.packb([...], use_bin_type=True)`, in one allocation of
 * the exact size.
 *
 * @module
 */

import type { DataFileChunk } from "./chunk.ts";
import { quote } from "./fields.ts";
import { validateChunk } from "./validate.ts";
import { SHA512_LENGTH } from "../hash/sha512.ts";

/**
 * Options of {@linkcode encodeChunk}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createChunk } from "./chunk.ts";
 * import { encodeChunk, type EncodeChunkOptions } from "./encode.ts";
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
   * transport copies the message (librdkafka's `RD_KAFKA_MSG_F_COPY`) reuse one buffer. When the
   * chunk's `data` already sits in this buffer where it belongs (at {@linkcode chunkLayout}'s
   * `dataOffset`: read there from the file), it is not copied.
   */
  into?: Uint8Array<ArrayBuffer>;
}

/** The fields of a chunk that decide where its data sits in the message. */
export type ChunkHeaderFields = Pick<
  DataFileChunk,
  "filename" | "chunkOffset" | "chunkIndex" | "totalChunks" | "subdir" | "filenameAppend"
>;

/** Where a chunk's data sits in its encoded message: see {@linkcode chunkLayout}. */
export interface ChunkLayout {
  /** Length of the whole message value. */
  length: number;
  /** Offset of the first byte of `data` in it. */
  dataOffset: number;
}

const TWO_POW_32 = 0x1_0000_0000;

const textEncoder = new TextEncoder();

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
    // Data read into the message buffer where it belongs is not copied onto itself.
    if (data.buffer !== this.bytes.buffer || data.byteOffset !== this.bytes.byteOffset + this.pos) {
      this.bytes.set(data, this.pos);
    }
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
 * (see {@linkcode validateChunk}) and throws its `ChunkFormatError`; the chunk hash is not
 * recomputed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createChunk } from "./chunk.ts";
 * import { sha512 } from "../hash/sha512.ts";
 * import { decodeChunk } from "./decode.ts";
 * import { encodeChunk } from "./encode.ts";
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
  const { length } = chunkLayout(chunk, chunk.data.length, options);

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

/**
 * Where {@linkcode encodeChunk} puts a chunk's data in its message (the data is the last field
 * but the optional mtime), and the message's length, from the fields before it and the data's
 * length: lets a sender read a chunk straight into a message buffer, at `dataOffset`, and
 * encode the rest around it without copying the data (see {@linkcode EncodeChunkOptions.into}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chunkLayout, encodeChunk } from "./encode.ts";
 * import { sha512 } from "../hash/sha512.ts";
 *
 * const fields = {
 *   filename: "a.txt",
 *   subdir: "run1",
 *   chunkOffset: 0,
 *   chunkIndex: 1,
 *   totalChunks: 1,
 *   filenameAppend: "",
 * };
 * const { length, dataOffset } = chunkLayout(fields, 5);
 * const message = new Uint8Array(length);
 * const data = message.subarray(dataOffset, dataOffset + 5);
 * data.set(new TextEncoder().encode("hello")); // as a file read would
 * const hash = sha512(data);
 * const value = encodeChunk({ ...fields, fileHash: hash, chunkHash: hash, data }, {
 *   into: message,
 * });
 * assert.equal(value.buffer, message.buffer);
 * assert.deepEqual(value, encodeChunk({ ...fields, fileHash: hash, chunkHash: hash, data: data.slice() }));
 * ```
 *
 * @param chunk The fields before the data.
 * @param dataLength The data's length in bytes.
 * @param options Whether the mtime follows the data.
 * @returns The message's length and the data's offset in it.
 */
export function chunkLayout(
  chunk: ChunkHeaderFields,
  dataLength: number,
  options: Pick<EncodeChunkOptions, "includeMtime"> = {},
): ChunkLayout {
  const filenameLength = utf8Length(chunk.filename);
  const subdirLength = utf8Length(chunk.subdir);
  const appendLength = utf8Length(chunk.filenameAppend);
  const dataOffset = 1 +
    strHeaderLength(filenameLength) + filenameLength +
    2 * (binHeaderLength(SHA512_LENGTH) + SHA512_LENGTH) +
    uintLength(chunk.chunkOffset) +
    uintLength(chunk.chunkIndex) +
    uintLength(chunk.totalChunks) +
    strHeaderLength(subdirLength) + subdirLength +
    strHeaderLength(appendLength) + appendLength +
    binHeaderLength(dataLength);
  return {
    length: dataOffset + dataLength + (options.includeMtime ? 9 : 0),
    dataOffset,
  };
}
