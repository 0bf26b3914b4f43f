/**
 * How far behind a file processor's consumer is on its own partitions: the messages not yet
 * read, asked of the broker where nothing was fetched yet (for the exit when idle), and each
 * partition's lag from what the consumer knows already (for the status and the metrics, no
 * request). Apart from the runner because what counts as read (the position, else the committed
 * offset) is a rule of its own, and the metrics and the idle check must agree on it.
 *
 * @module
 */

import type { TopicPartition, TopicPartitionOffset, Watermarks } from "../kafka/mod.ts";
import type { PartitionLag } from "../command/metrics.ts";

/** What the lag is read from (a `Consumer`). */
export interface LagSource {
  /** The partitions assigned now. */
  assignment(): TopicPartition[];
  /** The next offset to fetch of each partition, `-1001` when unknown. */
  position(partitions: readonly TopicPartition[]): TopicPartitionOffset[];
  /** The watermarks seen while fetching (no request), `-1001` when none is known. */
  cachedWatermarks(topic: string, partition: number): Watermarks;
  /** Asks the partition's leader for its watermarks. */
  queryWatermarks(topic: string, partition: number, timeoutMs: number): Promise<Watermarks>;
  /** The group's committed offsets (`-1001` where none is committed). */
  committed(
    partitions: readonly TopicPartition[],
    timeoutMs: number,
  ): Promise<TopicPartitionOffset[]>;
}

/**
 * The messages not yet read from the assigned partitions (0 with none assigned): up to each
 * partition's end from its position, or from the committed offset (the start without one) where
 * nothing was consumed yet. Where nothing was fetched yet the end is asked of the broker (the
 * cached one may be older than the partition's data).
 */
export async function unreadMessages(consumer: LagSource): Promise<number> {
  const assigned = consumer.assignment();
  let total = 0;
  const positions = consumer.position(assigned);
  for (const position of positions) {
    let { high } = consumer.cachedWatermarks(position.topic, position.partition);
    // Nothing fetched yet: the cached end may be older than the partition's data; ask.
    if (high < 0 || position.offset < 0) {
      high = (await consumer.queryWatermarks(position.topic, position.partition, 5_000)).high;
    }
    if (position.offset < 0) {
      // Nothing consumed yet: compare with the committed offset.
      const [committed] = await consumer.committed([position], 5_000);
      const start = committed.offset >= 0 ? committed.offset : 0;
      total += Math.max(0, high - start);
    } else total += Math.max(0, high - position.offset);
  }
  return total;
}

/**
 * The lag of each assigned partition, from cached positions and watermarks (no requests); a
 * partition is left out before its first fetch.
 */
export function partitionLags(consumer: LagSource): PartitionLag[] {
  const lags: PartitionLag[] = [];
  for (const position of consumer.position(consumer.assignment())) {
    const { high } = consumer.cachedWatermarks(position.topic, position.partition);
    if (high < 0 || position.offset < 0) continue; // not known before the first fetch
    lags.push({ ...position, lag: Math.max(0, high - position.offset), end: high });
  }
  return lags;
}
