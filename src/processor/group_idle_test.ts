/**
 * The `--exit-when-idle` group rule (`group_idle.ts`) without a broker: the decision on plain
 * values, and the check's requests and throttling against a fake source. The check against the
 * real broker: `tests/processor/group_idle_test.ts`.
 */

import { assertEquals } from "../../tests/support/assert.ts";
import {
  GroupIdleCheck,
  groupIdleVerdict,
  type GroupSource,
  type GroupView,
  type PartitionOffsets,
  unreadRecords,
} from "./group_idle.ts";
import type { ConsumerGroupDescription } from "../kafka/mod.ts";

function view(
  state: GroupView["state"],
  owned: number[][],
  partitions: number[],
  offsets: [number, PartitionOffsets][] = [],
): GroupView {
  return {
    state,
    members: owned.map((partitions, i) => ({ memberId: `m${i}`, partitions })),
    partitions,
    offsets: new Map(offsets),
  };
}

Deno.test("group idle: a rebalancing group is never idle, whatever its partitions", () => {
  for (const state of ["PreparingRebalance", "CompletingRebalance"] as const) {
    assertEquals(groupIdleVerdict(view(state, [[0, 1], [2, 3]], [0, 1, 2, 3])), {
      idle: false,
      reason: `group rebalancing (${state})`,
    });
  }
  assertEquals(groupIdleVerdict(view("Unknown", [[0]], [0])), {
    idle: false,
    reason: "group state unknown",
  });
});

Deno.test("group idle: a stable group whose every partition has an owner is idle", () => {
  // One member owns nothing (more members than work): it may go.
  assertEquals(groupIdleVerdict(view("Stable", [[0, 1, 2], []], [0, 1, 2])), {
    idle: true,
    reason: "group stable; every partition owned or fully committed",
  });
});

Deno.test("group idle: a partition without an owner holds the group until it is fully committed", () => {
  const members = [[0, 1], []];
  const lagging = view("Stable", members, [0, 1, 2, 3], [
    [2, { committed: 300, low: 0, high: 1500 }],
    [3, { committed: 40, low: 0, high: 41 }],
  ]);
  assertEquals(groupIdleVerdict(lagging), {
    idle: false,
    reason: "partition 2 has 1200 records of lag and no owner; " +
      "partition 3 has 1 record of lag and no owner",
  });
  const done = view("Stable", members, [0, 1, 2, 3], [
    [2, { committed: 1500, low: 0, high: 1500 }],
    [3, { committed: -1001, low: 0, high: 0 }], // empty, never committed
  ]);
  assertEquals(groupIdleVerdict(done).idle, true);
  // Offsets not read for an unowned partition: not idle.
  assertEquals(groupIdleVerdict(view("Stable", members, [0, 1, 2])), {
    idle: false,
    reason: "partition 2 has no owner and its offsets are not known",
  });
});

Deno.test("group idle: an empty group (members gone) is idle once everything is committed", () => {
  const offsets: [number, PartitionOffsets][] = [[0, { committed: 10, low: 0, high: 10 }]];
  assertEquals(groupIdleVerdict(view("Empty", [], [0], offsets)), {
    idle: true,
    reason: "group empty; every partition owned or fully committed",
  });
  const behind: [number, PartitionOffsets][] = [[0, { committed: 4, low: 0, high: 10 }]];
  assertEquals(groupIdleVerdict(view("Empty", [], [0], behind)).idle, false);
});

Deno.test("group idle: unread records count from the committed offset, else the low watermark", () => {
  assertEquals(unreadRecords({ committed: 300, low: 0, high: 1500 }), 1200);
  assertEquals(unreadRecords({ committed: -1001, low: 20, high: 27 }), 7); // never committed
  assertEquals(unreadRecords({ committed: 5, low: 20, high: 27 }), 7); // records deleted since
  assertEquals(unreadRecords({ committed: 27, low: 20, high: 27 }), 0);
  assertEquals(unreadRecords({ committed: -1001, low: 0, high: 0 }), 0);
});

/** A source answering from fixed values, counting its requests. */
function fakeSource(
  description: ConsumerGroupDescription,
  partitions: number[],
  offsets: Record<number, PartitionOffsets>,
) {
  const calls: string[] = [];
  const source: GroupSource = {
    describeConsumerGroup(group) {
      calls.push(`describe ${group}`);
      return Promise.resolve(description);
    },
    topicPartitions(topic) {
      calls.push(`partitions ${topic}`);
      return Promise.resolve(partitions);
    },
    committed(tps) {
      calls.push(`committed ${tps.map((tp) => tp.partition)}`);
      return Promise.resolve(tps.map((tp) => ({ ...tp, offset: offsets[tp.partition].committed })));
    },
    queryWatermarks(_topic, partition) {
      calls.push(`watermarks ${partition}`);
      const { low, high } = offsets[partition];
      return Promise.resolve({ low, high });
    },
  };
  return { source, calls };
}

function member(memberId: string, topic: string, partitions: number[]) {
  return {
    memberId,
    clientId: "ferry",
    host: "/127.0.0.1",
    partitions: partitions.map((partition) => ({ topic, partition })),
  };
}

Deno.test("group idle check: asks only what the decision needs, counts only the topic's partitions", async () => {
  const rebalancing = fakeSource(
    { groupId: "g", state: "PreparingRebalance", members: [member("a", "t", [0])] },
    [0, 1],
    {},
  );
  const verdict = await new GroupIdleCheck(rebalancing.source, "t", "g").check();
  assertEquals(verdict.idle, false);
  assertEquals(rebalancing.calls, ["describe g"], "no more requests while rebalancing");

  // Partition 1 of "t" is owned only in another topic's name: it has no owner here.
  const stable = fakeSource(
    {
      groupId: "g",
      state: "Stable",
      members: [member("a", "t", [0]), member("b", "other", [1])],
    },
    [0, 1],
    { 1: { committed: 8, low: 0, high: 10 } },
  );
  assertEquals(await new GroupIdleCheck(stable.source, "t", "g").check(), {
    idle: false,
    reason: "partition 1 has 2 records of lag and no owner",
  });
  assertEquals(stable.calls, ["describe g", "partitions t", "committed 1", "watermarks 1"]);
});

Deno.test("group idle check: at most one check per interval; a failed request means not idle", async () => {
  const { source, calls } = fakeSource(
    { groupId: "g", state: "Stable", members: [member("a", "t", [0])] },
    [0],
    {},
  );
  const check = new GroupIdleCheck(source, "t", "g", 60_000);
  assertEquals(await check.idle(), true);
  assertEquals(await check.idle(), false, "too soon: no request, not idle");
  assertEquals(calls.length, 2);

  const failing: GroupSource = {
    ...source,
    describeConsumerGroup: () => Promise.reject(new Error("coordinator not available")),
  };
  assertEquals(await new GroupIdleCheck(failing, "t", "g").idle(), false);
});
