/**
 * `sendChunks` (`second_pass.ts`) on real files: the chunks asked for come in order, each read
 * into its message at its place with its SHA-512; a file changed since the first pass throws
 * `FileChanged`; the handler can stop early.
 */

import { assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { testBytes } from "../../tests/support/bytes.ts";
import { withTempDir } from "../../tests/support/files.ts";
import { sha512 } from "../hash/sha512.ts";
import { FileChanged } from "./file_failures.ts";
import { firstPass } from "./first_pass.ts";
import { type ReadyChunk, sendChunks } from "./second_pass.ts";

const SIZE = 50_000;
const CHUNK = 4096;
const layout = (_index: number, dataLength: number) => ({
  length: dataLength + 60,
  dataOffset: 60,
});

/** Runs both passes over `bytes` (changed by `between` after the first), sending `indexes`. */
async function passes(
  dir: string,
  bytes: Uint8Array,
  indexes: number[],
  handle: (chunk: ReadyChunk) => boolean,
  between?: (path: string) => Promise<void>,
): Promise<void> {
  await Deno.writeFile(`${dir}/a`, bytes);
  using file = await Deno.open(`${dir}/a`);
  const first = await firstPass(file, SIZE, CHUNK);
  await between?.(`${dir}/a`);
  await sendChunks(file, SIZE, CHUNK, first, indexes, layout, (c) => Promise.resolve(handle(c)));
}

Deno.test("the second pass gives the chunks asked for in order, with their hashes", async () => {
  await withTempDir(async (dir) => {
    const bytes = testBytes(SIZE);
    const seen: number[] = [];
    await passes(dir, bytes, [2, 3, 7, 13], (chunk) => {
      const offset = (chunk.index - 1) * CHUNK;
      const expected = bytes.subarray(offset, Math.min(SIZE, offset + CHUNK));
      assertEquals(chunk.data, expected);
      assertEquals(chunk.hash, sha512(expected));
      assertEquals(chunk.message!.subarray(60, 60 + expected.length), expected);
      seen.push(chunk.index);
      return true;
    });
    assertEquals(seen, [2, 3, 7, 13]);
  });
});

Deno.test("a chunk changed since the first pass fails the second as changed", async () => {
  await withTempDir(async (dir) => {
    const change = async (path: string) => {
      using file = await Deno.open(path, { write: true });
      await file.seek(5 * CHUNK + 10, Deno.SeekMode.Start);
      await file.write(new Uint8Array([1, 2, 3, 4]));
    };
    await assertRejects(
      () => passes(dir, testBytes(SIZE), [1, 5, 6, 9], () => true, change),
      FileChanged,
    );
  });
});

Deno.test("the second pass stops when the handler says so", async () => {
  await withTempDir(async (dir) => {
    const seen: number[] = [];
    await passes(dir, testBytes(SIZE), [1, 2, 3, 4, 5, 6, 7, 8], (chunk) => {
      seen.push(chunk.index);
      return chunk.index < 3;
    });
    assertEquals(seen, [1, 2, 3]);
  });
});
