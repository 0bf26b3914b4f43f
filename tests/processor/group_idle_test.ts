/**
 * The `--exit-when-idle` group check (`src/processor/group_idle.ts`) against the real broker: an
 * empty group with committed offsets, a group with a live member. The rule on plain values and
 * against a fake source: `src/processor/group_idle_test.ts`.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, withTopic } from "../support/broker.ts";
import { putRecords } from "../support/records.ts";
import { waitUntil } from "../support/wait.ts";
import { GroupIdleCheck, type GroupSource } from "../../src/processor/group_idle.ts";
import { Consumer, KafkaError } from "../../src/kafka/mod.ts";

/** The consumer's methods that a group check uses, bound to it. */
function bound(consumer: Consumer): GroupSource {
  return {
    describeConsumerGroup: (group, timeoutMs) => consumer.describeConsumerGroup(group, timeoutMs),
    memberId: () => consumer.memberId(),
    topicPartitions: (topic, timeoutMs) => consumer.topicPartitions(topic, timeoutMs),
    committed: (partitions, timeoutMs) => consumer.committed(partitions, timeoutMs),
    queryWatermarks: (topic, partition, timeoutMs) =>
      consumer.queryWatermarks(topic, partition, timeoutMs),
  };
}

Deno.test("group idle check against the broker: members, an empty group, committed offsets", async () => {
  await withTopic(2, async (topic) => {
    await putRecords(topic, 2, 5);
    // A group with committed offsets and no members: "Empty", its partitions unowned.
    const emptyGroup = `idle-empty-${crypto.randomUUID().slice(0, 8)}`;
    await using committer = new Consumer({
      "bootstrap.servers": BOOTSTRAP,
      "group.id": emptyGroup,
    });
    await committer.commit([{ topic, partition: 0, offset: 5 }, {
      topic,
      partition: 1,
      offset: 2,
    }]);
    const empty = new GroupIdleCheck(committer, topic, emptyGroup, { failoverMs: 6000 });
    assertEquals(await empty.check([]), {
      idle: false,
      reason: "partition 1 has 3 records of lag and no owner",
    });
    await committer.commit([{ topic, partition: 1, offset: 5 }]);
    assertEquals(await empty.check([]), {
      idle: true,
      reason: "group empty; every other partition fully committed",
    });

    // A live member owning both partitions, nothing read or committed: idle as far as the
    // group goes (the member's own lag is its own business); another process asking waits
    // for that member's records.
    const liveGroup = `idle-live-${crypto.randomUUID().slice(0, 8)}`;
    await using member = new Consumer({
      "bootstrap.servers": BOOTSTRAP,
      "group.id": liveGroup,
      "partition.assignment.strategy": "cooperative-sticky",
    });
    member.subscribe([topic]);
    await waitUntil(async () => {
      await member.poll({ timeoutMs: 100 });
      return member.assignment().length === 2;
    }, "the assignment");
    const description = await member.describeConsumerGroup(liveGroup);
    assertEquals(description.state, "Stable");
    assertEquals(description.members.length, 1);
    assertEquals(description.members[0].memberId, member.memberId());
    assertEquals(
      description.members[0].partitions.map((tp) => tp.partition).sort(),
      [0, 1],
    );
    const live = new GroupIdleCheck(member, topic, liveGroup, { failoverMs: 6000 });
    assertEquals(await live.check([0, 1]), {
      idle: true,
      reason: "group stable; every other partition fully committed",
    });
    // Seen from a process that holds nothing of it (the same answers, another member id).
    const outsider = { ...bound(member), memberId: () => "someone-else" };
    const seen = await new GroupIdleCheck(outsider, topic, liveGroup, { failoverMs: 6000 })
      .check([]);
    assertEquals(seen.idle, false);
    assertEquals(seen.ownersBehind, `0:${member.memberId()},1:${member.memberId()}`);
    assertEquals(await member.topicPartitions(topic), [0, 1]);
    let missing: unknown;
    await member.topicPartitions(`no-such-topic-${crypto.randomUUID()}`, 5000).catch((error) =>
      missing = error
    );
    assert(missing instanceof KafkaError, `a missing topic is a KafkaError: ${missing}`);
  });
});
