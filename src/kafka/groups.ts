/**
 * Consumer group descriptions: the group's state and each member's assigned partitions, as
 * librdkafka's DescribeConsumerGroups admin call returns them. The request itself is
 * {@linkcode KafkaClient}'s (so that an admin client and a consumer can both make it); this
 * module holds the types and reads the result.
 *
 * @module
 */

import type { RdKafka } from "./ffi.ts";
import { readCString } from "./ffi.ts";
import { readPartitionList, type TopicPartition } from "./partitions.ts";

/**
 * A consumer group's state, as the group coordinator reports it. `PreparingRebalance` and
 * `CompletingRebalance` are the two halves of a rebalance; `Stable` means every member has its
 * assignment; `Empty` means the group has committed offsets but no members.
 */
export type ConsumerGroupState =
  | "Unknown"
  | "PreparingRebalance"
  | "CompletingRebalance"
  | "Stable"
  | "Dead"
  | "Empty";

/** `rd_kafka_consumer_group_state_t`, by value. */
const GROUP_STATES: readonly ConsumerGroupState[] = [
  "Unknown", // RD_KAFKA_CONSUMER_GROUP_STATE_UNKNOWN = 0
  "PreparingRebalance", // RD_KAFKA_CONSUMER_GROUP_STATE_PREPARING_REBALANCE = 1
  "CompletingRebalance", // RD_KAFKA_CONSUMER_GROUP_STATE_COMPLETING_REBALANCE = 2
  "Stable", // RD_KAFKA_CONSUMER_GROUP_STATE_STABLE = 3
  "Dead", // RD_KAFKA_CONSUMER_GROUP_STATE_DEAD = 4
  "Empty", // RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY = 5
];

/** `RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS`, for `rd_kafka_AdminOptions_new`. */
export const ADMIN_OP_DESCRIBECONSUMERGROUPS = 13;

/** A member of a consumer group. */
export interface GroupMember {
  /** The member id the coordinator gave it (librdkafka's `rd_kafka_memberid`). */
  memberId: string;
  /** Its `client.id`. */
  clientId: string;
  /** The host it connects from, such as `/127.0.0.1`. */
  host: string;
  /**
   * The partitions the group's last assignment gave it. During a cooperative rebalance the
   * partitions it is giving up are no longer listed.
   */
  partitions: TopicPartition[];
}

/** A consumer group, as its coordinator describes it. */
export interface ConsumerGroupDescription {
  /** The group id. */
  groupId: string;
  /** The group's state. */
  state: ConsumerGroupState;
  /** The members with their assignments (none for an `Empty` or `Dead` group). */
  members: GroupMember[];
}

/**
 * Reads the one group of a DescribeConsumerGroups result event.
 *
 * @returns the description, or the group's own error (code and message) when the coordinator
 *   could not describe it.
 */
export function readGroupDescription(
  lib: RdKafka,
  result: Deno.PointerObject,
): ConsumerGroupDescription | { code: number; message: string } {
  const count = new BigUint64Array(1);
  const array = lib.rd_kafka_DescribeConsumerGroups_result_groups(result, count);
  if (array === null || count[0] === 0n) {
    return { code: -1, message: "the result held no group" };
  }
  // const rd_kafka_ConsumerGroupDescription_t **: its first (and only) element.
  const group = new Deno.UnsafePointerView(array).getPointer();
  if (group === null) return { code: -1, message: "the result held no group" };
  const error = lib.rd_kafka_ConsumerGroupDescription_error(group);
  if (error !== null) {
    return {
      code: lib.rd_kafka_error_code(error),
      message: readCString(lib.rd_kafka_error_string(error)) ?? "unknown error",
    };
  }
  const members: GroupMember[] = [];
  const memberCount = Number(lib.rd_kafka_ConsumerGroupDescription_member_count(group));
  for (let i = 0; i < memberCount; i++) {
    const member = lib.rd_kafka_ConsumerGroupDescription_member(group, BigInt(i));
    if (member === null) continue;
    const assignment = lib.rd_kafka_MemberDescription_assignment(member);
    const partitions = assignment === null
      ? []
      : readPartitionList(lib.rd_kafka_MemberAssignment_partitions(assignment));
    members.push({
      memberId: readCString(lib.rd_kafka_MemberDescription_consumer_id(member)) ?? "",
      clientId: readCString(lib.rd_kafka_MemberDescription_client_id(member)) ?? "",
      host: readCString(lib.rd_kafka_MemberDescription_host(member)) ?? "",
      partitions: partitions.map(({ topic, partition }) => ({ topic, partition })),
    });
  }
  return {
    groupId: readCString(lib.rd_kafka_ConsumerGroupDescription_group_id(group)) ?? "",
    state: GROUP_STATES[lib.rd_kafka_ConsumerGroupDescription_state(group)] ?? "Unknown",
    members,
  };
}
