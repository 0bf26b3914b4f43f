/**
 * Helpers of the chunk message tests (`encode_test.ts`, `decode_test.ts`, `validate_test.ts`):
 * reproducible chunks, hand-built msgpack messages in every form, and an assertion on the
 * {@linkcode ChunkFormatError} a message gets. Not part of the package.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createChunk, type DataFileChunk } from "./chunk.ts";
import { type ChunkField, ChunkFormatError, type ChunkFormatReason } from "./format_error.ts";
import { sha512 } from "../hash/sha512.ts";

/** Deterministic pseudo-random bytes (xorshift32), so failures are reproducible. */
export function bytesOf(length: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  let x = seed || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export function makeChunk(overrides: Partial<DataFileChunk> = {}): DataFileChunk {
  const data = overrides.data ?? bytesOf(100);
  const base = createChunk({
    filename: "a.txt",
    fileHash: sha512(bytesOf(1000, 7)),
    chunkOffset: 0,
    chunkIndex: 1,
    totalChunks: 1,
    data,
  });
  return { ...base, ...overrides, chunkHash: overrides.chunkHash ?? base.chunkHash };
}

export function concat(...parts: (Uint8Array | number[])[]): Uint8Array<ArrayBuffer> {
  const arrays = parts.map((p) => (p instanceof Uint8Array ? p : new Uint8Array(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let pos = 0;
  for (const a of arrays) {
    out.set(a, pos);
    pos += a.length;
  }
  return out;
}

export const utf8 = (text: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(text);

// Minimal msgpack writers for hand-built messages, each in one explicit form.
export const mp = {
  fixstr: (text: string) => concat([0xa0 | utf8(text).length], utf8(text)),
  str8: (text: string) => concat([0xd9, utf8(text).length], utf8(text)),
  str16: (text: string) => concat([0xda, 0, utf8(text).length], utf8(text)),
  str32: (text: string) => concat([0xdb, 0, 0, 0, utf8(text).length], utf8(text)),
  bin8: (bytes: Uint8Array) => concat([0xc4, bytes.length], bytes),
  bin16: (bytes: Uint8Array) => concat([0xc5, bytes.length >> 8, bytes.length & 0xff], bytes),
  bin32: (bytes: Uint8Array) =>
    concat([0xc6, 0, bytes.length >> 16, (bytes.length >> 8) & 0xff, bytes.length & 0xff], bytes),
  fixint: (n: number) => [n],
  uint8: (n: number) => [0xcc, n],
  uint16: (n: number) => [0xcd, n >> 8, n & 0xff],
  uint32: (n: number) => [0xce, 0, 0, n >> 8, n & 0xff],
  uint64: (n: number) => [0xcf, 0, 0, 0, 0, 0, 0, n >> 8, n & 0xff],
  int8: (n: number) => [0xd0, n & 0xff],
  int16: (n: number) => [0xd1, (n >> 8) & 0xff, n & 0xff],
  int32: (n: number) => [0xd2, (n >> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff],
  int64: (n: number) => [0xd3, 0, 0, 0, 0, 0, 0, (n >> 8) & 0xff, n & 0xff],
  float32: (n: number) => {
    const b = new Uint8Array(5);
    b[0] = 0xca;
    new DataView(b.buffer).setFloat32(1, n);
    return b;
  },
  float64: (n: number) => {
    const b = new Uint8Array(9);
    b[0] = 0xcb;
    new DataView(b.buffer).setFloat64(1, n);
    return b;
  },
  nil: () => [0xc0],
};

export type Part = Uint8Array | number[];

/** The nine (or ten) parts of a valid message for `chunk`, in the smallest forms. */
export function partsOf(chunk: DataFileChunk): Part[] {
  return [
    mp.fixstr(chunk.filename),
    mp.bin8(chunk.fileHash),
    mp.bin8(chunk.chunkHash),
    mp.fixint(chunk.chunkOffset),
    mp.fixint(chunk.chunkIndex),
    mp.fixint(chunk.totalChunks),
    mp.fixstr(chunk.subdir),
    mp.fixstr(chunk.filenameAppend),
    mp.bin8(chunk.data),
  ];
}

export function message(parts: Part[], header?: Part): Uint8Array<ArrayBuffer> {
  return concat(header ?? [0x90 | parts.length], ...parts);
}

/** A small valid chunk whose fields all fit the smallest forms used by partsOf. */
export const small = makeChunk({
  subdir: "run1",
  data: bytesOf(20, 3),
  chunkIndex: 2,
  totalChunks: 3,
});

export function withPart(index: number, part: Part, base: DataFileChunk = small): Uint8Array {
  const parts = partsOf(base);
  parts[index] = part;
  return message(parts);
}

export function assertFormatError(
  fn: () => unknown,
  field: ChunkField,
  reason: ChunkFormatReason,
  messagePattern?: RegExp,
): ChunkFormatError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ChunkFormatError, `expected a ChunkFormatError, got ${caught}`);
  assert.equal(caught.field, field, caught.message);
  assert.equal(caught.reason, reason, caught.message);
  if (messagePattern) assert.match(caught.message, messagePattern);
  return caught;
}

/**
 * Encodes a chunk without validation (smallest forms), to test the decoder's checks on
 * messages Ferry's encoder refuses to write.
 */
export function encodeChunkUnchecked(chunk: DataFileChunk): Uint8Array {
  const str = (text: string) => (utf8(text).length < 32 ? mp.fixstr(text) : mp.str8(text));
  return message([
    str(chunk.filename),
    mp.bin8(chunk.fileHash),
    mp.bin8(chunk.chunkHash),
    mp.fixint(chunk.chunkOffset),
    mp.fixint(chunk.chunkIndex),
    mp.fixint(chunk.totalChunks),
    str(chunk.subdir),
    str(chunk.filenameAppend),
    mp.bin8(chunk.data),
  ]);
}
