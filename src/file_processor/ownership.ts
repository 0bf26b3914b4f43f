/**
 * Which partitions a file processor reads now, across rebalances. A message of any other (one
 * of a batch polled before its partition was revoked or lost, or read before a partition given
 * back was rewound) is dropped: tracked, it would let a commit move the group's offset of a
 * partition this process does not own (the coordinator accepts a member's commits for any
 * partition) or past messages read again after the rewind. The partition's owner reads it from
 * the committed offset. A partition given back after it was taken away starts again at the
 * group's committed offset, and what was read of it before is forgotten. Apart from the runner
 * because these rules keep a commit from ever covering a message another member owns.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import {
  Offset,
  partitionKey,
  type RebalanceKind,
  type TopicPartition,
  type TopicPartitionOffset,
} from "../kafka/mod.ts";
import { errorText } from "../processor/errors.ts";

const logger = getLogger(["ferry", "file-processor"]);

/** What {@linkcode PartitionOwnership} rewinds partitions given back with (a `Consumer`). */
export interface RewindingConsumer {
  /** The group's committed offsets (`-1001` where none is committed). */
  committed(
    partitions: readonly TopicPartition[],
    timeoutMs: number,
  ): Promise<TopicPartitionOffset[]>;
  /** Moves the fetch position of assigned partitions. */
  seek(offsets: readonly TopicPartitionOffset[], timeoutMs: number): Promise<void>;
}

/** What {@linkcode PartitionOwnership} forgets of partitions given back (an `OffsetTracker`). */
export interface ForgettingTracker {
  /** Forgets what was read of partitions. */
  forget(partitions: readonly TopicPartition[]): void;
}

/**
 * The partitions a file processor owns (see the module).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PartitionOwnership } from "./ownership.ts";
 * const ownership = new PartitionOwnership({
 *   consumer: {
 *     committed: (tps) => Promise.resolve(tps.map((tp) => ({ ...tp, offset: 7 }))),
 *     seek: () => Promise.resolve(),
 *   },
 *   tracker: { forget: () => {} },
 *   autoOffsetReset: "earliest",
 * });
 * await ownership.assigned([{ topic: "t", partition: 0 }]);
 * assert.ok(ownership.owns(0));
 * ownership.takenAway("lost", [{ topic: "t", partition: 0 }]);
 * assert.ok(!ownership.owns(0) && ownership.rejoining);
 * ```
 */
export class PartitionOwnership {
  readonly #consumer: RewindingConsumer;
  readonly #tracker: ForgettingTracker;
  /** Whether a partition with no committed offset starts at the beginning. */
  readonly #fromStart: boolean;
  /** Partitions this process had and gave up (revoked or lost), by key. */
  readonly #given = new Set<string>();
  /** The partitions this process reads now. */
  readonly #owned = new Set<number>();
  /** Partitions were lost and the group has not assigned this process again yet. */
  #rejoining = false;

  /**
   * Follows the partitions of a consumer.
   *
   * @param options.autoOffsetReset the consumer's `auto.offset.reset`: where a partition given
   *   back with no committed offset starts.
   */
  constructor(options: {
    consumer: RewindingConsumer;
    tracker: ForgettingTracker;
    autoOffsetReset: string;
  }) {
    this.#consumer = options.consumer;
    this.#tracker = options.tracker;
    // Without a commit: from the beginning when that is where the group starts (Ferry's
    // default), else where librdkafka's reset puts it.
    this.#fromStart = ["earliest", "smallest", "beginning"].includes(options.autoOffsetReset);
  }

  /** Whether this process reads the partition now (its messages are handled). */
  owns(partition: number): boolean {
    return this.#owned.has(partition);
  }

  /** Whether partitions were lost and the group has not assigned this process again yet. */
  get rejoining(): boolean {
    return this.#rejoining;
  }

  /** Partitions were revoked or lost: their messages are dropped from now on. */
  takenAway(kind: Exclude<RebalanceKind, "assigned">, partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) {
      this.#given.add(partitionKey(tp));
      this.#owned.delete(tp.partition);
    }
    if (kind === "lost") this.#rejoining = true;
  }

  /**
   * Partitions were assigned: new ones are read at once; those given back after this process
   * gave them up are rewound to the committed offset, and what was read of them is forgotten.
   */
  async assigned(partitions: readonly TopicPartition[]): Promise<void> {
    this.#rejoining = false;
    const back = partitions.filter((tp) => this.#given.delete(partitionKey(tp)));
    const fresh = partitions.filter((tp) => !back.includes(tp));
    for (const tp of fresh) this.#owned.add(tp.partition);
    await this.#rewind(back);
    // Read again from the committed offset: what was read of them before is forgotten.
    this.#tracker.forget(back);
    for (const tp of back) this.#owned.add(tp.partition);
  }

  /**
   * Partitions given back to this process after it gave them up start again at the group's
   * committed offset: librdkafka 2.0.2 would go on from where it had fetched to, past messages
   * fetched before the loss and dropped with it (measured: the last 8 files of a partition
   * never processed, the partition idle at its end). Files already processed here are skipped.
   */
  async #rewind(partitions: TopicPartition[]): Promise<void> {
    if (partitions.length === 0) return;
    try {
      const committed = await this.#consumer.committed(partitions, 10_000);
      const starts = committed
        .map((tp) => ({
          ...tp,
          offset: tp.offset >= 0 || !this.#fromStart ? tp.offset : Offset.BEGINNING,
        }))
        .filter((tp) => tp.offset >= 0 || tp.offset === Offset.BEGINNING);
      if (starts.length > 0) await this.#consumer.seek(starts, 5_000);
    } catch (error) {
      logger.warn("Could not start partitions {names} again at their committed offsets: {error}", {
        names: partitions.map((tp) => tp.partition).join(", "),
        error: errorText(error),
      });
    }
  }
}
