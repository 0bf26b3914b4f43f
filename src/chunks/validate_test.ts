/**
 * Tests of the field checks (`validateChunk`) that both `encodeChunk` and `decodeChunk` apply:
 * hash lengths, index, count and offset ranges, unsafe paths.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DataFileChunk } from "./chunk.ts";
import { decodeChunk } from "./decode.ts";
import { encodeChunk } from "./encode.ts";
import { type ChunkField, ChunkFormatError } from "./format_error.ts";
import { validateChunk } from "./validate.ts";
import {
  assertFormatError,
  bytesOf,
  encodeChunkUnchecked,
  makeChunk,
  mp,
  small,
  withPart,
} from "./_test_utils.ts";

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
