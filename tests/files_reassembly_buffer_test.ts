/**
 * The whole-file buffer of `FileAssembler` in memory and both modes: chunks are copied into
 * one buffer as they arrive, so a complete file is one array of its size; the buffer's size is
 * a guess from the first chunk, counted in full against the memory limit and never larger than
 * it (nor than `MAX_FILE_BUFFER_BYTES`); chunks that do not fit a wrong guess, and overlapping chunks, are still handled safely.
 */

import { assert, assertEquals, assertThrows } from "./support/assert.ts";
import { fileChunks, testBytes } from "./support/chunks.ts";
import { createChunk } from "../src/chunks/chunk.ts";
import { FileAssembler, MAX_FILE_BUFFER_BYTES } from "../src/files/reassembly.ts";
import type { ReassemblyMode } from "../src/files/downloaded_file.ts";

function concat(parts: { offset: number; data: Uint8Array }[]): Uint8Array {
  const size = parts.reduce((n, p) => Math.max(n, p.offset + p.data.length), 0);
  const out = new Uint8Array(size);
  for (const part of parts) out.set(part.data, part.offset);
  return out;
}

for (const mode of ["memory", "both"] as ReassemblyMode[]) {
  Deno.test(`a file is rebuilt into one buffer, its chunks' messages released (${mode} mode)`, async () => {
    const out = await Deno.makeTempDir();
    const assembler = new FileAssembler({ outputDir: out, mode, maxMemoryBytes: 100_000 });
    const file = { path: "sub/a.bin", bytes: testBytes(8000, 1) };
    const chunks = fileChunks(file, 3000); // 3000 + 3000 + 2000: the guess is 9000
    // Out of order: the last chunk first, then the others.
    for (const [i, chunk] of [chunks[1], chunks[2], chunks[0]].entries()) {
      const result = await assembler.add(chunk, { partition: 0, offset: i });
      assert(result.kind === "added" && result.released, "the message's buffer is free");
      assertEquals(assembler.bytesInMemory, 9000, "the whole buffer counts from the start");
    }
    const assembly = assembler.inProgress[0];
    assert(assembly.complete);
    assembler.remove(assembly);
    const size = assembly.checkedSize();
    const path = await assembler.finalize(assembly, size);
    const data = await assembler.completeData(assembly, path);
    assertEquals(data.length, 1, "one array for the whole file");
    assertEquals(data[0].offset, 0);
    assertEquals(data[0].data, file.bytes);
    if (mode === "both") assertEquals(await Deno.readFile(path!), file.bytes);
    await Deno.remove(out, { recursive: true });
  });
}

Deno.test("the buffer's size, guessed from a message, is never more than the memory limit", async () => {
  const out = await Deno.makeTempDir();
  const assembler = new FileAssembler({ outputDir: out, mode: "memory", maxMemoryBytes: 10_000 });
  const hostile = createChunk({
    filename: "huge.bin",
    fileHash: new Uint8Array(64).fill(7),
    chunkOffset: 0,
    chunkIndex: 1,
    totalChunks: 2 ** 40, // "2^40 chunks of 10 bytes": no buffer of 10 TiB
    data: testBytes(10, 1),
  });
  const result = await assembler.add(hostile, { partition: 0, offset: 0 });
  assert(result.kind === "added" && !result.released, "the chunk stays the view it is");
  assertEquals(assembler.bytesInMemory, 10);
  // A second file whose guess fits the limit alone, but not with what is held: no buffer.
  const [first] = fileChunks({ path: "b.bin", bytes: testBytes(10_000, 2) }, 5_000);
  const second = await assembler.add(first, { partition: 0, offset: 1 });
  assert(second.kind === "added" && !second.released);
  assertEquals(assembler.bytesInMemory, 5_010);

  // Under a very high limit, a guess beyond MAX_FILE_BUFFER_BYTES is not tried either.
  const generous = new FileAssembler({ outputDir: out, mode: "memory", maxMemoryBytes: 1e14 });
  const third = await generous.add(
    createChunk({ ...hostile, totalChunks: 1_000_000, data: testBytes(65_536, 3) }),
    { partition: 0, offset: 2 },
  );
  assert(third.kind === "added" && !third.released);
  assertEquals(generous.bytesInMemory, 65_536);
  assert(65_536 * 1_000_000 > MAX_FILE_BUFFER_BYTES);
  await Deno.remove(out, { recursive: true });
});

Deno.test("chunks beyond a wrong guess are kept as they are; overlapping chunks are refused", async () => {
  const out = await Deno.makeTempDir();
  const assembler = new FileAssembler({ outputDir: out, mode: "memory" });
  const bytes = testBytes(6000, 3);
  const fileHash = new Uint8Array(64).fill(1);
  const chunk = (index: number, from: number, to: number, name = "odd.bin") =>
    createChunk({
      filename: name,
      fileHash,
      chunkOffset: from,
      chunkIndex: index,
      totalChunks: 2,
      data: bytes.slice(from, to),
    });
  // The first chunk says 1000 bytes (guess: 2000); the second is 5000 bytes long.
  const a = await assembler.add(chunk(1, 0, 1000), { partition: 0, offset: 0 });
  assert(a.kind === "added" && a.released);
  const b = await assembler.add(chunk(2, 1000, 6000), { partition: 0, offset: 1 });
  assert(b.kind === "added" && !b.released, "it did not fit: the assembly keeps its view");
  assertEquals(assembler.bytesInMemory, 2000 + 5000);
  const assembly = assembler.inProgress[0];
  assembler.remove(assembly);
  assertEquals(assembly.checkedSize(), 6000);
  assertEquals(concat(await assembler.completeData(assembly, undefined)), bytes);

  // A second chunk that overwrites part of the first in the buffer never makes a file.
  await assembler.add(chunk(1, 0, 1000, "overlap.bin"), { partition: 0, offset: 2 });
  await assembler.add(chunk(2, 500, 1000, "overlap.bin"), { partition: 0, offset: 3 });
  const overlapping = assembler.inProgress[0];
  assert(overlapping.complete);
  assertThrows(() => overlapping.checkedSize(), Error, "do not fit together");
  await Deno.remove(out, { recursive: true });
});
