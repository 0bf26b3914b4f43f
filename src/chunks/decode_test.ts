/**
 * Tests of `decodeChunk`: every form other msgpack writers use is accepted, and every
 * malformed, truncated, hostile or corrupted message is refused with the field at fault.
 *
 * @module
 */

import assert from "node:assert/strict";
import { decodeChunk } from "./decode.ts";
import { encodeChunk } from "./encode.ts";
import { type ChunkField, ChunkFormatError } from "./format_error.ts";
import {
  assertFormatError,
  bytesOf,
  concat,
  makeChunk,
  message,
  mp,
  type Part,
  partsOf,
  small,
  utf8,
  withPart,
} from "./_test_utils.ts";

Deno.test("decodeChunk() returns data as a view into the message, also at a byte offset", () => {
  const chunk = makeChunk({ data: bytesOf(1000) });
  const bytes = encodeChunk(chunk);
  const big = new Uint8Array(bytes.length + 17);
  big.set(bytes, 11);
  const view = big.subarray(11, 11 + bytes.length);
  const decoded = decodeChunk(view);
  assert.deepEqual(decoded, chunk);
  assert.equal(decoded.data.buffer, big.buffer);
  assert.equal(decoded.data.byteOffset, 11 + bytes.length - 1000);
  // The hashes are copies: changing the message does not change them.
  const hashBefore = [...decoded.fileHash];
  big.fill(0);
  assert.deepEqual([...decoded.fileHash], hashBefore);
});

Deno.test("decodeChunk() accepts the forms other msgpack writers use", () => {
  const base = small;
  const variants: [string, Uint8Array][] = [
    ["smallest forms", message(partsOf(base))],
    ["array16 header", message(partsOf(base), [0xdc, 0x00, 0x09])],
    ["array32 header", message(partsOf(base), [0xdd, 0, 0, 0, 0x09])],
    ["str8 filename", withPart(0, mp.str8(base.filename))],
    ["str16 subdir", withPart(6, mp.str16(base.subdir))],
    ["str32 filename_append", withPart(7, mp.str32(base.filenameAppend))],
    ["bin16 file_hash", withPart(1, mp.bin16(base.fileHash))],
    ["bin32 chunk_hash", withPart(2, mp.bin32(base.chunkHash))],
    ["str8 for a hash (old raw type)", withPart(1, mp.str8(""))],
    ["bin8 for the file name", withPart(0, mp.bin8(utf8(base.filename)))],
    ["bin32 data", withPart(8, mp.bin32(base.data))],
    ["uint8 offset", withPart(3, mp.uint8(0))],
    ["uint16 chunk_i", withPart(4, mp.uint16(2))],
    ["uint32 total", withPart(5, mp.uint32(3))],
    ["uint64 total", withPart(5, mp.uint64(3))],
    ["int8 chunk_i", withPart(4, mp.int8(2))],
    ["int16 offset", withPart(3, mp.int16(0))],
    ["int32 total", withPart(5, mp.int32(3))],
    ["int64 offset", withPart(3, mp.int64(0))],
  ];
  for (const [name, bytes] of variants) {
    if (name.startsWith("str8 for a hash")) {
      // A hash written as str: accepted as a type, then refused for its length.
      assertFormatError(() => decodeChunk(bytes), "file_hash", "length");
      continue;
    }
    assert.deepEqual(decodeChunk(bytes), base, name);
  }
  const mtimes: [Part, number | undefined][] = [
    [mp.float64(1_700_000_000.25), 1_700_000_000.25],
    [mp.float32(1.5), 1.5],
    [mp.fixint(7), 7],
    [mp.uint32(1000), 1000],
    [mp.int8(-1), undefined],
    [mp.fixint(0), undefined],
    [[0xcf, 0x00, 0x20, 0, 0, 0, 0, 0, 0], 2 ** 53], // integers beyond 2^53 are fine for a time
  ];
  for (const [part, expected] of mtimes) {
    const decoded = decodeChunk(message([...partsOf(base), part]));
    assert.equal(decoded.fileMtime, expected);
  }
});

// ---------------------------------------------------------------------------------------------
// Malformed messages

Deno.test("decodeChunk() refuses what is not a msgpack array", () => {
  assertFormatError(() => decodeChunk(new Uint8Array()), "value", "not_array", /is empty/);
  assertFormatError(
    () => decodeChunk(utf8("hello, world")),
    "value",
    "not_array",
    /starts with msgpack type positive fixint \(byte 0x68\)/,
  );
  assertFormatError(() => decodeChunk(new Uint8Array([0x80])), "value", "not_array");
  assertFormatError(() => decodeChunk(new Uint8Array([0xc1])), "value", "not_array");
  assertFormatError(() => decodeChunk(new Uint8Array([0xdc, 0x00])), "value", "truncated");
});

Deno.test("decodeChunk() refuses arrays that do not have 9 or 10 elements", () => {
  const parts = partsOf(small);
  for (const count of [0, 1, 8]) {
    assertFormatError(
      () => decodeChunk(message(parts.slice(0, count))),
      "value",
      "array_length",
      new RegExp(`array of ${count} elements, expected 9 or 10\\.`),
    );
  }
  assertFormatError(
    () => decodeChunk(message([...parts, mp.float64(0), mp.nil()])),
    "value",
    "array_length",
  );
  const start = performance.now();
  assertFormatError(
    () => decodeChunk(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff])),
    "value",
    "array_length",
  );
  assert.ok(performance.now() - start < 50);
});

Deno.test("decodeChunk() refuses fields of the wrong msgpack type", () => {
  const cases: [number, Part, ChunkField][] = [
    [0, mp.fixint(1), "filename"],
    [0, mp.nil(), "filename"],
    [1, mp.fixint(1), "file_hash"],
    [2, [0x90], "chunk_hash"],
    [3, mp.fixstr("0"), "chunk_offset_write"],
    [3, mp.float64(0), "chunk_offset_write"],
    [4, mp.float32(2), "chunk_i"],
    [5, mp.nil(), "n_total_chunks"],
    [5, [0xc3], "n_total_chunks"],
    [6, mp.fixint(0), "subdir_str"],
    [7, [0x90], "filename_append"],
    [8, mp.fixint(1), "data"],
    [8, [0xd4, 0x01, 0x00], "data"],
  ];
  for (const [index, part, field] of cases) {
    assertFormatError(() => decodeChunk(withPart(index, part)), field, "type", /has msgpack type/);
  }
  for (const part of [mp.fixstr("1"), mp.nil(), [0xc2], mp.bin8(new Uint8Array(8))]) {
    assertFormatError(
      () => decodeChunk(message([...partsOf(small), part])),
      "file_mtime",
      "type",
    );
  }
});

Deno.test("decodeChunk() checks chunk_hash against the data unless told not to", () => {
  const chunk = makeChunk({ data: bytesOf(5000) });
  const bytes = encodeChunk(chunk);
  bytes[bytes.length - 1] ^= 0x01;
  const error = assertFormatError(() => decodeChunk(bytes), "data", "hash_mismatch");
  assert.match(error.message, /^Chunk field "data" has SHA-512 "[0-9a-f]{128}", but "chunk_hash"/);
  const unverified = decodeChunk(bytes, { verifyChunkHash: false });
  assert.equal(unverified.data[4999], chunk.data[4999]! ^ 0x01);
});

Deno.test("decodeChunk() refuses huge declared lengths fast, without allocating", () => {
  const hostile: [Uint8Array, ChunkField][] = [
    // bin32 of 0xffffffff bytes in a 20-byte message, where the file hash should be.
    [concat([0x99, 0xa1, 0x61, 0xc6, 0xff, 0xff, 0xff, 0xff], new Uint8Array(12)), "file_hash"],
    [concat([0x99, 0xdb, 0xff, 0xff, 0xff, 0xff], new Uint8Array(14)), "filename"],
    [concat([0x9a, 0xda, 0xff, 0xff], new Uint8Array(16)), "filename"],
  ];
  // And in the data field of an otherwise valid message.
  const parts = partsOf(small);
  parts[8] = concat([0xc6, 0xff, 0xff, 0xff, 0xff], new Uint8Array(3));
  hostile.push([message(parts), "data"]);
  for (const [bytes, field] of hostile) {
    const start = performance.now();
    const error = assertFormatError(() => decodeChunk(bytes), field, "truncated");
    assert.ok(performance.now() - start < 50, "refused within 50 ms");
    assert.match(error.message, /declares \d+ bytes but only \d+ remain\./);
  }
  assert.equal(hostile[0]![0].length, 20);
});

Deno.test("decodeChunk() refuses every truncation of a valid message", () => {
  const bytes = encodeChunk(makeChunk({ subdir: "x/y", fileMtime: 3 }), { includeMtime: true });
  for (let cut = 0; cut < bytes.length; cut++) {
    let caught: unknown;
    try {
      decodeChunk(bytes.subarray(0, cut));
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof ChunkFormatError, `cut at ${cut}: ${caught}`);
  }
  assertFormatError(
    () => decodeChunk(bytes.subarray(0, 1 + 6 + 66 + 66)),
    "chunk_offset_write",
    "truncated",
    /is missing: the message ends at byte 139\./,
  );
});

Deno.test("decodeChunk() throws only ChunkFormatError for any single-byte change", () => {
  const bytes = encodeChunk(makeChunk({ subdir: "x", data: bytesOf(40) }), {
    includeMtime: true,
  });
  for (let i = 0; i < bytes.length; i++) {
    for (const value of [0x00, 0x7f, 0x80, 0xc1, 0xcf, 0xdb, 0xff, bytes[i]! ^ 0x20]) {
      const mutated = bytes.slice();
      mutated[i] = value;
      try {
        decodeChunk(mutated);
      } catch (error) {
        assert.ok(error instanceof ChunkFormatError, `byte ${i} = ${value}: ${error}`);
      }
    }
  }
});

Deno.test("decodeChunk() refuses trailing bytes", () => {
  const bytes = concat(encodeChunk(small), [0x00, 0x00]);
  assertFormatError(
    () => decodeChunk(bytes),
    "value",
    "trailing_bytes",
    /^Chunk message has 2 bytes after its last field, expected none\.$/,
  );
});

Deno.test("decodeChunk() refuses text that is not UTF-8 and an mtime that is not finite", () => {
  assertFormatError(
    () => decodeChunk(withPart(0, concat([0xa2], [0xc3, 0x28]))),
    "filename",
    "utf8",
    /^Chunk field "filename" is not valid UTF-8/,
  );
  assertFormatError(
    () => decodeChunk(withPart(6, concat([0xa1], [0xff]))),
    "subdir_str",
    "utf8",
  );
  for (const value of [NaN, Infinity, -Infinity]) {
    assertFormatError(
      () => decodeChunk(message([...partsOf(small), mp.float64(value)])),
      "file_mtime",
      "range",
    );
  }
  // A byte order mark is kept, not stripped.
  const bom = decodeChunk(withPart(0, mp.fixstr("\ufeffa.txt")));
  assert.equal(bom.filename, "\ufeffa.txt");
});
