/**
 * A file processor's lag (`lag.ts`): unread messages count from the position, or from the
 * committed offset (the start without one) before anything was consumed, up to the end asked of
 * the broker when nothing was fetched; each partition's lag leaves out what is not known yet.
 */

import { assertEquals } from "../../tests/support/assert.ts";
import { type LagSource, partitionLags, unreadMessages } from "./lag.ts";
import type { TopicPartition } from "../kafka/mod.ts";

interface Partition {
  position: number;
  cachedHigh: number;
  brokerHigh: number;
  committed: number;
}

function source(partitions: Partition[], asked: string[] = []): LagSource {
  const tps: TopicPartition[] = partitions.map((_, partition) => ({ topic: "t", partition }));
  return {
    assignment: () => tps,
    position: (list) => list.map((tp) => ({ ...tp, offset: partitions[tp.partition].position })),
    cachedWatermarks: (_topic, partition) => ({ low: 0, high: partitions[partition].cachedHigh }),
    queryWatermarks: (_topic, partition) => {
      asked.push(`watermarks ${partition}`);
      return Promise.resolve({ low: 0, high: partitions[partition].brokerHigh });
    },
    committed: (list) =>
      Promise.resolve(list.map((tp) => ({ ...tp, offset: partitions[tp.partition].committed }))),
  };
}

Deno.test("unread messages: from the position, or the committed offset before any", async () => {
  const asked: string[] = [];
  const lag = await unreadMessages(source([
    { position: 40, cachedHigh: 50, brokerHigh: 99, committed: 0 }, // 10, from the cache
    { position: -1001, cachedHigh: 20, brokerHigh: 30, committed: 25 }, // 5, asked
    { position: -1001, cachedHigh: -1001, brokerHigh: 7, committed: -1001 }, // 7 from the start
    { position: 60, cachedHigh: 50, brokerHigh: 50, committed: 0 }, // never below 0
  ], asked));
  assertEquals(lag, 22);
  assertEquals(asked, ["watermarks 1", "watermarks 2"]);
});

Deno.test("unread messages: none with no partitions assigned", async () => {
  assertEquals(await unreadMessages(source([])), 0);
});

Deno.test("each partition's lag is known only after its first fetch", () => {
  const lags = partitionLags(source([
    { position: 40, cachedHigh: 50, brokerHigh: 99, committed: 0 },
    { position: -1001, cachedHigh: 20, brokerHigh: 30, committed: 25 },
    { position: 5, cachedHigh: -1001, brokerHigh: 30, committed: 0 },
  ]));
  assertEquals(lags, [{ topic: "t", partition: 0, offset: 40, lag: 10, end: 50 }]);
});
