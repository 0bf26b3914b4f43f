import assert from "node:assert/strict";
import { chunkKey, chunkKeyPrefix, parseChunkKey } from "./key.ts";

Deno.test("chunkKey() follows OpenMSIStream's format", () => {
  assert.equal(
    chunkKey({ subdir: "run1/raw", filename: "a.txt", chunkIndex: 1, totalChunks: 1 }),
    "run1_raw_a.txt_chunk_1_of_1",
  );
  assert.equal(
    chunkKey({ subdir: "", filename: "a.txt", chunkIndex: 3, totalChunks: 7 }),
    "_a.txt_chunk_3_of_7",
  );
  assert.equal(
    chunkKey({
      subdir: "test_file_sub_dir",
      filename: "1a0ceb89-b5f0-45dc-9c12-63d3020e2217.dat",
      chunkIndex: 1,
      totalChunks: 381,
    }),
    "test_file_sub_dir_1a0ceb89-b5f0-45dc-9c12-63d3020e2217.dat_chunk_1_of_381",
  );
  assert.equal(
    chunkKey({ subdir: "données/été/x", filename: "数据 1.dat", chunkIndex: 12, totalChunks: 300 }),
    "données_été_x_数据 1.dat_chunk_12_of_300",
  );
});

Deno.test("chunkKeyPrefix() is the key without the index, shared by every chunk of a file", () => {
  const prefix = chunkKeyPrefix("a/b", "c.txt");
  assert.equal(prefix, "a_b_c.txt_chunk");
  for (let i = 1; i <= 3; i++) {
    assert.ok(
      chunkKey({ subdir: "a/b", filename: "c.txt", chunkIndex: i, totalChunks: 3 }).startsWith(
        `${prefix}_`,
      ),
    );
  }
  assert.equal(chunkKeyPrefix("", "c.txt"), "_c.txt_chunk");
});

Deno.test("parseChunkKey() reads back what chunkKey() writes", () => {
  const key = chunkKey({ subdir: "x/y", filename: "z.bin", chunkIndex: 41, totalChunks: 42 });
  assert.deepEqual(parseChunkKey(key), { name: "x_y_z.bin", chunkIndex: 41, totalChunks: 42 });
  assert.deepEqual(parseChunkKey(new TextEncoder().encode(key)), parseChunkKey(key));
  assert.deepEqual(parseChunkKey("_a.txt_chunk_3_of_7"), {
    name: "_a.txt",
    chunkIndex: 3,
    totalChunks: 7,
  });
});

Deno.test("parseChunkKey() uses the last _chunk_<i>_of_<n> when the name contains one", () => {
  const key = chunkKey({
    subdir: "",
    filename: "a_chunk_1_of_2.txt",
    chunkIndex: 5,
    totalChunks: 9,
  });
  assert.deepEqual(parseChunkKey(key), {
    name: "_a_chunk_1_of_2.txt",
    chunkIndex: 5,
    totalChunks: 9,
  });
  assert.equal(parseChunkKey("a\nb_chunk_1_of_2")?.name, "a\nb");
});

Deno.test("parseChunkKey() returns undefined for keys of another shape, and never throws", () => {
  for (
    const key of [
      null,
      undefined,
      "",
      "plain-key",
      "a_chunk_1_of_",
      "a_chunk_x_of_2",
      "a_chunk_1_of_2 ",
      "a_chunk_1_of_12345678901234567890",
      new Uint8Array([0xff, 0xfe]),
    ]
  ) {
    assert.equal(parseChunkKey(key), undefined, String(key));
  }
  // Invalid UTF-8 in a byte key is replaced, not an error.
  const bytes = new Uint8Array([0xff, ...new TextEncoder().encode("_chunk_1_of_1")]);
  assert.deepEqual(parseChunkKey(bytes), { name: "\ufffd", chunkIndex: 1, totalChunks: 1 });
});
