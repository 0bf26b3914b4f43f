/**
 * Tests of {@linkcode FileHashLane}: whole-file SHA-512s computed on a worker while chunks
 * arrive, and the cases where it must decline (chunks out of order, an incomplete file).
 *
 * @module
 */

import assert from "node:assert/strict";
import { FileHashLane, MAX_BYTES_IN_FLIGHT } from "./file_hash_lane.ts";
import { hashHex, sha512 } from "./sha512.ts";

function bytes(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 7) & 0xff;
  return out;
}

Deno.test("chunks fed in order give the file's SHA-512; a handed-over buffer is not copied", async () => {
  const returned: ArrayBuffer[] = [];
  const lane = new FileHashLane({ onBuffer: (buffer) => returned.push(buffer) });
  try {
    const data = bytes(3 * 65_536 + 5, 1);
    for (let offset = 0; offset < data.length; offset += 65_536) {
      const piece = data.slice(offset, offset + 65_536);
      lane.add("a", offset, piece, offset === 0, offset > 0);
      if (offset > 0) assert.deepEqual(piece.byteLength, 0, "the handed-over buffer moved");
    }
    assert.deepEqual(await lane.finish("a", data.length), hashHex(sha512(data)));
    // The three handed-over buffers came back whole, to be reused; the copied one did not.
    assert.deepEqual(returned.map((b) => b.byteLength), [65_536, 65_536, 5]);
  } finally {
    lane.close();
  }
});

Deno.test("out-of-order or incomplete files are left to the worker (undefined)", async () => {
  const lane = new FileHashLane();
  try {
    const data = bytes(200_000, 2);
    lane.add("late", 100_000, data.subarray(100_000), true);
    lane.add("late", 0, data.subarray(0, 100_000), false);
    assert.deepEqual(await lane.finish("late", data.length), undefined);
    lane.add("short", 0, data.subarray(0, 100_000), true);
    assert.deepEqual(await lane.finish("short", data.length), undefined);
    assert.deepEqual(await lane.finish("never-seen", 10), undefined);
  } finally {
    lane.close();
  }
});

Deno.test("a file started again (first chunk again) is hashed afresh; other content differs", async () => {
  const lane = new FileHashLane();
  try {
    const data = bytes(100_000, 3);
    lane.add("k", 0, data.subarray(0, 50_000), true);
    lane.add("k", 0, data.subarray(0, 50_000), true); // the assembly was discarded and restarted
    lane.add("k", 50_000, data.subarray(50_000), false);
    assert.deepEqual(await lane.finish("k", data.length), hashHex(sha512(data)));
    const other = bytes(100_000, 4);
    lane.add("k2", 0, other, true);
    const digest = await lane.finish("k2", other.length);
    assert.deepEqual(digest === hashHex(sha512(data)), false);
    assert.deepEqual(digest, hashHex(sha512(other)));
  } finally {
    lane.close();
  }
});

Deno.test("waitForRoom holds the sender while too many bytes wait to be hashed", async () => {
  const lane = new FileHashLane();
  try {
    const piece = bytes(4 * 1024 * 1024, 5);
    let offset = 0;
    for (; offset <= MAX_BYTES_IN_FLIGHT; offset += piece.length) {
      lane.add("big", offset, piece, offset === 0);
    }
    await lane.waitForRoom(); // resolves once the worker caught up
    const all = new Uint8Array(offset);
    for (let at = 0; at < offset; at += piece.length) all.set(piece, at);
    assert.deepEqual(await lane.finish("big", offset), hashHex(sha512(all)));
  } finally {
    lane.close();
  }
});
