/**
 * Offset watermarks: which offset of each partition may be committed. A message is settled
 * when its file is settled (processed, failed and kept, already processed, filtered out, or
 * malformed); the committable offset of a partition never passes an unsettled message.
 *
 * @module
 */

import { partitionKey, type TopicPartition, type TopicPartitionOffset } from "../kafka/mod.ts";

/** The unsettled messages of one partition, in arrival (offset) order. */
class PartitionOffsets {
  readonly topic: string;
  readonly partition: number;
  /** Offsets in arrival order from `head` on; settled ones are removed lazily. */
  #queue: number[] = [];
  #head = 0;
  readonly #settled = new Set<number>();
  /** The offset after the highest one seen, or -1 before any. */
  #next = -1;
  /** The last offset handed out by {@linkcode OffsetTracker.committable}. */
  committed = -1;
  /** The last offsets of files settled here and not yet committed, in settling order. */
  settledFiles: number[] = [];

  constructor(tp: TopicPartition) {
    this.topic = tp.topic;
    this.partition = tp.partition;
  }

  add(offset: number): void {
    if (offset < this.#next) return; // a redelivery of an offset already tracked
    this.#queue.push(offset);
    this.#next = offset + 1;
  }

  settle(offset: number): void {
    if (this.#head < this.#queue.length) this.#settled.add(offset);
    this.#advance();
  }

  #advance(): void {
    while (this.#head < this.#queue.length && this.#settled.has(this.#queue[this.#head])) {
      this.#settled.delete(this.#queue[this.#head]);
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The next offset to read after everything settled: the first unsettled one. */
  watermark(): number {
    if (this.#head < this.#queue.length) return this.#queue[this.#head];
    return this.#next;
  }

  get unsettled(): number {
    return this.#queue.length - this.#head;
  }
}

/**
 * Tracks settled messages per partition and tells which offsets may be committed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OffsetTracker } from "./offsets.ts";
 * const tracker = new OffsetTracker();
 * const tp = { topic: "raw", partition: 0 };
 * tracker.add(tp, 10);
 * tracker.add(tp, 11);
 * tracker.settle(tp, 11);
 * // 10 is not settled yet: the committable offset stays at 10 (the next one to read).
 * assert.deepEqual(tracker.committable(), [{ topic: "raw", partition: 0, offset: 10 }]);
 * tracker.settle(tp, 10);
 * assert.deepEqual(tracker.committable(), [{ topic: "raw", partition: 0, offset: 12 }]);
 * ```
 */
export class OffsetTracker {
  readonly #partitions = new Map<string, PartitionOffsets>();

  #get(tp: TopicPartition): PartitionOffsets {
    const key = partitionKey(tp);
    let entry = this.#partitions.get(key);
    if (!entry) {
      entry = new PartitionOffsets(tp);
      this.#partitions.set(key, entry);
    }
    return entry;
  }

  /** Records a message as received and not yet settled. */
  add(tp: TopicPartition, offset: number): void {
    this.#get(tp).add(offset);
  }

  /** Records a message as settled. */
  settle(tp: TopicPartition, offset: number): void {
    this.#partitions.get(partitionKey(tp))?.settle(offset);
  }

  /** Messages received and not settled, over all partitions. */
  get unsettled(): number {
    let total = 0;
    for (const entry of this.#partitions.values()) total += entry.unsettled;
    return total;
  }

  /**
   * The offsets that may be committed and were not handed out before (each the next offset to
   * read), optionally only for some partitions. Marks them as handed out.
   */
  committable(only?: readonly TopicPartition[]): TopicPartitionOffset[] {
    const keys = only ? new Set(only.map(partitionKey)) : undefined;
    const out: TopicPartitionOffset[] = [];
    for (const [key, entry] of this.#partitions) {
      if (keys && !keys.has(key)) continue;
      const offset = entry.watermark();
      if (offset >= 0 && offset > entry.committed) {
        out.push({ topic: entry.topic, partition: entry.partition, offset });
      }
    }
    return out;
  }

  /** The last offset of `tp` marked committed, -1 when none (or the partition is unknown). */
  committedOffset(tp: TopicPartition): number {
    return this.#partitions.get(partitionKey(tp))?.committed ?? -1;
  }

  /** Marks offsets as committed, so {@linkcode committable} does not return them again. */
  markCommitted(offsets: readonly TopicPartitionOffset[]): void {
    for (const tp of offsets) {
      const entry = this.#partitions.get(partitionKey(tp));
      if (entry && tp.offset > entry.committed) {
        entry.committed = tp.offset;
        entry.settledFiles = entry.settledFiles.filter((offset) => offset >= tp.offset);
      }
    }
  }

  /** Records that a file whose last message in `tp` is at `offset` settled. */
  noteSettledFile(tp: TopicPartition, offset: number): void {
    const entry = this.#partitions.get(partitionKey(tp));
    if (entry && offset >= entry.committed) entry.settledFiles.push(offset);
  }

  /**
   * How many settled files of these partitions are not covered by a commit yet: what another
   * member runs again when the partitions are lost now.
   */
  uncommittedFiles(partitions: readonly TopicPartition[]): number {
    let total = 0;
    for (const tp of partitions) {
      total += this.#partitions.get(partitionKey(tp))?.settledFiles.length ?? 0;
    }
    return total;
  }

  /** Forgets partitions (after they were revoked or lost). */
  forget(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#partitions.delete(partitionKey(tp));
  }
}
