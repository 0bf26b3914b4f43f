/**
 * What `--exit-when-idle` means for a process in a consumer group: caught up on the partitions
 * the group owns, not "nothing assigned to me right now". Once a process's own partitions are
 * caught up it may exit only when the group is stable (not between the rounds of a
 * rebalance) and every partition of the topic is either owned by a member of the group or has
 * nothing left to read (its committed offset is at its high watermark). Otherwise a process
 * with an empty first assignment, or one whose partitions were handed back during a
 * rebalance, would exit with work that nobody is left to do.
 *
 * {@linkcode groupIdleVerdict} is the rule, on plain values; {@linkcode GroupIdleCheck} reads
 * those values from the broker (describe the group, then committed offsets and watermarks of
 * the partitions nobody owns), at most once every {@linkcode GROUP_CHECK_INTERVAL_MS}. Both
 * the file runner and the record runner ask it once their own partitions are idle.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type {
  ConsumerGroupDescription,
  ConsumerGroupState,
  TopicPartition,
  TopicPartitionOffset,
  Watermarks,
} from "../kafka/mod.ts";

const logger = getLogger(["ferry", "group"]);

/** The least time between two checks of the group (each sends a few requests). */
export const GROUP_CHECK_INTERVAL_MS = 1500;

/** How long each request of a check may take. */
const REQUEST_TIMEOUT_MS = 5000;

/** Where a partition no member owns stands. */
export interface PartitionOffsets {
  /** The group's committed offset, `-1001` when it has none. */
  committed: number;
  /** The low watermark: the oldest offset still in the partition. */
  low: number;
  /** The high watermark: the offset the next record will get. */
  high: number;
}

/** What {@linkcode groupIdleVerdict} decides on. */
export interface GroupView {
  /** The group's state. */
  state: ConsumerGroupState;
  /** The members, each with the partitions of the topic it owns. */
  members: { memberId: string; partitions: number[] }[];
  /** Every partition of the topic (not needed while the group rebalances). */
  partitions: number[];
  /** The offsets of the partitions no member owns (see {@linkcode unownedPartitions}). */
  offsets: ReadonlyMap<number, PartitionOffsets>;
}

/** Whether a process whose own partitions are caught up may exit, and why (or why not). */
export interface GroupIdleVerdict {
  /** True when it may exit. */
  idle: boolean;
  /** Why, for the log: such as `group rebalancing (PreparingRebalance)`. */
  reason: string;
}

/** The partitions of the topic that no member of the group owns, in order. */
export function unownedPartitions(view: Pick<GroupView, "members" | "partitions">): number[] {
  const owned = new Set(view.members.flatMap((m) => m.partitions));
  return view.partitions.filter((p) => !owned.has(p)).sort((a, b) => a - b);
}

/**
 * The records of a partition that nobody has read yet: from the committed offset (the low
 * watermark without one, or when the records there were deleted) to the high watermark.
 */
export function unreadRecords(offsets: PartitionOffsets): number {
  const start = offsets.committed >= 0 ? Math.max(offsets.committed, offsets.low) : offsets.low;
  return Math.max(0, offsets.high - Math.max(0, start));
}

/**
 * The rule: idle when the group is stable (or has no live members left to rebalance:
 * `Empty`, `Dead`) and every partition of the topic is owned by a member or has nothing left
 * to read. Called only once the asking process's own partitions are caught up.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { groupIdleVerdict } from "./group_idle.ts";
 *
 * const members = [{ memberId: "a", partitions: [0, 1] }, { memberId: "b", partitions: [] }];
 * const behind = new Map([[2, { committed: 300, low: 0, high: 1500 }]]);
 * assert.deepEqual(
 *   groupIdleVerdict({ state: "Stable", members, partitions: [0, 1, 2], offsets: behind }),
 *   { idle: false, reason: "partition 2 has 1200 records of lag and no owner" },
 * );
 * ```
 */
export function groupIdleVerdict(view: GroupView): GroupIdleVerdict {
  if (view.state === "PreparingRebalance" || view.state === "CompletingRebalance") {
    return { idle: false, reason: `group rebalancing (${view.state})` };
  }
  if (view.state === "Unknown") return { idle: false, reason: "group state unknown" };
  const behind: string[] = [];
  for (const partition of unownedPartitions(view)) {
    const offsets = view.offsets.get(partition);
    if (offsets === undefined) {
      behind.push(`partition ${partition} has no owner and its offsets are not known`);
      continue;
    }
    const lag = unreadRecords(offsets);
    if (lag > 0) {
      behind.push(
        `partition ${partition} has ${lag} record${lag === 1 ? "" : "s"} of lag and no owner`,
      );
    }
  }
  if (behind.length > 0) return { idle: false, reason: behind.join("; ") };
  return {
    idle: true,
    reason: `group ${view.state.toLowerCase()}; every partition owned or fully committed`,
  };
}

/** What a check reads from the broker: the consumer provides all of it. */
export interface GroupSource {
  /** Describes the group. */
  describeConsumerGroup(group: string, timeoutMs: number): Promise<ConsumerGroupDescription>;
  /** The partition ids of the topic. */
  topicPartitions(topic: string, timeoutMs: number): Promise<number[]>;
  /** The group's committed offsets. */
  committed(
    partitions: readonly TopicPartition[],
    timeoutMs: number,
  ): Promise<TopicPartitionOffset[]>;
  /** A partition's watermarks. */
  queryWatermarks(topic: string, partition: number, timeoutMs: number): Promise<Watermarks>;
}

/**
 * Reads the group's view from the broker and applies {@linkcode groupIdleVerdict}; its
 * {@linkcode idle} asks at most once every `intervalMs`.
 *
 * @example Ask once the process's own partitions are caught up (needs a broker)
 * ```ts ignore
 * const check = new GroupIdleCheck(consumer, "raw-data", "my-group");
 * if (ownPartitionsCaughtUp && await check.idle()) break;
 * ```
 */
export class GroupIdleCheck {
  readonly #source: GroupSource;
  readonly #topic: string;
  readonly #group: string;
  readonly #intervalMs: number;
  #lastCheckAt = -Infinity;

  /** Creates a check of `group`'s progress on `topic`, reading through `source`. */
  constructor(
    source: GroupSource,
    topic: string,
    group: string,
    intervalMs = GROUP_CHECK_INTERVAL_MS,
  ) {
    this.#source = source;
    this.#topic = topic;
    this.#group = group;
    this.#intervalMs = intervalMs;
  }

  /**
   * Whether the process may exit as far as the group is concerned. Asks the broker (see
   * {@linkcode check}) unless it did less than `intervalMs` ago, in which case it answers
   * false without a request; a failed request also answers false. Logs at debug level why
   * the process keeps waiting.
   */
  async idle(): Promise<boolean> {
    if (Date.now() - this.#lastCheckAt < this.#intervalMs) return false;
    let verdict: GroupIdleVerdict;
    try {
      verdict = await this.check();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      verdict = { idle: false, reason: `could not read the group's state: ${message}` };
    } finally {
      this.#lastCheckAt = Date.now();
    }
    logger.debug(
      verdict.idle
        ? "Caught up, and so is group {group} on {topic}: {reason}."
        : "Caught up on its own partitions, still waiting for group {group} on {topic}: {reason}.",
      { group: this.#group, topic: this.#topic, reason: verdict.reason },
    );
    return verdict.idle;
  }

  /**
   * Reads the group from the broker now: its description, then (when it is not rebalancing)
   * the topic's partitions, and the committed offsets and watermarks of the partitions no
   * member owns.
   *
   * @throws {KafkaError} when a request fails.
   */
  async check(): Promise<GroupIdleVerdict> {
    const source = this.#source;
    const topic = this.#topic;
    const description = await source.describeConsumerGroup(this.#group, REQUEST_TIMEOUT_MS);
    const view: GroupView = {
      state: description.state,
      members: description.members.map((m) => ({
        memberId: m.memberId,
        partitions: m.partitions.filter((tp) => tp.topic === topic).map((tp) => tp.partition),
      })),
      partitions: [],
      offsets: new Map(),
    };
    const first = groupIdleVerdict(view);
    if (!first.idle) return first; // rebalancing: nothing more to ask
    view.partitions = await source.topicPartitions(topic, REQUEST_TIMEOUT_MS);
    const unowned = unownedPartitions(view);
    if (unowned.length === 0) return groupIdleVerdict(view);
    const [committed, watermarks] = await Promise.all([
      source.committed(unowned.map((partition) => ({ topic, partition })), REQUEST_TIMEOUT_MS),
      Promise.all(unowned.map((p) => source.queryWatermarks(topic, p, REQUEST_TIMEOUT_MS))),
    ]);
    const offsets = new Map<number, PartitionOffsets>();
    unowned.forEach((partition, i) => {
      offsets.set(partition, {
        committed: committed.find((c) => c.partition === partition)?.offset ?? -1001,
        low: watermarks[i].low,
        high: watermarks[i].high,
      });
    });
    return groupIdleVerdict({ ...view, offsets });
  }
}
