/**
 * What `--exit-when-idle` means for a process in a consumer group: caught up on the partitions
 * the group owns, not "nothing assigned to me right now". Once a process's own partitions are
 * caught up it may exit only when the group is stable (not between the rounds of a
 * rebalance) and every other partition of the topic is either fully committed (its committed
 * offset is at its high watermark) or owned by another member that stays in the group. Otherwise
 * a process with an empty first assignment, or one whose partitions were handed back during a
 * rebalance, would exit with work that nobody is left to do.
 *
 * A member that has just died still owns its partitions until its session ends (a static member
 * does not leave the group when it stops): a partition another member owns with records it has
 * not committed holds the exit for the failover time, after which a dead owner is out of the
 * group (the group rebalances, and this process may be given the partition) and a live one has
 * shown that it is there to do the work (seen in `tests/exactly_once/group_test.ts`: a fenced
 * process stopped, and the other exited while the dead one still owned half of the topic).
 *
 * {@linkcode groupIdleVerdict} is the rule, on plain values; {@linkcode GroupIdleCheck} reads
 * those values from the broker (describe the group, then committed offsets and watermarks of
 * the partitions this process does not hold), at most once every
 * {@linkcode GROUP_CHECK_INTERVAL_MS}, and applies the failover wait. Both the file runner and
 * the record runner ask it once their own partitions are idle.
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
  /** This process's member id in the group (`""` when it has none). */
  self: string;
  /**
   * The partitions this process's consumer holds: the asking runner judges their lag itself.
   * A partition the group gives this member that its consumer does not hold yet (an
   * assignment on its way) counts as one without an owner.
   */
  mine: number[];
  /** Every partition of the topic (not needed while the group rebalances). */
  partitions: number[];
  /** The offsets of the partitions this process does not hold (see {@linkcode othersPartitions}). */
  offsets: ReadonlyMap<number, PartitionOffsets>;
}

/** Whether a process whose own partitions are caught up may exit, and why (or why not). */
export interface GroupIdleVerdict {
  /** True when it may exit. */
  idle: boolean;
  /** Why, for the log: such as `group rebalancing (PreparingRebalance)`. */
  reason: string;
  /**
   * Present when the only thing that holds the exit is records that other members own and
   * have not committed: which members own which of those partitions (a key to notice a change).
   * {@linkcode GroupIdleCheck} waits the failover time on such a verdict before it exits.
   */
  ownersBehind?: string;
}

/** The partitions of the topic this process does not hold, in order: their offsets are read. */
export function othersPartitions(view: Pick<GroupView, "mine" | "partitions">): number[] {
  const mine = new Set(view.mine);
  return view.partitions.filter((p) => !mine.has(p)).sort((a, b) => a - b);
}

/** Which other member owns each partition that this process does not hold. */
function ownersOf(view: Pick<GroupView, "members" | "self">): Map<number, string> {
  const owners = new Map<number, string>();
  for (const member of view.members) {
    if (member.memberId === view.self) continue;
    for (const partition of member.partitions) owners.set(partition, member.memberId);
  }
  return owners;
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
 * `Empty`, `Dead`) and every partition of the topic that this process does not hold has
 * nothing left to read; a partition another member owns with records not yet committed gives
 * a verdict with `ownersBehind` (see {@linkcode GroupIdleCheck}). Called only once the asking
 * process's own partitions are caught up.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { groupIdleVerdict } from "./group_idle.ts";
 *
 * // Member "b" (this process) holds nothing; "a" holds partitions 0 and 1, and 2 has no owner.
 * const members = [{ memberId: "a", partitions: [0, 1] }, { memberId: "b", partitions: [] }];
 * assert.deepEqual(
 *   groupIdleVerdict({
 *     state: "Stable",
 *     members,
 *     self: "b",
 *     mine: [],
 *     partitions: [0, 1, 2],
 *     offsets: new Map([
 *       [0, { committed: 10, low: 0, high: 10 }],
 *       [1, { committed: 7, low: 0, high: 7 }],
 *       [2, { committed: 300, low: 0, high: 1500 }],
 *     ]),
 *   }),
 *   { idle: false, reason: "partition 2 has 1200 records of lag and no owner" },
 * );
 * ```
 */
export function groupIdleVerdict(view: GroupView): GroupIdleVerdict {
  if (view.state === "PreparingRebalance" || view.state === "CompletingRebalance") {
    return { idle: false, reason: `group rebalancing (${view.state})` };
  }
  if (view.state === "Unknown") return { idle: false, reason: "group state unknown" };
  const owners = ownersOf(view);
  const behind: string[] = [];
  const ownersBehind: string[] = [];
  const ownedBehind: string[] = [];
  for (const partition of othersPartitions(view)) {
    const owner = owners.get(partition);
    const offsets = view.offsets.get(partition);
    if (offsets === undefined) {
      behind.push(
        owner === undefined
          ? `partition ${partition} has no owner and its offsets are not known`
          : `the offsets of partition ${partition} are not known`,
      );
      continue;
    }
    const lag = unreadRecords(offsets);
    if (lag === 0) continue;
    const records = `${lag} record${lag === 1 ? "" : "s"}`;
    if (owner === undefined) {
      behind.push(`partition ${partition} has ${records} of lag and no owner`);
    } else {
      ownedBehind.push(`partition ${partition} has ${records} its owner has not committed yet`);
      ownersBehind.push(`${partition}:${owner}`);
    }
  }
  if (behind.length > 0) return { idle: false, reason: [...behind, ...ownedBehind].join("; ") };
  if (ownedBehind.length > 0) {
    return { idle: false, reason: ownedBehind.join("; "), ownersBehind: ownersBehind.join(",") };
  }
  return {
    idle: true,
    reason: `group ${view.state.toLowerCase()}; every other partition fully committed`,
  };
}

/** What a check reads from the broker: the consumer provides all of it. */
export interface GroupSource {
  /** Describes the group. */
  describeConsumerGroup(group: string, timeoutMs: number): Promise<ConsumerGroupDescription>;
  /** This process's member id in the group (`""` before it joined). */
  memberId(): string;
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

/** Options for {@linkcode GroupIdleCheck}. */
export interface GroupIdleCheckOptions {
  /**
   * The group's failover time (ms): how long a member's partitions stay with it after it
   * died. A verdict held only by other members' uncommitted records turns idle once the same
   * members have owned those partitions for this long (and a little more).
   */
  failoverMs: number;
  /** The least time between two checks (ms); default {@linkcode GROUP_CHECK_INTERVAL_MS}. */
  intervalMs?: number;
}

/** Beyond the failover time, how long owners must stay before they count as alive (ms). */
const OWNERS_STAY_EXTRA_MS = 2000;

/**
 * Reads the group's view from the broker and applies {@linkcode groupIdleVerdict}; its
 * {@linkcode idle} asks at most once every `intervalMs`, and waits out the failover time when
 * only other members' uncommitted records hold the exit.
 *
 * @example Ask once the process's own partitions are caught up (needs a broker)
 * ```ts ignore
 * const check = new GroupIdleCheck(consumer, "raw-data", "my-group", { failoverMs: 45_000 });
 * const mine = consumer.assignment().map((tp) => tp.partition);
 * if (ownPartitionsCaughtUp && await check.idle(mine)) break;
 * ```
 */
export class GroupIdleCheck {
  readonly #source: GroupSource;
  readonly #topic: string;
  readonly #group: string;
  readonly #intervalMs: number;
  readonly #stayMs: number;
  #lastCheckAt = -Infinity;
  /** The owners behind at the last check, and since when the same ones were seen. */
  #ownersBehind: { key: string; since: number } | undefined;

  /** Creates a check of `group`'s progress on `topic`, reading through `source`. */
  constructor(source: GroupSource, topic: string, group: string, options: GroupIdleCheckOptions) {
    this.#source = source;
    this.#topic = topic;
    this.#group = group;
    this.#intervalMs = options.intervalMs ?? GROUP_CHECK_INTERVAL_MS;
    this.#stayMs = options.failoverMs + OWNERS_STAY_EXTRA_MS;
  }

  /**
   * Whether the process may exit as far as the group is concerned, given the partitions it
   * holds (`mine`). Asks the broker (see {@linkcode check}) unless it did less than
   * `intervalMs` ago, in which case it answers false without a request; a failed request also
   * answers false. Logs at debug level why the process keeps waiting.
   */
  async idle(mine: readonly number[]): Promise<boolean> {
    if (Date.now() - this.#lastCheckAt < this.#intervalMs) return false;
    let verdict: GroupIdleVerdict;
    try {
      verdict = this.#afterOwnersStayed(await this.check(mine));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      verdict = { idle: false, reason: `could not read the group's state: ${message}` };
      this.#ownersBehind = undefined;
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

  /** A verdict held only by other members' records turns idle once those members stayed. */
  #afterOwnersStayed(verdict: GroupIdleVerdict): GroupIdleVerdict {
    const key = verdict.ownersBehind;
    if (key === undefined) {
      this.#ownersBehind = undefined;
      return verdict;
    }
    if (this.#ownersBehind?.key !== key) this.#ownersBehind = { key, since: Date.now() };
    const waited = Date.now() - this.#ownersBehind.since;
    if (waited < this.#stayMs) {
      const left = Math.ceil((this.#stayMs - waited) / 1000);
      return { ...verdict, reason: `${verdict.reason} (their owners must stay ${left} s more)` };
    }
    return {
      idle: true,
      reason: `${verdict.reason}, and its owners stayed in the group for ${
        Math.round(waited / 1000)
      } s: they are there to do it`,
    };
  }

  /**
   * Reads the group from the broker now: its description, then (when it is not rebalancing)
   * the topic's partitions, and the committed offsets and watermarks of the partitions this
   * process does not hold (`mine`: those it holds).
   *
   * @throws {KafkaError} when a request fails.
   */
  async check(mine: readonly number[]): Promise<GroupIdleVerdict> {
    const source = this.#source;
    const topic = this.#topic;
    const description = await source.describeConsumerGroup(this.#group, REQUEST_TIMEOUT_MS);
    const view: GroupView = {
      state: description.state,
      members: description.members.map((m) => ({
        memberId: m.memberId,
        partitions: m.partitions.filter((tp) => tp.topic === topic).map((tp) => tp.partition),
      })),
      self: source.memberId(),
      mine: [...mine],
      partitions: [],
      offsets: new Map(),
    };
    const first = groupIdleVerdict(view);
    if (!first.idle) return first; // rebalancing: nothing more to ask
    view.partitions = await source.topicPartitions(topic, REQUEST_TIMEOUT_MS);
    const others = othersPartitions(view);
    if (others.length === 0) return groupIdleVerdict(view);
    const [committed, watermarks] = await Promise.all([
      source.committed(others.map((partition) => ({ topic, partition })), REQUEST_TIMEOUT_MS),
      Promise.all(others.map((p) => source.queryWatermarks(topic, p, REQUEST_TIMEOUT_MS))),
    ]);
    const offsets = new Map<number, PartitionOffsets>();
    others.forEach((partition, i) => {
      offsets.set(partition, {
        committed: committed.find((c) => c.partition === partition)?.offset ?? -1001,
        low: watermarks[i].low,
        high: watermarks[i].high,
      });
    });
    return groupIdleVerdict({ ...view, offsets });
  }
}
