/**
 * Partitions a stable classic group gives to nobody. A cooperative rebalance comes in two rounds:
 * the first takes partitions away from their owner, which then rejoins so that the second gives
 * them out. A static member killed between the rounds and started again at once takes its old
 * place without a rebalance (the group is stable) and with the first round's assignment, but it
 * has nothing to give up, so it never rejoins: the partitions it was giving up stay with nobody,
 * and the members waiting for them stay empty, until some other change rebalances the group
 * (seen in the kill rounds of `tests/scaling/file_group_test.ts`; the broker's log: "Static member
 * ... joins group ... in Stable state. Replacing previously mapped member"; reproduced by
 * `tests/scaling/stranded_test.ts`).
 *
 * A member with no partitions checks, at most every {@linkcode STRANDED_CHECK_INTERVAL_MS}, whether
 * the group is stable with partitions of the topic owned by no member; when that lasts longer than
 * a second round normally takes (the failover time and {@linkcode STRANDED_AFTER_EXTRA_MS}), the
 * empty member with the lowest member id leaves the group and joins again, which rebalances it.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { type ConsumerGroupDescription, ErrorCode, type KafkaError } from "../kafka/mod.ts";
import { errorText } from "./errors.ts";

const logger = getLogger(["ferry", "group"]);

/** The least time between two looks at the group (ms). */
export const STRANDED_CHECK_INTERVAL_MS = 2000;

/**
 * After a sign that the broker is away (see {@linkcode StrandedPartitions.noteError}), how
 * long no look at the group is taken (ms): describing the group during an outage means
 * requests that time out, and on librdkafka 2.15.1 such an admin request on a consumer's handle
 * failed an assertion (`rd_kafka_enq_once_del_source_return`) that killed the process.
 */
export const STRANDED_HOLD_OFF_MS = 30_000;

/** Client errors that say the broker may be away. */
const BROKER_AWAY = new Set<number>([
  ErrorCode.ALL_BROKERS_DOWN,
  ErrorCode.TRANSPORT,
  ErrorCode.RESOLVE,
]);

/**
 * Beyond the failover time, how long partitions may stay with nobody in a stable group before a
 * member rejoins (ms): a revoking member waits for its running files first.
 */
export const STRANDED_AFTER_EXTRA_MS = 10_000;

/**
 * The partitions of `partitionCount` that a stable group gives to no member, when `memberId` is
 * the empty member that should act (the lowest member id among the empty ones); `[]` otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { strandedPartitions } from "./stranded_partitions.ts";
 * const p = (partition: number) => ({ topic: "t", partition });
 * const group = {
 *   groupId: "g",
 *   state: "Stable" as const,
 *   members: [
 *     { memberId: "a", clientId: "", host: "", partitions: [p(0), p(1)] },
 *     { memberId: "b", clientId: "", host: "", partitions: [] },
 *     { memberId: "c", clientId: "", host: "", partitions: [] },
 *   ],
 * };
 * assert.deepEqual(strandedPartitions(group, "t", 6, "b"), [2, 3, 4, 5]);
 * assert.deepEqual(strandedPartitions(group, "t", 6, "c"), []);
 * ```
 */
export function strandedPartitions(
  group: ConsumerGroupDescription,
  topic: string,
  partitionCount: number,
  memberId: string,
): number[] {
  if (group.state !== "Stable") return [];
  const owned = new Set<number>();
  const empty: string[] = [];
  for (const member of group.members) {
    const mine = member.partitions.filter((tp) => tp.topic === topic);
    if (mine.length === 0) empty.push(member.memberId);
    for (const tp of mine) owned.add(tp.partition);
  }
  if (empty.sort()[0] !== memberId) return [];
  return [...Array(partitionCount).keys()].filter((p) => !owned.has(p));
}

/** What {@linkcode StrandedPartitions} needs of the consumer. */
export interface StrandedConsumer {
  /** Describes the group. */
  describeConsumerGroup(group: string, timeoutMs?: number): Promise<ConsumerGroupDescription>;
  /** This member's id. */
  memberId(): string;
  /** Leaves the group and joins it again. */
  rejoin(topics: readonly string[]): void;
}

/** Watches for partitions a stable group gives to nobody, and rejoins (see the module). */
export class StrandedPartitions {
  readonly #consumer: StrandedConsumer;
  readonly #group: string;
  readonly #topic: string;
  readonly #partitionCount: number;
  readonly #afterMs: number;
  #checking = false;
  #lastCheck = 0;
  /** The partitions this process held at the last tick. */
  #held = 0;
  /** Since when the group was seen stranded (0: not). */
  #since = 0;
  /** No look at the group before this time (ms since the epoch). */
  #holdUntil = 0;

  constructor(
    consumer: StrandedConsumer,
    options: { group: string; topic: string; partitionCount: number; failoverMs: number },
  ) {
    this.#consumer = consumer;
    this.#group = options.group;
    this.#topic = options.topic;
    this.#partitionCount = options.partitionCount;
    this.#afterMs = options.failoverMs + STRANDED_AFTER_EXTRA_MS;
  }

  /**
   * Called from the run's loop with how many partitions this process holds; looks at the group
   * in the background while it holds none (never more than one look at a time).
   */
  tick(assigned: number): void {
    this.#held = assigned;
    if (assigned > 0) {
      this.#since = 0;
      return;
    }
    if (this.#checking || Date.now() < this.#holdUntil) return;
    if (Date.now() - this.#lastCheck < STRANDED_CHECK_INTERVAL_MS) return;
    this.#checking = true;
    this.#lastCheck = Date.now();
    this.#check().finally(() => this.#checking = false);
  }

  /**
   * Told of a client error: one saying the broker may be away (a connection failed, all
   * brokers down) holds the looks at the group off for {@linkcode STRANDED_HOLD_OFF_MS} from
   * now, and the time seen stranded starts again; others change nothing.
   */
  noteError(error: KafkaError): void {
    if (!BROKER_AWAY.has(error.code)) return;
    this.#holdUntil = Date.now() + STRANDED_HOLD_OFF_MS;
    this.#since = 0;
  }

  async #check(): Promise<void> {
    let stranded: number[];
    try {
      const group = await this.#consumer.describeConsumerGroup(this.#group, 5000);
      const me = this.#consumer.memberId();
      stranded = strandedPartitions(group, this.#topic, this.#partitionCount, me);
    } catch (error) {
      logger.debug("Could not describe group {group}: {error}", {
        group: this.#group,
        error: errorText(error),
      });
      return;
    }
    if (stranded.length === 0) {
      this.#since = 0;
      return;
    }
    if (this.#since === 0) this.#since = Date.now();
    const seconds = Math.round((Date.now() - this.#since) / 1000);
    if (Date.now() - this.#since < this.#afterMs) return;
    this.#since = 0;
    // The group was described while this process held nothing; it may have been given
    // partitions since (the answer is older than the assignment): then it is not stranded.
    if (this.#held > 0) return;
    logger.info(
      "Group {group} has given partitions {names} of {topic} to no member for {seconds} s (a " +
        "member restarted between the rounds of a rebalance): leaving and joining again so " +
        "that it hands them out.",
      { group: this.#group, names: stranded.join(", "), topic: this.#topic, seconds },
    );
    try {
      this.#consumer.rejoin([this.#topic]);
    } catch (error) {
      logger.warn("Could not rejoin group {group}: {error}", {
        group: this.#group,
        error: errorText(error),
      });
    }
  }
}
