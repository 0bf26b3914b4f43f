import assert from "node:assert/strict";
import { decode as msgpackDecode } from "@msgpack/msgpack";
import { createChunk, type DataFileChunk } from "../src/chunks/chunk.ts";
import { decodeChunk, encodeChunk, validateChunk } from "../src/chunks/codec.ts";
import {
  type ChunkField,
  ChunkFormatError,
  type ChunkFormatReason,
} from "../src/chunks/format_error.ts";
import { sha512 } from "../src/chunks/hash.ts";
import { chunkKey } from "../src/chunks/key.ts";

// ---------------------------------------------------------------------------------------------
// Helpers

/** Deterministic pseudo-random bytes (xorshift32), so failures are reproducible. */
function bytesOf(length: number, seed = 1): Uint8Array<ArrayBuffer> {
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

function makeChunk(overrides: Partial<DataFileChunk> = {}): DataFileChunk {
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

function concat(...parts: (Uint8Array | number[])[]): Uint8Array<ArrayBuffer> {
  const arrays = parts.map((p) => (p instanceof Uint8Array ? p : new Uint8Array(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let pos = 0;
  for (const a of arrays) {
    out.set(a, pos);
    pos += a.length;
  }
  return out;
}

const utf8 = (text: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(text);

// Minimal msgpack writers for hand-built messages, each in one explicit form.
const mp = {
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

type Part = Uint8Array | number[];

/** The nine (or ten) parts of a valid message for `chunk`, in the smallest forms. */
function partsOf(chunk: DataFileChunk): Part[] {
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

function message(parts: Part[], header?: Part): Uint8Array<ArrayBuffer> {
  return concat(header ?? [0x90 | parts.length], ...parts);
}

/** A small valid chunk whose fields all fit the smallest forms used by partsOf. */
const small = makeChunk({ subdir: "run1", data: bytesOf(20, 3), chunkIndex: 2, totalChunks: 3 });

function withPart(index: number, part: Part, base: DataFileChunk = small): Uint8Array {
  const parts = partsOf(base);
  parts[index] = part;
  return message(parts);
}

function assertFormatError(
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

// ---------------------------------------------------------------------------------------------
// Round trips and exact bytes

Deno.test("encodeChunk() and decodeChunk() round-trip 9 and 10 fields", () => {
  const chunks = [
    makeChunk(),
    makeChunk({ subdir: "run1/raw", filename: "scan.tif", filenameAppend: "_v2" }),
    makeChunk({ filename: "Ünïcødé 数据 🚀.dat", subdir: "données/été", data: new Uint8Array() }),
    makeChunk({ chunkOffset: 2 ** 40, chunkIndex: 70_000, totalChunks: 70_001 }),
    makeChunk({ fileMtime: 1_700_000_000.123456 }),
  ];
  for (const chunk of chunks) {
    const nine = encodeChunk(chunk);
    assert.equal(nine[0], 0x99);
    const { fileMtime: _, ...withoutMtime } = chunk;
    assert.deepEqual(decodeChunk(nine), withoutMtime);

    const ten = encodeChunk(chunk, { includeMtime: true });
    assert.equal(ten[0], 0x9a);
    assert.equal(ten.length, nine.length + 9);
    assert.deepEqual(decodeChunk(ten), chunk);
    assert.deepEqual(ten.subarray(1, nine.length), nine.subarray(1));
  }
});

Deno.test("encodeChunk() writes 0.0 for an unknown mtime and decodeChunk() reads it as unknown", () => {
  const bytes = encodeChunk(makeChunk(), { includeMtime: true });
  assert.deepEqual([...bytes.subarray(-9)], [0xcb, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal("fileMtime" in decodeChunk(bytes), false);
  const negative = concat(bytes.subarray(0, -9), mp.float64(-5));
  assert.equal(decodeChunk(negative).fileMtime, undefined);
});

Deno.test("encodeChunk() output is read back the same by @msgpack/msgpack", () => {
  const chunk = makeChunk({
    subdir: "a/b",
    filenameAppend: "_x",
    chunkOffset: 2 ** 33 + 5,
    fileMtime: 1.5,
  });
  const decoded = msgpackDecode(encodeChunk(chunk, { includeMtime: true }));
  assert.deepEqual(decoded, [
    chunk.filename,
    chunk.fileHash,
    chunk.chunkHash,
    chunk.chunkOffset,
    chunk.chunkIndex,
    chunk.totalChunks,
    chunk.subdir,
    chunk.filenameAppend,
    chunk.data,
    1.5,
  ]);
});

Deno.test("encodeChunk() reproduces the spec's real message byte by byte", () => {
  const filename = "1a0ceb89-b5f0-45dc-9c12-63d3020e2217.dat";
  const data = bytesOf(16_384, 42);
  const chunk = createChunk({
    filename,
    subdir: "test_file_sub_dir",
    fileHash: sha512(bytesOf(381 * 16_384, 5)),
    chunkOffset: 0,
    chunkIndex: 1,
    totalChunks: 381,
    data,
    fileMtime: 1_700_000_000.0,
  });
  const bytes = encodeChunk(chunk, { includeMtime: true });
  assert.equal(bytes.length, 16_595);

  let pos = 0;
  const expect = (expected: number[] | Uint8Array, what: string) => {
    assert.deepEqual(
      [...bytes.subarray(pos, pos + expected.length)],
      [...expected],
      `${what} at byte ${pos}`,
    );
    pos += expected.length;
  };
  expect([0x9a], "array of 10");
  expect([0xd9, 0x28], "str8 header of the 40-byte filename");
  expect(utf8(filename), "filename");
  expect([0xc4, 0x40], "bin8 header of file_hash");
  expect(chunk.fileHash, "file_hash");
  expect([0xc4, 0x40], "bin8 header of chunk_hash");
  expect(chunk.chunkHash, "chunk_hash");
  expect([0x00], "offset 0");
  expect([0x01], "chunk_i 1");
  expect([0xcd, 0x01, 0x7d], "381 chunks");
  expect([0xb1], "fixstr header of the subdir");
  expect(utf8("test_file_sub_dir"), "subdir");
  expect([0xa0], "empty filename_append");
  expect([0xc5, 0x40, 0x00], "bin16 header of 16384 data bytes");
  expect(data, "data");
  expect([0xcb, 0x41, 0xd9, 0x54, 0xfc, 0x40, 0x00, 0x00, 0x00], "mtime 1700000000.0");
  assert.equal(pos, bytes.length);

  assert.equal(
    chunkKey(chunk),
    "test_file_sub_dir_1a0ceb89-b5f0-45dc-9c12-63d3020e2217.dat_chunk_1_of_381",
  );
  assert.deepEqual(decodeChunk(bytes), chunk);
});

Deno.test("encodeChunk() picks the smallest integer form at every boundary", () => {
  const cases: [number, number[]][] = [
    [0, [0x00]],
    [127, [0x7f]],
    [128, [0xcc, 0x80]],
    [255, [0xcc, 0xff]],
    [256, [0xcd, 0x01, 0x00]],
    [65_535, [0xcd, 0xff, 0xff]],
    [65_536, [0xce, 0x00, 0x01, 0x00, 0x00]],
    [2 ** 32 - 1, [0xce, 0xff, 0xff, 0xff, 0xff]],
    [2 ** 32, [0xcf, 0, 0, 0, 1, 0, 0, 0, 0]],
    [2 ** 53 - 101, [0xcf, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x9b]],
  ];
  for (const [offset, expected] of cases) {
    const chunk = makeChunk({ chunkOffset: offset });
    const bytes = encodeChunk(chunk);
    const at = 1 + 6 + 66 + 66; // array, "a.txt", two hashes
    assert.deepEqual([...bytes.subarray(at, at + expected.length)], expected, `offset ${offset}`);
    assert.equal(decodeChunk(bytes).chunkOffset, offset);
  }
});

Deno.test("encodeChunk() picks fixstr, str8, str16, str32 and bin8, bin16, bin32 at the boundaries", () => {
  const strCases: [number, number[]][] = [
    [0, [0xa0]],
    [31, [0xbf]],
    [32, [0xd9, 32]],
    [255, [0xd9, 255]],
    [256, [0xda, 0x01, 0x00]],
    [65_535, [0xda, 0xff, 0xff]],
    [65_536, [0xdb, 0x00, 0x01, 0x00, 0x00]],
  ];
  for (const [length, header] of strCases) {
    const subdir = "d".repeat(length);
    const bytes = encodeChunk(makeChunk({ subdir }));
    const at = 1 + 6 + 66 + 66 + 3;
    assert.deepEqual([...bytes.subarray(at, at + header.length)], header, `subdir of ${length}`);
    assert.equal(decodeChunk(bytes).subdir, subdir);
  }
  const binCases: [number, number[]][] = [
    [0, [0xc4, 0]],
    [255, [0xc4, 255]],
    [256, [0xc5, 0x01, 0x00]],
    [65_535, [0xc5, 0xff, 0xff]],
    [65_536, [0xc6, 0x00, 0x01, 0x00, 0x00]],
    [524_288, [0xc6, 0x00, 0x08, 0x00, 0x00]],
  ];
  for (const [length, header] of binCases) {
    const data = bytesOf(length);
    const bytes = encodeChunk(makeChunk({ data }));
    const at = bytes.length - length - header.length;
    assert.deepEqual([...bytes.subarray(at, at + header.length)], header, `data of ${length}`);
    assert.deepEqual(decodeChunk(bytes).data, data);
  }
  // Multi-byte UTF-8: the header counts bytes, not characters.
  const name = "é".repeat(16); // 32 bytes
  assert.deepEqual([...encodeChunk(makeChunk({ filename: name })).subarray(1, 3)], [0xd9, 32]);
});

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

Deno.test("decodeChunk() refuses hashes that are not 64 bytes", () => {
  assertFormatError(
    () => decodeChunk(withPart(1, mp.bin8(new Uint8Array(32)))),
    "file_hash",
    "length",
    /^Chunk field "file_hash" is 32 bytes long, expected 64\.$/,
  );
  assertFormatError(
    () => decodeChunk(withPart(2, mp.bin8(small.chunkHash.subarray(0, 63)))),
    "chunk_hash",
    "length",
  );
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

Deno.test("decodeChunk() checks chunk_i and n_total_chunks", () => {
  assertFormatError(
    () => decodeChunk(encodeChunkUnchecked({ ...small, chunkIndex: 0, totalChunks: 5 })),
    "chunk_i",
    "range",
    /^Chunk field "chunk_i" is 0, expected 1\.\.5\.$/,
  );
  assertFormatError(
    () => decodeChunk(encodeChunkUnchecked({ ...small, chunkIndex: 6, totalChunks: 5 })),
    "chunk_i",
    "range",
    /^Chunk field "chunk_i" is 6, expected 1\.\.5\.$/,
  );
  assertFormatError(
    () => decodeChunk(encodeChunkUnchecked({ ...small, chunkIndex: 1, totalChunks: 0 })),
    "n_total_chunks",
    "range",
  );
  assertFormatError(() => decodeChunk(withPart(4, mp.int8(-1))), "chunk_i", "range", /is -1/);
});

Deno.test("decodeChunk() checks that offsets are non-negative and end below 2^53", () => {
  assertFormatError(
    () => decodeChunk(withPart(3, mp.int16(-300))),
    "chunk_offset_write",
    "range",
  );
  assertFormatError(
    () => decodeChunk(withPart(3, [0xcf, 0x00, 0x20, 0, 0, 0, 0, 0, 0])),
    "chunk_offset_write",
    "range",
    /is 9007199254740992, beyond the safe integer range/,
  );
  assertFormatError(
    () => decodeChunk(withPart(3, [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])),
    "chunk_offset_write",
    "range",
    /is 18446744073709551615/,
  );
  // 2^53 - 10 is safe, but the chunk's 20 bytes would end past 2^53 - 1.
  const high = [0xcf, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf6];
  assertFormatError(() => decodeChunk(withPart(3, high)), "chunk_offset_write", "range");
  const fits = makeChunk({ data: bytesOf(9), chunkOffset: 2 ** 53 - 10 });
  assert.equal(decodeChunk(encodeChunk(fits)).chunkOffset, 2 ** 53 - 10);
});

Deno.test("decodeChunk() refuses unsafe paths with the field at fault", () => {
  const cases: [Partial<DataFileChunk>, ChunkField][] = [
    [{ subdir: "../../etc" }, "subdir_str"],
    [{ subdir: "a/../../b" }, "subdir_str"],
    [{ subdir: "/etc" }, "subdir_str"],
    [{ subdir: "C:/Windows" }, "subdir_str"],
    [{ subdir: "a\\..\\b" }, "subdir_str"],
    [{ subdir: "a\u0000b" }, "subdir_str"],
    [{ filename: "" }, "filename"],
    [{ filename: ".." }, "filename"],
    [{ filename: "." }, "filename"],
    [{ filename: "../../.bashrc" }, "filename"],
    [{ filename: "/etc/passwd" }, "filename"],
    [{ filename: "a\nb" }, "filename"],
    [{ filename: "C:evil" }, "filename"],
    [{ filenameAppend: "/../../x" }, "filename_append"],
    [{ filenameAppend: "\\x" }, "filename_append"],
  ];
  for (const [overrides, field] of cases) {
    const bytes = encodeChunkUnchecked({ ...small, ...overrides });
    const error = assertFormatError(() => decodeChunk(bytes), field, "unsafe_path");
    assert.match(error.message, new RegExp(`^Chunk field "${field}" is ".*", which is unsafe: `));
    assert.throws(() => encodeChunk({ ...small, ...overrides }), ChunkFormatError);
  }
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

Deno.test("encodeChunk() validates the chunk it is given", () => {
  assertFormatError(
    () => encodeChunk(makeChunk({ fileHash: new Uint8Array(10) })),
    "file_hash",
    "length",
  );
  assertFormatError(
    () => encodeChunk(makeChunk({ chunkOffset: -1 })),
    "chunk_offset_write",
    "range",
  );
  assertFormatError(
    () => encodeChunk(makeChunk({ chunkOffset: 0.5 })),
    "chunk_offset_write",
    "range",
  );
  assertFormatError(() => encodeChunk(makeChunk({ chunkIndex: 2 })), "chunk_i", "range");
  assertFormatError(() => encodeChunk(makeChunk({ filename: "a\ud800.txt" })), "filename", "utf8");
  assertFormatError(
    () => encodeChunk(makeChunk({ fileMtime: NaN }), { includeMtime: true }),
    "file_mtime",
    "range",
  );
  // validateChunk() is the same check, without encoding.
  assert.doesNotThrow(() => validateChunk(small));
});

/**
 * Encodes a chunk without validation (smallest forms), to test the decoder's checks on
 * messages Ferry's encoder refuses to write.
 */
function encodeChunkUnchecked(chunk: DataFileChunk): Uint8Array {
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
