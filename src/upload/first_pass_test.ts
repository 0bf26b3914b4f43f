/**
 * The first pass (`first_pass.ts`) on real files: the whole-file SHA-512 and each chunk's CRC-32
 * of a large file, a file that grew while read, the chunks and hashes of a small file kept in
 * memory, and a file of one chunk read into its message buffer at its place.
 */

import { crc32 } from "node:zlib";
import { assert, assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { testBytes } from "../../tests/support/bytes.ts";
import { withTempDir } from "../../tests/support/files.ts";
import { sha512 } from "../hash/sha512.ts";
import { FileChanged } from "./file_failures.ts";
import { firstPass, hashKept, readSingle } from "./first_pass.ts";

Deno.test("the first pass of a large file gives its SHA-512 and each chunk's CRC-32", async () => {
  await withTempDir(async (dir) => {
    const bytes = testBytes(100_000);
    await Deno.writeFile(`${dir}/a`, bytes);
    using file = await Deno.open(`${dir}/a`);
    const first = await firstPass(file, bytes.length, 4096);
    assertEquals(first.fileHash, sha512(bytes));
    assertEquals(first.prints.length, 25);
    assertEquals(first.prints[24], crc32(bytes.subarray(24 * 4096)));
    assertEquals(first.kept, undefined);
  });
});

Deno.test("a file longer than its stat said fails the first pass as changed", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/a`, testBytes(50_000));
    using file = await Deno.open(`${dir}/a`);
    await assertRejects(() => firstPass(file, 40_000, 4096), FileChanged);
  });
});

Deno.test("a small file kept in memory has its chunks and their SHA-512s", async () => {
  const bytes = testBytes(10_000);
  const first = await hashKept(bytes, 4096);
  assertEquals(first.fileHash, sha512(bytes));
  assertEquals(first.kept?.chunks.map((c) => c.length), [4096, 4096, 1808]);
  assertEquals(first.kept?.hashes[2], sha512(bytes.subarray(8192)));
});

Deno.test("a file of one chunk is read into its message buffer, at the data's place", async () => {
  await withTempDir(async (dir) => {
    const bytes = testBytes(3000);
    await Deno.writeFile(`${dir}/a`, bytes);
    const first = await readSingle(`${dir}/a`, "a", 3000, { length: 3200, dataOffset: 150 });
    const message = first.kept!.message!;
    assert(message.length >= 3200);
    assertEquals(message.subarray(150, 3150), bytes);
    assertEquals(first.fileHash, sha512(bytes));
    assertEquals(first.kept!.hashes, [first.fileHash]);
  });
});
