/**
 * Files hashed from their buffer while it fills (`buffer_hash.ts`, through
 * `FileAssembler`'s `hashes`), without a broker: the digest is the file's SHA-512 whatever
 * the chunks' order; a file that did not fill its buffer from byte 0 on (spilled to disk, a
 * chunk that did not fit) has none, so its caller hashes it another way; a lent chunk
 * (`borrowed`) kept outside the buffer is a copy, unchanged when the lent memory changes.
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import { testBytes } from "../../tests/support/bytes.ts";
import { fileChunks } from "../../tests/support/chunks.ts";
import { backgroundSha512 } from "../hash/background.ts";
import { hashHex, sha512 } from "../hash/sha512.ts";
import { BufferHash } from "./buffer_hash.ts";
import { FileAssembler } from "./reassembly.ts";

const sha = backgroundSha512();

Deno.test("a file's buffer is hashed whatever the order its chunks come in", async () => {
  const out = await Deno.makeTempDir();
  try {
    const file = { path: "a.bin", bytes: testBytes(10_000, 3) };
    const chunks = fileChunks(file, 1000);
    for (const order of [[...chunks], [...chunks].reverse(), [4, 0, 9, 1, 2, 3, 8, 5, 7, 6]]) {
      const assembler = new FileAssembler({ outputDir: out, mode: "memory", hashes: sha });
      const list = order.map((c) => typeof c === "number" ? chunks[c] : c);
      for (const [i, chunk] of list.entries()) {
        const result = await assembler.add(chunk, { partition: 0, offset: i }, true);
        assert(result.kind === "added" && result.released);
        assert(result.assembly.ownHash, "hashed from its buffer, not on the lane");
      }
      const assembly = assembler.inProgress[0];
      assembler.remove(assembly);
      const size = assembly.checkedSize();
      assertEquals(await assembly.ownDigest(size), hashHex(sha512(file.bytes)));
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("a spilled file has no buffer digest: it is hashed another way", async () => {
  const out = await Deno.makeTempDir();
  try {
    const assembler = new FileAssembler({
      outputDir: out,
      mode: "memory",
      maxMemoryBytes: 10_500,
      hashes: sha,
    });
    const file = { path: "a.bin", bytes: testBytes(10_000, 4) };
    const other = { path: "b.bin", bytes: testBytes(10_000, 5) };
    const [a, b] = [fileChunks(file, 1000), fileChunks(other, 1000)];
    await assembler.add(a[0], { partition: 0, offset: 0 }, true);
    // The second file's buffer would pass the limit: it is not reserved, its chunk is held as
    // it came, and the first file, least recently active, spills to disk.
    await assembler.add(b[0], { partition: 1, offset: 0 }, true);
    const limits = await assembler.enforceLimits();
    for (const [i, chunk] of a.slice(1).entries()) {
      await assembler.add(chunk, { partition: 0, offset: i + 1 }, true);
    }
    const assembly = assembler.inProgress.find((f) => f.relativePath === "a.bin")!;
    assert(assembly.complete);
    assert(limits.spilled.includes(assembly) && assembly.ownHash);
    assertEquals(await assembly.ownDigest(assembly.checkedSize()), undefined);
    const data = await assembler.completeData(assembly, undefined);
    assertEquals(data[0].data, file.bytes, "still rebuilt byte for byte from disk");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("a lent chunk kept outside a buffer is a copy", async () => {
  const out = await Deno.makeTempDir();
  try {
    // One chunk: no buffer is reserved, the chunk's data is kept as it came (copied if lent).
    const assembler = new FileAssembler({ outputDir: out, mode: "memory", hashes: sha });
    const file = { path: "one.bin", bytes: testBytes(3000, 6) };
    const [chunk] = fileChunks(file, 4000);
    const lent = chunk.data.slice();
    const result = await assembler.add({ ...chunk, data: lent }, { partition: 0, offset: 0 }, true);
    assert(result.kind === "added" && !result.assembly.ownHash);
    lent.fill(0); // librdkafka frees and reuses the memory
    assertEquals(result.assembly.chunkData()[0].data, file.bytes);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("a buffer hash with a gap has no digest", async () => {
  const bytes = testBytes(3000, 7);
  const hash = new BufferHash(sha, bytes);
  hash.filled(0, 1000);
  hash.filled(2000, 1000);
  assertEquals(await hash.digest(3000), undefined);
  const whole = new BufferHash(sha, bytes);
  whole.filled(1000, 1000);
  whole.filled(2000, 1000);
  whole.filled(0, 1000);
  assertEquals(await whole.digest(3000), hashHex(sha512(bytes)));
});
