/**
 * Tests of {@linkcode ValuePool}: buffers given back are reused for values of about their size,
 * never for much smaller ones, and the pool frees what it cannot keep.
 */

import { assert, assertEquals } from "./support/assert.ts";
import { MAX_POOLED_BYTES, ValuePool } from "../src/runtime/value_pool.ts";

Deno.test("a buffer given back is reused for a value of about its size", () => {
  const pool = new ValuePool();
  const first = pool.take(524_400);
  assertEquals(first.length, 524_400);
  const buffer = first.buffer.transfer();
  pool.give(buffer);
  assertEquals(pool.bytes, 524_400);
  const again = pool.take(524_300);
  assertEquals(again.buffer, buffer);
  assertEquals(again.length, 524_300);
  assertEquals(pool.bytes, 0);
});

Deno.test("a much smaller or a larger value gets a new array of its exact size", () => {
  const pool = new ValuePool();
  const buffer = new ArrayBuffer(524_288);
  pool.give(buffer);
  const small = pool.take(100_000);
  assert(small.buffer !== buffer, "a small value does not take a large buffer");
  assertEquals(small.buffer.byteLength, 100_000);
  const large = pool.take(524_289);
  assert(large.buffer !== buffer);
  assertEquals(pool.bytes, 524_288, "the spare buffer is still there");
});

Deno.test("beyond its limit the pool frees buffers given back; detached ones are ignored", () => {
  const pool = new ValuePool();
  const size = 4 * 1024 * 1024;
  const buffers = Array.from({ length: MAX_POOLED_BYTES / size + 1 }, () => new ArrayBuffer(size));
  for (const buffer of buffers) pool.give(buffer);
  assertEquals(pool.bytes, MAX_POOLED_BYTES);
  assert(buffers.at(-1)!.detached, "the one over the limit was freed");
  const detached = new ArrayBuffer(10);
  detached.transfer();
  pool.give(detached);
  assertEquals(pool.bytes, MAX_POOLED_BYTES);
});
