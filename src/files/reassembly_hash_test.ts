/**
 * `FileAssembler.digest` and `FileAssembler.badChunks` (`reassembly.ts`): a complete file's
 * SHA-512 computed from memory or from its partial file, and, when it does not match, the
 * chunks whose data does not match their own claimed SHA-512, named with their index, offset
 * and message, in every mode and after a spill to disk.
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import { testBytes } from "../../tests/support/bytes.ts";
import { fileChunks } from "../../tests/support/chunks.ts";
import { createChunk, type DataFileChunk } from "../chunks/chunk.ts";
import { hashHex, sha512 } from "../hash/sha512.ts";
import type { ReassemblyMode } from "./downloaded_file.ts";
import { FileAssembler, type FileAssembly } from "./reassembly.ts";

/** A copy of `chunk` whose data has one byte changed, its chunk hash left as it was. */
function damaged(chunk: DataFileChunk): DataFileChunk {
  const data = chunk.data.slice();
  data[7] ^= 0xff;
  return { ...chunk, data };
}

async function assemble(
  assembler: FileAssembler,
  chunks: DataFileChunk[],
): Promise<FileAssembly> {
  let assembly: FileAssembly | undefined;
  for (const [i, chunk] of chunks.entries()) {
    // Fresh copies: the assembler may keep views of the data.
    const result = await assembler.add({ ...chunk, data: chunk.data.slice() }, {
      partition: i % 3,
      offset: 100 + i,
    });
    assert(result.kind === "added", result.kind);
    assembly = result.assembly;
    await assembler.enforceLimits();
  }
  assert(assembly?.complete);
  assembler.remove(assembly);
  return assembly;
}

for (const mode of ["memory", "disk", "both"] as ReassemblyMode[]) {
  for (const spill of [false, true]) {
    if (mode === "disk" && spill) continue;
    const name = `${mode} mode${spill ? ", spilled to disk" : ""}`;
    Deno.test(`a damaged chunk is found after the file's hash fails (${name})`, async () => {
      const out = await Deno.makeTempDir();
      const assembler = new FileAssembler({
        outputDir: out,
        mode,
        maxMemoryBytes: spill ? 2000 : 1_000_000,
      });
      const file = { path: "sub/a.bin", bytes: testBytes(10_000, 3) };
      const chunks = fileChunks(file, 1000);
      // Out of order, chunk 4 damaged.
      const sent = [chunks[9], ...chunks.slice(0, 9)].map((c) =>
        c.chunkIndex === 4 ? damaged(c) : c
      );
      const assembly = await assemble(assembler, sent);
      assertEquals(assembly.spilled, spill);
      const size = assembly.checkedSize();
      const data = mode === "memory" || (mode === "both" && !spill)
        ? await assembler.completeData(assembly, undefined)
        : undefined;
      const digest = await assembler.digest(assembly, size, data);
      const expected = file.bytes.slice();
      expected[3007] ^= 0xff;
      assertEquals(digest, hashHex(sha512(expected)));
      assert(digest !== assembly.sha512);
      const bad = await assembler.badChunks(assembly, data);
      assertEquals(bad, [{
        index: 4,
        offset: 3000,
        length: 1000,
        source: { partition: 4 % 3, offset: 104 },
      }]);
      // From memory too, when every chunk is held there (without the data given).
      if (data !== undefined && assembly.dataInMemory) {
        assertEquals(await assembler.badChunks(assembly), bad);
      }
      await assembler.discard(assembly);
      await Deno.remove(out, { recursive: true });
    });
  }
}

Deno.test("a file whose chunks are all right but whose file hash is wrong has no bad chunk", async () => {
  const out = await Deno.makeTempDir();
  const assembler = new FileAssembler({ outputDir: out, mode: "disk" });
  const chunks = fileChunks({ path: "b.bin", bytes: testBytes(2500, 4) }, 1000)
    .map((c) => ({ ...c, fileHash: sha512(new Uint8Array([1])) }));
  const assembly = await assemble(assembler, chunks);
  const digest = await assembler.digest(assembly, assembly.checkedSize());
  assertEquals(digest, hashHex(sha512(testBytes(2500, 4))));
  assertEquals(await assembler.badChunks(assembly), []);
  await assembler.discard(assembly);
  await Deno.remove(out, { recursive: true });
});

Deno.test("a file larger than a read block is hashed right from disk", async () => {
  const out = await Deno.makeTempDir();
  const assembler = new FileAssembler({ outputDir: out, mode: "disk" });
  const bytes = testBytes(9 * 1024 * 1024 + 123, 5);
  const assembly = await assemble(assembler, fileChunks({ path: "big.bin", bytes }, 1 << 20));
  assertEquals(await assembler.digest(assembly, bytes.length), hashHex(sha512(bytes)));
  await assembler.discard(assembly);
  await Deno.remove(out, { recursive: true });
});

Deno.test("a one-chunk file with a wrong chunk hash and right data hashes right; alone, its chunk is bad", async () => {
  const out = await Deno.makeTempDir();
  const assembler = new FileAssembler({ outputDir: out, mode: "memory" });
  const data = testBytes(50, 6);
  const chunk = createChunk({
    filename: "c.bin",
    fileHash: sha512(data),
    chunkOffset: 0,
    chunkIndex: 1,
    totalChunks: 1,
    data,
  });
  const assembly = await assemble(assembler, [{ ...chunk, chunkHash: new Uint8Array(64) }]);
  assertEquals(await assembler.digest(assembly, 50, assembly.chunkData()), hashHex(sha512(data)));
  // Its chunk hash is wrong: checked alone, the chunk is "bad" (only asked after a failure).
  assertEquals((await assembler.badChunks(assembly)).map((c) => c.index), [1]);
  await Deno.remove(out, { recursive: true });
});
