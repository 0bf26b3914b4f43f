/**
 * A consumer's assignment and the answers to its rebalance events: librdkafka hands a rebalance
 * to the application, which must assign or unassign the partitions itself (incrementally under
 * the cooperative protocol, the whole assignment under the eager one); partitions just assigned
 * start unpaused; the application's handler is told every change, before librdkafka lets go of
 * partitions taken away. Apart from the consumer because the order of these steps is what keeps
 * a commit in a revoke handler valid and a paused partition from staying paused for good.
 *
 * @module
 */

import { check, ErrorCode, KafkaError, kafkaError, sentence, takeErrorObject } from "./errors.ts";
import { type RdKafka, readCString } from "./ffi.ts";
import {
  partitionKey,
  readPartitionList,
  type TopicPartition,
  type TopicPartitionOffset,
} from "./partitions.ts";

/** What a rebalance did to this consumer's assignment. */
export type RebalanceKind = "assigned" | "revoked" | "lost";

/** A change of this consumer's assignment, told to `ConsumerOptions.onRebalance`. */
export interface RebalanceEvent {
  /**
   * `assigned`: the partitions are now this consumer's. `revoked`: they are being taken away
   * gracefully; offsets may still be committed while the handler runs. `lost`: they were
   * taken away without notice (session timeout, fenced); committing them would be wrong.
   */
  kind: RebalanceKind;
  /** The partitions concerned. In an eager rebalance, the whole assignment. */
  partitions: TopicPartition[];
  /** The group's rebalance protocol. */
  protocol: "EAGER" | "COOPERATIVE";
}

/** What {@linkcode Rebalances} answers with, and tells. */
export interface RebalancesOptions {
  /** The consumer's librdkafka. */
  lib: RdKafka;
  /** The consumer's handle. */
  handle: Deno.PointerObject;
  /** Told what went wrong while answering (and a handler's failure). */
  reportError: (error: KafkaError) => void;
  /** Holds the handler told every change (`ConsumerOptions`), read at each event. */
  handlers: { onRebalance?: (event: RebalanceEvent) => void | Promise<void> };
}

/** A consumer's assignment, kept by answering its rebalance events (see the module). */
export class Rebalances {
  readonly #o: RebalancesOptions;
  readonly #lib: RdKafka;
  readonly #handle: Deno.PointerObject;
  readonly #assigned = new Map<string, TopicPartition>();
  #rebalanced = false;

  /** Answers the rebalances of one consumer. */
  constructor(options: RebalancesOptions) {
    this.#o = options;
    this.#lib = options.lib;
    this.#handle = options.handle;
  }

  /** Whether a rebalance event came (see `first_assignment_guard.ts`). */
  get rebalanced(): boolean {
    return this.#rebalanced;
  }

  /** The partitions assigned now. */
  assignment(): TopicPartition[] {
    return [...this.#assigned.values()];
  }

  /** The partitions were assigned by hand, outside any group rebalance: they are the assignment. */
  assignedByHand(partitions: readonly TopicPartitionOffset[]): void {
    this.#assigned.clear();
    for (const tp of partitions) this.#assigned.set(partitionKey(tp), tp);
  }

  /** The consumer closed: nothing is assigned. */
  clear(): void {
    this.#assigned.clear();
  }

  /**
   * Answers a rebalance event (the caller destroys it): assigns or unassigns its partitions,
   * incrementally under the cooperative protocol, and tells the handler (before librdkafka
   * lets go of partitions taken away, so that it may commit).
   */
  async answer(event: Deno.PointerObject): Promise<void> {
    this.#rebalanced = true;
    const code = this.#lib.rd_kafka_event_error(event);
    const list = this.#lib.rd_kafka_event_topic_partition_list(event);
    const partitions = readPartitionList(list).map(({ topic, partition }) => ({
      topic,
      partition,
    }));
    const protocol = readCString(this.#lib.rd_kafka_rebalance_protocol(this.#handle)) ===
        "COOPERATIVE"
      ? "COOPERATIVE"
      : "EAGER";
    if (code === ErrorCode.ASSIGN_PARTITIONS) {
      if (protocol === "COOPERATIVE") {
        const error = takeErrorObject(
          this.#lib.rd_kafka_incremental_assign(this.#handle, list),
          "Incremental assign failed",
        );
        if (error) this.#o.reportError(error);
      } else {
        check(this.#lib.rd_kafka_assign(this.#handle, list), "Assign failed");
        this.#assigned.clear();
      }
      this.#unpause(list, partitions);
      for (const tp of partitions) this.#assigned.set(partitionKey(tp), tp);
      await this.#notify({ kind: "assigned", partitions, protocol });
      return;
    }
    const lost = this.#lib.rd_kafka_assignment_lost(this.#handle) !== 0;
    await this.#notify({ kind: lost ? "lost" : "revoked", partitions, protocol });
    if (protocol === "COOPERATIVE") {
      const error = takeErrorObject(
        this.#lib.rd_kafka_incremental_unassign(this.#handle, list),
        "Incremental unassign failed",
      );
      if (error) this.#o.reportError(error);
      for (const tp of partitions) this.#assigned.delete(partitionKey(tp));
    } else {
      check(this.#lib.rd_kafka_assign(this.#handle, null), "Unassign failed");
      this.#assigned.clear();
    }
  }

  /**
   * Partitions just assigned start unpaused, as with Kafka's Java consumer. librdkafka keeps an
   * application's pause of a partition through its revocation and a later assignment (it clears
   * only its own pause; 2.0.2 and later): a partition paused for backpressure, taken away and
   * given back stayed paused for good, its messages never read while the lag showed none (it
   * had no position). A handler that wants them paused pauses them again.
   */
  #unpause(list: Deno.PointerValue, partitions: readonly TopicPartition[]): void {
    if (partitions.length === 0) return;
    const code = this.#lib.rd_kafka_resume_partitions(this.#handle, list);
    if (code !== ErrorCode.NO_ERROR) {
      this.#o.reportError(
        kafkaError(code, `Could not resume ${partitions.length} partition(s) just assigned`),
      );
    }
  }

  async #notify(event: RebalanceEvent): Promise<void> {
    if (!this.#o.handlers.onRebalance) return;
    try {
      await this.#o.handlers.onRebalance(event);
    } catch (error) {
      // The rebalance must still be answered; the handler's failure is reported, not lost.
      this.#o.reportError(
        new KafkaError(
          ErrorCode.FAIL,
          "_FAIL",
          sentence(
            `The rebalance handler failed for "${event.kind}": ${
              error instanceof Error ? error.message : String(error)
            }`,
          ),
          { cause: error, retriable: false },
        ),
      );
    }
  }
}
