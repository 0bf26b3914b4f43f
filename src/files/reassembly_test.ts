/**
 * `FileAssembler` (`reassembly.ts`) on real files, without a broker.
 *
 * The whole-file buffer, in memory and both modes: chunks are copied into one buffer as they
 * arrive, so a complete file is one array of its size; the buffer's size is a guess from the
 * first chunk, counted in full against the memory limit and never larger than it (nor than
 * `MAX_FILE_BUFFER_BYTES`); chunks that do not fit a wrong guess, and overlapping chunks, are
 * still handled safely.
 *
 * The limits: the least recently active files are abandoned beyond `maxFiles`, spill to disk
 * beyond `maxMemoryBytes` and still complete byte for byte; a chunk at an offset no file can
 * hold makes its file invalid instead of failing the run.
 *
 * `finalize` remembers the folders it made, so later files into the same folder skip making and
 * checking it again: a folder removed meanwhile is made again, and a symbolic link put in place
 * of a remembered folder is still refused.
 */

import { assert, assertEquals, assertRejects, assertThrows } from "../../tests/support/assert.ts";
import { testBytes } from "../../tests/support/bytes.ts";
import { fileChunks } from "../../tests/support/chunks.ts";
import { createChunk } from "../chunks/chunk.ts";
import type { ReassemblyMode } from "./downloaded_file.ts";
import { UnsafePathError } from "./path.ts";
import { FileAssembler, MAX_FILE_BUFFER_BYTES } from "./reassembly.ts";

/** The parts of a file put together at their offsets. */
function concat(parts: { offset: number; data: Uint8Array }[]): Uint8Array {
  const size = parts.reduce((n, p) => Math.max(n, p.offset + p.data.length), 0);
  const out = new Uint8Array(size);
  for (const part of parts) out.set(part.data, part.offset);
  return out;
}

// The whole-file buffer.

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

// The limits.

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

// Finalizing: the folders made.

async function rebuild(assembler: FileAssembler, path: string, seed: number): Promise<string> {
  const bytes = testBytes(5000, seed);
  let offset = 0;
  for (const chunk of fileChunks({ path, bytes }, 2000)) {
    await assembler.add(chunk, { partition: 0, offset: offset++ });
  }
  const assembly = assembler.inProgress.find((a) => a.relativePath === path)!;
  assembler.remove(assembly);
  const target = (await assembler.finalize(assembly, assembly.checkedSize()))!;
  assertEquals(await Deno.readFile(target), bytes);
  return target;
}

Deno.test("a folder removed after a file was moved into it is made again for the next file", async () => {
  const out = await Deno.makeTempDir();
  const assembler = new FileAssembler({ outputDir: out, mode: "disk" });
  await rebuild(assembler, "run/a.bin", 1);
  await Deno.remove(`${out}/run`, { recursive: true });
  const target = await rebuild(assembler, "run/b.bin", 2);
  assertEquals(target, `${out}/run/b.bin`);
  await Deno.remove(out, { recursive: true });
});

Deno.test("a symbolic link put in place of a folder made before is refused", async () => {
  const out = await Deno.makeTempDir();
  const elsewhere = await Deno.makeTempDir();
  const assembler = new FileAssembler({ outputDir: out, mode: "disk" });
  await rebuild(assembler, "run/a.bin", 1);
  await Deno.remove(`${out}/run`, { recursive: true });
  await Deno.symlink(elsewhere, `${out}/run`);
  await assertRejects(() => rebuild(assembler, "run/b.bin", 2), UnsafePathError);
  assertEquals([...Deno.readDirSync(elsewhere)], [], "nothing written through the link");
  await Deno.remove(out, { recursive: true });
  await Deno.remove(elsewhere, { recursive: true });
});

Deno.test("a partial file left by someone else is cut to the file's size", async () => {
  const out = await Deno.makeTempDir();
  // Learn the partial file's name, then leave a longer file there, as an earlier run might.
  const earlier = new FileAssembler({ outputDir: out, mode: "disk" });
  const bytes = testBytes(5000, 1);
  await earlier.add(fileChunks({ path: "run/a.bin", bytes }, 2000)[0], { partition: 0, offset: 0 });
  const partialPath = earlier.inProgress[0].partialPath;
  await Deno.writeFile(partialPath, testBytes(9000, 3));
  const target = await rebuild(new FileAssembler({ outputDir: out, mode: "disk" }), "run/a.bin", 1);
  assertEquals((await Deno.stat(target)).size, 5000);
  await Deno.remove(out, { recursive: true });
});
