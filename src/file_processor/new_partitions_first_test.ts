/**
 * New partitions first (`NewPartitionsFirst`): the partitions a process held are paused when new
 * ones come and resumed once a message of those came, or after the wait, or when they go again;
 * under the run's own pause (backpressure) they are left to its resume.
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import { NewPartitionsFirst, type PausableConsumer } from "./new_partitions_first.ts";
import type { TopicPartition } from "../kafka/mod.ts";

function recorder(): { consumer: PausableConsumer; calls: string[] } {
  const calls: string[] = [];
  const names = (tps: readonly TopicPartition[]) => tps.map((tp) => tp.partition).join(",");
  return {
    calls,
    consumer: {
      pause: (tps) => calls.push(`pause ${names(tps)}`),
      resume: (tps) => calls.push(`resume ${names(tps)}`),
    },
  };
}

const tp = (partition: number): TopicPartition => ({ topic: "t", partition });

Deno.test("the partitions held before wait for a message of the new ones", () => {
  const { consumer, calls } = recorder();
  const first = new NewPartitionsFirst(consumer, 60_000);
  first.assigned([tp(4), tp(5)], [tp(0), tp(1)]);
  assert(first.holds(0) && first.holds(1) && !first.holds(4));
  first.polled([0, 1], false); // messages fetched before the pause: not yet
  assertEquals(calls, ["pause 0,1"]);
  first.polled([5], false);
  assertEquals(calls, ["pause 0,1", "resume 0,1"]);
  assert(!first.holds(0));
});

Deno.test("the held partitions go on after the wait when the new ones bring nothing", async () => {
  const { consumer, calls } = recorder();
  const first = new NewPartitionsFirst(consumer, 20);
  first.assigned([tp(4)], [tp(0)]);
  first.polled([], false);
  assertEquals(calls, ["pause 0"]);
  await new Promise((resolve) => setTimeout(resolve, 30));
  first.polled([], false);
  assertEquals(calls, ["pause 0", "resume 0"]);
});

Deno.test("released while the run pauses for backpressure: its resume takes them along", () => {
  const { consumer, calls } = recorder();
  const first = new NewPartitionsFirst(consumer, 60_000);
  first.assigned([tp(4)], [tp(0)]);
  first.polled([4], true);
  assertEquals(calls, ["pause 0"]);
  assert(!first.holds(0));
});

Deno.test("new partitions taken away again release the held ones; nothing before, nothing held", () => {
  const { consumer, calls } = recorder();
  const first = new NewPartitionsFirst(consumer, 60_000);
  first.assigned([tp(4)], []);
  assertEquals(calls, []);
  first.assigned([tp(4)], [tp(0)]);
  first.takenAway([tp(4)], false);
  assertEquals(calls, ["pause 0", "resume 0"]);
  assert(!first.holds(0));
});
