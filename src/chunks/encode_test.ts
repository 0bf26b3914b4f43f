/**
 * Tests of `encodeChunk`: the exact bytes OpenMSIStream writes (every msgpack form at its
 * boundaries, the spec's real message), read back by `decodeChunk` and by @msgpack/msgpack.
 *
 * @module
 */

import assert from "node:assert/strict";
import { decode as msgpackDecode } from "@msgpack/msgpack";
import { createChunk } from "./chunk.ts";
import { decodeChunk } from "./decode.ts";
import { chunkLayout, encodeChunk } from "./encode.ts";
import { chunkKey } from "./key.ts";
import { sha512 } from "../hash/sha512.ts";
import { bytesOf, concat, makeChunk, mp, utf8 } from "./_test_utils.ts";

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

Deno.test("chunkLayout() places the data where encodeChunk() writes it, and in place it is not copied", () => {
  const chunks = [
    makeChunk(),
    makeChunk({ filename: "Ünïcødé 数据 🚀.dat", subdir: "données/été", filenameAppend: "_v2" }),
    makeChunk({ data: new Uint8Array(300), chunkIndex: 200, totalChunks: 300 }),
    makeChunk({
      data: new Uint8Array(70_000),
      chunkOffset: 2 ** 40,
      chunkIndex: 70_000,
      totalChunks: 70_001,
    }),
    makeChunk({ data: new Uint8Array(), fileMtime: 1_700_000_000.5 }),
  ];
  for (const chunk of chunks) {
    for (const includeMtime of [false, true]) {
      const copied = encodeChunk(chunk, { includeMtime });
      const { length, dataOffset } = chunkLayout(chunk, chunk.data.length, { includeMtime });
      assert.equal(length, copied.length);
      assert.deepEqual(copied.subarray(dataOffset, dataOffset + chunk.data.length), chunk.data);

      // Read into a larger buffer at its place: encoded around it, not copied onto itself.
      const buffer = new Uint8Array(length + 7).fill(0xee);
      const data = buffer.subarray(dataOffset, dataOffset + chunk.data.length);
      data.set(chunk.data);
      const inPlace = encodeChunk({ ...chunk, data }, { into: buffer, includeMtime });
      assert.equal(inPlace.buffer, buffer.buffer);
      assert.deepEqual(inPlace, copied);
    }
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
