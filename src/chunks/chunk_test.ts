import assert from "node:assert/strict";
import { createChunk, DEFAULT_CHUNK_SIZE, outputPath, relativePath } from "./chunk.ts";
import { sha512 } from "../hash/sha512.ts";
import { UnsafePathError } from "../files/path.ts";

const init = {
  filename: "scan.tar.gz",
  fileHash: new Uint8Array(64),
  chunkOffset: 0,
  chunkIndex: 1,
  totalChunks: 1,
  data: new Uint8Array([1, 2, 3]),
};

Deno.test("createChunk() computes the chunk hash and fills the defaults", () => {
  const chunk = createChunk(init);
  assert.deepEqual(chunk.chunkHash, sha512(init.data));
  assert.equal(chunk.subdir, "");
  assert.equal(chunk.filenameAppend, "");
  assert.equal("fileMtime" in chunk, false);
  assert.equal(createChunk({ ...init, fileMtime: 12.5 }).fileMtime, 12.5);
  assert.equal(DEFAULT_CHUNK_SIZE, 512 * 1024);
});

Deno.test("relativePath() is subdir/filename, normalized, without the filename append", () => {
  assert.equal(relativePath(createChunk(init)), "scan.tar.gz");
  assert.equal(
    relativePath(createChunk({ ...init, subdir: "a//./b/", filenameAppend: "_x" })),
    "a/b/scan.tar.gz",
  );
  assert.throws(() => relativePath(createChunk({ ...init, subdir: "../x" })), UnsafePathError);
});

Deno.test("outputPath() applies the filename append before the last suffix", () => {
  assert.equal(
    outputPath(createChunk({ ...init, subdir: "run1", filenameAppend: "_v2" })),
    "run1/scan.tar_v2.gz",
  );
  assert.equal(outputPath(createChunk(init)), "scan.tar.gz");
  assert.throws(
    () => outputPath({ subdir: "", filename: "a", filenameAppend: "/b" }),
    UnsafePathError,
  );
});
