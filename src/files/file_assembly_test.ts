/**
 * `FileAssembly` (`file_assembly.ts`) on its own, without an assembler, files or a broker: the
 * chunks it records (duplicates refused), copied into its buffer or kept as views or copies, the
 * check that they fit together, the partitions and offsets of its messages, and the spill that
 * forgets their data.
 */

import { assert, assertEquals, assertThrows } from "../../tests/support/assert.ts";
import { testBytes } from "../../tests/support/bytes.ts";
import { fileChunks } from "../../tests/support/chunks.ts";
import { FileAssembly } from "./file_assembly.ts";

const bytes = testBytes(40_000);
const chunks = fileChunks({ path: "run1/a.dat", bytes }, 16_384);

Deno.test("a file assembly records each chunk once and knows when it is complete", () => {
  const assembly = new FileAssembly(chunks[0], "/nowhere/.partial", false);
  assertEquals(assembly.relativePath, "run1/a.dat");
  assertEquals(assembly.totalChunks, 3);
  assert(assembly.record(chunks[0], true, { partition: 0, offset: 10 }));
  assert(!assembly.record(chunks[0], true, { partition: 0, offset: 11 }));
  assert(assembly.record(chunks[2], true, { partition: 1, offset: 5 }));
  assert(!assembly.complete);
  assert(assembly.record(chunks[1], true, { partition: 0, offset: 12 }));
  assert(assembly.complete);
  assertEquals(assembly.receivedBytes, bytes.length);
  assertEquals(assembly.checkedSize(), bytes.length);
  assert(assembly.dataInMemory);
  assertEquals(assembly.chunkList().map((c) => c.index), [1, 2, 3]);
});

Deno.test("a file assembly copies chunks into its buffer and gives the whole file as one view", () => {
  const assembly = new FileAssembly(chunks[0], "/nowhere/.partial", false);
  assembly.reserve(new Uint8Array(3 * 16_384));
  for (const [i, chunk] of chunks.entries()) {
    assembly.record(chunk, true, { partition: 0, offset: i });
    assert(assembly.inBuffer(chunk.chunkIndex));
  }
  const data = assembly.chunkData();
  assertEquals(data.length, 1);
  assertEquals(data[0].data, bytes);
  assertEquals(assembly.memoryBytes, 3 * 16_384);
  assertThrows(() => assembly.reserve(new Uint8Array(1)), Error, "must be reserved before");
});

Deno.test("a file assembly keeps a borrowed chunk as a copy, a lent one as the view it is", () => {
  const assembly = new FileAssembly(chunks[0], "/nowhere/.partial", false);
  assembly.record(chunks[0], true, { partition: 0, offset: 0 }, true);
  assembly.record(chunks[1], true, { partition: 0, offset: 1 }, false);
  const [first, second] = assembly.chunkList();
  assert(first.data !== chunks[0].data);
  assertEquals(first.data, chunks[0].data);
  assert(second.data === chunks[1].data);
  assertEquals(assembly.memoryBytes, 2 * 16_384);
});

Deno.test("a file assembly names the first gap between its chunks", () => {
  const assembly = new FileAssembly(chunks[0], "/nowhere/.partial", false);
  assembly.record(chunks[0], false, { partition: 0, offset: 0 });
  assembly.record({ ...chunks[2], chunkIndex: 2 }, false, { partition: 0, offset: 1 });
  assembly.record({ ...chunks[2], chunkIndex: 3 }, false, { partition: 0, offset: 2 });
  assertThrows(() => assembly.checkedSize(), Error, "one starts at byte 32768, expected 16384");
});

Deno.test("a file assembly gives its partitions' offset ranges and forgets dropped partitions", () => {
  const assembly = new FileAssembly(chunks[0], "/nowhere/.partial", false);
  assembly.sources.push(
    { partition: 2, offset: 7 },
    { partition: 0, offset: 30 },
    { partition: 2, offset: 3 },
    { partition: 0, offset: 31 },
  );
  assertEquals(assembly.partitionRanges(), [
    { partition: 0, firstOffset: 30, lastOffset: 31 },
    { partition: 2, firstOffset: 3, lastOffset: 7 },
  ]);
  assertEquals(assembly.dropPartitions(new Set([2])), 2);
  assertEquals(assembly.partitionRanges(), [{ partition: 0, firstOffset: 30, lastOffset: 31 }]);
});

Deno.test("a spilled file assembly hands over its chunks and holds no data from then on", () => {
  const assembly = new FileAssembly(chunks[0], "/nowhere/.partial", false);
  assembly.record(chunks[0], true, { partition: 0, offset: 0 });
  assembly.record(chunks[1], true, { partition: 0, offset: 1 });
  const held = assembly.spill();
  assertEquals(held.map((c) => c.offset), [0, 16_384]);
  assert(assembly.spilled && assembly.onDisk);
  assertEquals(assembly.memoryBytes, 0);
  assert(!assembly.dataInMemory);
  assert(assembly.partialPath.startsWith("/nowhere/.partial/"));
});
