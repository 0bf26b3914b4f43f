import assert from "node:assert/strict";
import { VALUE_BUFFER_GRAIN, ValueBuffers } from "./value_buffers.ts";

Deno.test("a value is a view of its exact length over a buffer of its size class", () => {
  const buffers = new ValueBuffers();
  const value = buffers.take(524_288 + 300);
  assert.equal(value.length, 524_288 + 300);
  assert.equal(value.byteOffset, 0);
  assert.equal(value.buffer.byteLength % VALUE_BUFFER_GRAIN, 0);
  assert.ok(value.buffer.byteLength >= value.length);
  assert.equal(buffers.take(1).buffer.byteLength, VALUE_BUFFER_GRAIN);
});

Deno.test("a buffer given back is taken again by a value of its size class only", () => {
  const buffers = new ValueBuffers();
  const first = buffers.take(524_588);
  const buffer = first.buffer;
  buffers.give(buffer);
  assert.equal(buffers.idleBytes, buffer.byteLength);
  // Another size class gets a new buffer; the idle one waits for its own class.
  assert.notEqual(buffers.take(100_000).buffer, buffer);
  const again = buffers.take(524_400);
  assert.equal(again.buffer, buffer);
  assert.equal(again.length, 524_400);
  assert.equal(buffers.idleBytes, 0);
  // Taken once only.
  assert.notEqual(buffers.take(524_400).buffer, buffer);
});

Deno.test("buffers beyond the bound, of no size class, or detached are dropped", () => {
  const buffers = new ValueBuffers(2 * VALUE_BUFFER_GRAIN);
  const taken = [buffers.take(10), buffers.take(10), buffers.take(10)];
  for (const value of taken) buffers.give(value.buffer); // the third is over the bound
  assert.equal(buffers.idleBytes, 2 * VALUE_BUFFER_GRAIN);
  const other = new ValueBuffers();
  other.give(new ArrayBuffer(1000)); // no size class
  const detached = other.take(10).buffer;
  detached.transfer(); // detaches it
  other.give(detached);
  other.give(new ArrayBuffer(VALUE_BUFFER_GRAIN, { maxByteLength: 2 * VALUE_BUFFER_GRAIN }));
  assert.equal(other.idleBytes, 0);
});
