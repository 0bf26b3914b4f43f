/**
 * Partition ownership (`PartitionOwnership`): partitions taken away are no longer read; new ones
 * are read at once; those given back start again at the committed offset (the beginning without
 * one when the group starts there) with what was read of them forgotten; a loss holds
 * `rejoining` until the next assignment.
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import { PartitionOwnership, type RewindingConsumer } from "./ownership.ts";
import { Offset, type TopicPartition } from "../kafka/mod.ts";

const tp = (partition: number): TopicPartition => ({ topic: "t", partition });

function recorder(committed: Map<number, number>, reset = "earliest", seekFails = false) {
  const calls: string[] = [];
  const consumer: RewindingConsumer = {
    committed: (tps) =>
      Promise.resolve(tps.map((t) => ({ ...t, offset: committed.get(t.partition) ?? -1001 }))),
    seek: (offsets) => {
      calls.push(`seek ${offsets.map((o) => `${o.partition}@${o.offset}`).join(",")}`);
      return seekFails ? Promise.reject(new Error("not assigned")) : Promise.resolve();
    },
  };
  const tracker = {
    forget: (tps: readonly TopicPartition[]) =>
      calls.push(`forget ${tps.map((t) => t.partition).join(",")}`),
  };
  const ownership = new PartitionOwnership({ consumer, tracker, autoOffsetReset: reset });
  return { ownership, calls };
}

Deno.test("new partitions are read at once, without a rewind", async () => {
  const { ownership, calls } = recorder(new Map([[0, 5]]));
  await ownership.assigned([tp(0), tp(1)]);
  assert(ownership.owns(0) && ownership.owns(1) && !ownership.owns(2));
  assertEquals(calls, ["forget "]);
});

Deno.test("partitions given back start again at the committed offset, forgotten", async () => {
  const { ownership, calls } = recorder(new Map([[0, 5]]));
  await ownership.assigned([tp(0), tp(1), tp(2)]);
  ownership.takenAway("revoked", [tp(0), tp(1)]);
  assert(!ownership.owns(0) && !ownership.owns(1) && ownership.owns(2));
  assert(!ownership.rejoining);
  calls.length = 0;
  await ownership.assigned([tp(0), tp(1), tp(3)]);
  assertEquals(calls, [`seek 0@5,1@${Offset.BEGINNING}`, "forget 0,1"]);
  assert(ownership.owns(0) && ownership.owns(1) && ownership.owns(3));
});

Deno.test("with auto.offset.reset latest, one given back without a commit is left alone", async () => {
  const { ownership, calls } = recorder(new Map([[0, 5]]), "latest");
  await ownership.assigned([tp(0), tp(1)]);
  ownership.takenAway("revoked", [tp(0), tp(1)]);
  calls.length = 0;
  await ownership.assigned([tp(0), tp(1)]);
  assertEquals(calls, ["seek 0@5", "forget 0,1"]);
});

Deno.test("a loss holds rejoining until the group assigns again", async () => {
  const { ownership } = recorder(new Map());
  await ownership.assigned([tp(0)]);
  ownership.takenAway("lost", [tp(0)]);
  assert(ownership.rejoining && !ownership.owns(0));
  await ownership.assigned([]);
  assert(!ownership.rejoining);
});

Deno.test("a rewind that fails still gives the partitions back", async () => {
  const { ownership, calls } = recorder(new Map([[0, 5]]), "earliest", true);
  await ownership.assigned([tp(0)]);
  ownership.takenAway("revoked", [tp(0)]);
  calls.length = 0;
  await ownership.assigned([tp(0)]);
  assertEquals(calls, ["seek 0@5", "forget 0"]);
  assert(ownership.owns(0));
});
