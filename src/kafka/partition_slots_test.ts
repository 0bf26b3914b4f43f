/** The per-partition limit on unacknowledged messages (`PartitionSlots`). */

import { assertEquals, assertThrows } from "../../tests/support/assert.ts";
import { PartitionSlots } from "./partition_slots.ts";

Deno.test("PartitionSlots: waiters take freed slots of their own key, first come first served", async () => {
  const slots = new PartitionSlots(2);
  await slots.acquire("a");
  await slots.acquire("a");
  const order: string[] = [];
  const first = slots.acquire("a").then(() => order.push("first"));
  const second = slots.acquire("a").then(() => order.push("second"));
  await slots.acquire("b");
  assertEquals(slots.inFlight("b"), 1);
  await Promise.resolve();
  assertEquals(order, []);
  slots.release("b");
  assertEquals(slots.inFlight("b"), 0);
  slots.release("a");
  await first;
  assertEquals(order, ["first"]);
  assertEquals(slots.inFlight("a"), 2);
  slots.release("a");
  await second;
  assertEquals(order, ["first", "second"]);
  slots.release("a");
  slots.release("a");
  assertEquals(slots.inFlight("a"), 0);
});

Deno.test("PartitionSlots: a limit that is not a positive integer is refused", () => {
  assertThrows(() => new PartitionSlots(0), RangeError, "Messages in flight per partition 0");
  assertThrows(() => new PartitionSlots(1.5), RangeError, "not a positive integer");
});
