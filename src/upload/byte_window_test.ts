/** The bound on bytes in flight (`ByteWindow`). */

import { assertEquals } from "../../tests/support/assert.ts";
import { ByteWindow } from "./byte_window.ts";

Deno.test("ByteWindow never exceeds its limit, lets an oversized request through alone", async () => {
  const window = new ByteWindow(100);
  await window.acquire(60);
  let order: string[] = [];
  const a = window.acquire(60).then(() => order.push("a"));
  const b = window.acquire(10).then(() => order.push("b")); // FIFO: waits behind a
  await Promise.resolve();
  assertEquals(order, []);
  window.release(60);
  await a;
  await b;
  assertEquals(order, ["a", "b"]);
  assertEquals(window.inFlight, 70);
  window.release(70);
  order = [];
  await window.acquire(500); // larger than the window, nothing in flight
  assertEquals(window.inFlight, 500);
});
