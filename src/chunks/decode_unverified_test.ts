/**
 * `decodeChunk` with `verifyChunkHash: false` (how a file processor reads chunks unless
 * `--check-chunks`): the chunk's own SHA-512 is not computed, but every structural check still
 * holds, the chunk hash's length included.
 *
 * @module
 */

import assert from "node:assert/strict";
import { decodeChunk } from "./decode.ts";
import { encodeChunk } from "./encode.ts";
import { assertFormatError, bytesOf, encodeChunkUnchecked, makeChunk } from "./_test_utils.ts";

const noHash = { verifyChunkHash: false };

Deno.test("decodeChunk() without the hash check still checks the structure", () => {
  const chunk = makeChunk({ data: bytesOf(100) });
  assertFormatError(
    () => decodeChunk(encodeChunkUnchecked({ ...chunk, chunkHash: new Uint8Array(10) }), noHash),
    "chunk_hash",
    "length",
  );
  assertFormatError(
    () => decodeChunk(encodeChunkUnchecked({ ...chunk, fileHash: new Uint8Array(3) }), noHash),
    "file_hash",
    "length",
  );
  for (const bad of [{ chunkIndex: 0 }, { totalChunks: 0 }, { chunkIndex: 3, totalChunks: 2 }]) {
    assert.throws(() => decodeChunk(encodeChunkUnchecked({ ...chunk, ...bad }), noHash));
  }
  const bytes = encodeChunk(chunk);
  assert.throws(() => decodeChunk(bytes.subarray(0, bytes.length - 1), noHash));
});

Deno.test("decodeChunk() without the hash check accepts a wrong chunk hash of 64 bytes", () => {
  const chunk = makeChunk({ data: bytesOf(100) });
  const wrong = encodeChunkUnchecked({ ...chunk, chunkHash: new Uint8Array(64) });
  assertFormatError(() => decodeChunk(wrong), "data", "hash_mismatch");
  const decoded = decodeChunk(wrong, noHash);
  assert.deepEqual(decoded.chunkHash, new Uint8Array(64));
  assert.deepEqual(decoded.data, chunk.data);
});
