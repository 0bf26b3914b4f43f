/**
 * The limits of `FileAssembler` on real files: the least recently active files are abandoned
 * beyond `maxFiles`, spill to disk beyond `maxMemoryBytes` and still complete byte for byte;
 * a chunk at an offset no file can hold makes its file invalid instead of failing the run.
 */

import { assert, assertEquals } from "./support/assert.ts";
import { fileChunks, testBytes } from "./support/chunks.ts";
import { createChunk } from "../src/chunks/chunk.ts";
import { FileAssembler } from "../src/files/reassembly.ts";
import type { ReassemblyMode } from "../src/files/downloaded_file.ts";

function concat(parts: { offset: number; data: Uint8Array }[]): Uint8Array {
  const size = parts.reduce((n, p) => Math.max(n, p.offset + p.data.length), 0);
  const out = new Uint8Array(size);
  for (const part of parts) out.set(part.data, part.offset);
  return out;
}

async function partialFiles(out: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(`${out}/.ferry/partial`)) names.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names;
}

for (const mode of ["memory", "both"] as ReassemblyMode[]) {
  Deno.test(`files over the memory limit spill to disk and still complete (${mode} mode)`, async () => {
    const out = await Deno.makeTempDir();
    const assembler = new FileAssembler({ outputDir: out, mode, maxMemoryBytes: 10_000 });
    const a = { path: "a.bin", bytes: testBytes(9000, 1) };
    const b = { path: "sub/b.bin", bytes: testBytes(9000, 2) };
    const [a1, a2, a3] = fileChunks(a, 3000);
    const [b1, b2, b3] = fileChunks(b, 3000);
    let offset = 0;
    for (const chunk of [a1, a2, b1, b2]) {
      const result = await assembler.add(chunk, { partition: 0, offset: offset++ });
      assertEquals(result.kind, "added");
    }
    // 12 000 bytes held: the least recently active file (a) spills.
    const limits = await assembler.enforceLimits();
    assertEquals(limits.spilled.map((s) => s.relativePath), ["a.bin"]);
    assertEquals(limits.abandoned, []);
    assertEquals(assembler.bytesInMemory, 6000);
    for (const chunk of [a3, b3]) await assembler.add(chunk, { partition: 0, offset: offset++ });
    for (const file of [a, b]) {
      const assembly = assembler.inProgress.find((x) => x.relativePath === file.path)!;
      assert(assembly.complete, file.path);
      assembler.remove(assembly);
      const size = assembly.checkedSize();
      const path = await assembler.finalize(assembly, size);
      const data = await assembler.completeData(assembly, path);
      assertEquals(concat(data), file.bytes, file.path);
      if (mode === "both") assertEquals(await Deno.readFile(path!), file.bytes);
    }
    assertEquals(await partialFiles(out), [], "no partial file left behind");
    await Deno.remove(out, { recursive: true });
  });
}

Deno.test("beyond maxFiles the least recently active file is abandoned and its partial file deleted", async () => {
  const out = await Deno.makeTempDir();
  const assembler = new FileAssembler({ outputDir: out, mode: "disk", maxFiles: 2 });
  const chunk = (name: string, index: number) =>
    createChunk({
      filename: name,
      fileHash: new Uint8Array(64).fill(name.charCodeAt(0)),
      chunkOffset: (index - 1) * 10,
      chunkIndex: index,
      totalChunks: 5,
      data: testBytes(10, index),
    });
  await assembler.add(chunk("a", 1), { partition: 0, offset: 0 });
  await assembler.add(chunk("b", 1), { partition: 0, offset: 1 });
  await assembler.add(chunk("a", 2), { partition: 0, offset: 2 }); // a is now the most recent
  await assembler.add(chunk("c", 1), { partition: 0, offset: 3 });
  const limits = await assembler.enforceLimits();
  assertEquals(limits.abandoned.map((x) => x.relativePath), ["b"]);
  assertEquals(limits.abandoned[0].sources, [{ partition: 0, offset: 1 }]);
  assertEquals(assembler.inProgress.map((x) => x.relativePath).sort(), ["a", "c"]);
  assertEquals((await partialFiles(out)).length, 2);
  await Deno.remove(out, { recursive: true });
});

Deno.test("a chunk at an offset no file can hold makes its file invalid (disk mode)", async () => {
  const out = await Deno.makeTempDir();
  const assembler = new FileAssembler({ outputDir: out, mode: "disk" });
  const [first, second] = fileChunks({ path: "far.bin", bytes: testBytes(20, 3) }, 10);
  await assembler.add(first, { partition: 0, offset: 0 });
  const result = await assembler.add(
    createChunk({ ...second, chunkOffset: 2 ** 52 }),
    { partition: 0, offset: 1 },
  );
  assertEquals(result.kind, "invalid");
  assert(result.kind === "invalid" && /past what a file can hold/.test(result.reason));
  assertEquals(
    result.kind === "invalid" ? result.assembly.sources.map((s) => s.offset) : [],
    [0, 1],
  );
  assertEquals(assembler.inProgress, []);
  assertEquals(await partialFiles(out), []);
  await Deno.remove(out, { recursive: true });
});
