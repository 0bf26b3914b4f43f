/**
 * The stranded-partitions watch (`stranded_partitions.ts`) without a broker: which member acts,
 * and when it looks at the group at all. Rejoining in a real group: `tests/scaling/stranded_test.ts`.
 */

import { assertEquals } from "../../tests/support/assert.ts";
import { type StrandedConsumer, StrandedPartitions } from "./stranded_partitions.ts";
import { type ConsumerGroupDescription, ErrorCode, KafkaError } from "../kafka/mod.ts";

/** A consumer whose group is stable with partition 1 of "t" given to nobody. */
function strandedGroup() {
  const calls: string[] = [];
  const group: ConsumerGroupDescription = {
    groupId: "g",
    state: "Stable",
    members: [
      { memberId: "a", clientId: "", host: "", partitions: [{ topic: "t", partition: 0 }] },
      { memberId: "b", clientId: "", host: "", partitions: [] },
    ],
  };
  const consumer: StrandedConsumer = {
    describeConsumerGroup() {
      calls.push("describe");
      return Promise.resolve(group);
    },
    memberId: () => "b",
    rejoin() {
      calls.push("rejoin");
    },
  };
  return { consumer, calls };
}

/** The watch over topic "t" (2 partitions) of group "g", acting at once (failover 0). */
function watchOf(consumer: StrandedConsumer): StrandedPartitions {
  return new StrandedPartitions(consumer, {
    group: "g",
    topic: "t",
    partitionCount: 2,
    failoverMs: 0,
  });
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("stranded partitions: an empty member looks at the group, one with partitions does not", async () => {
  const { consumer, calls } = strandedGroup();
  const watch = watchOf(consumer);
  watch.tick(1);
  await settle();
  assertEquals(calls, []);
  watch.tick(0);
  await settle();
  assertEquals(calls, ["describe"]);
});

Deno.test("stranded partitions: no look at the group for a while after a sign that the broker is away", async () => {
  for (const code of [ErrorCode.ALL_BROKERS_DOWN, ErrorCode.TRANSPORT, ErrorCode.RESOLVE]) {
    const { consumer, calls } = strandedGroup();
    const watch = watchOf(consumer);
    watch.noteError(new KafkaError(code, "broker away", "1/1 brokers are down"));
    watch.tick(0);
    await settle();
    assertEquals(calls, [], `after error ${code}`);
  }
  // Other errors change nothing.
  const { consumer, calls } = strandedGroup();
  const watch = watchOf(consumer);
  watch.noteError(new KafkaError(ErrorCode.MSG_TIMED_OUT, "timed out", "a message timed out"));
  watch.tick(0);
  await settle();
  assertEquals(calls, ["describe"]);
});
