/**
 * The `--exit-when-idle` group rule (`group_idle.ts`) without a broker: the decision on plain
 * values, and the check's requests and throttling against a fake source. The check against the
 * real broker: `tests/processor/group_idle_test.ts`.
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
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
  me: { self?: string; mine?: number[] } = {},
): GroupView {
  return {
    state,
    members: owned.map((partitions, i) => ({ memberId: `m${i}`, partitions })),
    self: me.self ?? "",
    mine: me.mine ?? [],
    partitions,
    offsets: new Map(offsets),
  };
}

/** Offsets of a partition read to `end` and committed at `committed` (default: `end`). */
function at(partition: number, end: number, committed = end): [number, PartitionOffsets] {
  return [partition, { committed, low: 0, high: end }];
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

Deno.test("group idle: a stable group with every other partition fully committed is idle", () => {
  // This member (m1) owns nothing (more members than work): it may go.
  const members = [[0, 1, 2], []];
  assertEquals(
    groupIdleVerdict(view("Stable", members, [0, 1, 2], [at(0, 5), at(1, 0), at(2, 9)], {
      self: "m1",
    })),
    { idle: true, reason: "group stable; every other partition fully committed" },
  );
  // Its own partitions are the runner's to judge: no offsets needed for them.
  assertEquals(
    groupIdleVerdict(view("Stable", [[0], [1]], [0, 1], [at(1, 3)], { self: "m0", mine: [0] }))
      .idle,
    true,
  );
});

Deno.test("group idle: a partition without an owner holds the group until it is fully committed", () => {
  const members = [[0, 1], []];
  const lagging = view("Stable", members, [0, 1, 2, 3], [
    at(0, 10),
    at(1, 10),
    at(2, 1500, 300),
    at(3, 41, 40),
  ]);
  assertEquals(groupIdleVerdict(lagging), {
    idle: false,
    reason: "partition 2 has 1200 records of lag and no owner; " +
      "partition 3 has 1 record of lag and no owner",
  });
  const done = view("Stable", members, [0, 1, 2, 3], [
    at(0, 10),
    at(1, 10),
    at(2, 1500),
    [3, { committed: -1001, low: 0, high: 0 }], // empty, never committed
  ]);
  assertEquals(groupIdleVerdict(done).idle, true);
  // Offsets not read for a partition: not idle.
  assertEquals(groupIdleVerdict(view("Stable", members, [0, 1, 2], [at(0, 1), at(1, 1)])), {
    idle: false,
    reason: "partition 2 has no owner and its offsets are not known",
  });
});

Deno.test("group idle: what the group gives this member and its consumer does not hold yet has no owner", () => {
  // The group's answer says m1 owns partition 1; m1's consumer has not been given it yet.
  const handing = view("Stable", [[0], [1]], [0, 1], [at(0, 4), at(1, 8, 2)], {
    self: "m1",
    mine: [],
  });
  assertEquals(groupIdleVerdict(handing), {
    idle: false,
    reason: "partition 1 has 6 records of lag and no owner",
  });
});

Deno.test("group idle: records another member owns and has not committed: a verdict naming its owners", () => {
  const verdict = groupIdleVerdict(
    view("Stable", [[0], [1, 2]], [0, 1, 2], [at(1, 60, 6), at(2, 9)], { self: "m0", mine: [0] }),
  );
  assertEquals(verdict, {
    idle: false,
    reason: "partition 1 has 54 records its owner has not committed yet",
    ownersBehind: "1:m1",
  });
  // With a partition that has no owner as well, the verdict waits for that, not for owners.
  const both = groupIdleVerdict(
    view("Stable", [[0], [1]], [0, 1, 2], [at(1, 60, 6), at(2, 9, 8)], { self: "m0", mine: [0] }),
  );
  assertEquals(both.ownersBehind, undefined);
  assertEquals(both.idle, false);
});

Deno.test("group idle: an empty group (members gone) is idle once everything is committed", () => {
  const offsets: [number, PartitionOffsets][] = [[0, { committed: 10, low: 0, high: 10 }]];
  assertEquals(groupIdleVerdict(view("Empty", [], [0], offsets)), {
    idle: true,
    reason: "group empty; every other partition fully committed",
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

/** A source answering from fixed values as member `self`, counting its requests. */
function fakeSource(
  description: ConsumerGroupDescription,
  partitions: number[],
  offsets: Record<number, PartitionOffsets>,
  self = "a",
) {
  const calls: string[] = [];
  const source: GroupSource = {
    describeConsumerGroup(group) {
      calls.push(`describe ${group}`);
      return Promise.resolve(description);
    },
    memberId: () => self,
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
  const verdict = await new GroupIdleCheck(rebalancing.source, "t", "g", { failoverMs: 0 })
    .check([0]);
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
  assertEquals(await new GroupIdleCheck(stable.source, "t", "g", { failoverMs: 0 }).check([0]), {
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
  const check = new GroupIdleCheck(source, "t", "g", { failoverMs: 0, intervalMs: 60_000 });
  assertEquals(await check.idle([0]), true);
  assertEquals(await check.idle([0]), false, "too soon: no request, not idle");
  assertEquals(calls.length, 2);

  const failing: GroupSource = {
    ...source,
    describeConsumerGroup: () => Promise.reject(new Error("coordinator not available")),
  };
  assertEquals(await new GroupIdleCheck(failing, "t", "g", { failoverMs: 0 }).idle([0]), false);
});

Deno.test("group idle check: other members' uncommitted records hold the exit until those owners stayed the failover time", async () => {
  const description: ConsumerGroupDescription = {
    groupId: "g",
    state: "Stable",
    members: [member("a", "t", [0]), member("b", "t", [1])],
  };
  const offsets = { 1: { committed: 6, low: 0, high: 60 } };
  const check = new GroupIdleCheck(fakeSource(description, [0, 1], offsets).source, "t", "g", {
    failoverMs: 300,
    intervalMs: 0,
  });
  const started = Date.now();
  while (!await check.idle([0])) {
    assert(Date.now() - started < 10_000, "never idle while the same owner stayed");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // The failover time (300 ms) and two more seconds, seen from the first verdict.
  assert(Date.now() - started >= 2_300, `idle after ${Date.now() - started} ms`);

  // A member that changes (the dead one gone, another given the partition) starts the wait
  // again: the first verdict after the change is not idle.
  description.members[1] = member("c", "t", [1]);
  assertEquals(await check.idle([0]), false);
});
