/**
 * The consumer group protocol a processor's consumer uses: `classic` (the JoinGroup/SyncGroup
 * protocol, with Ferry's cooperative-sticky assignment) or `consumer` (KIP-848: the broker
 * assigns partitions and members learn of changes with their heartbeats; Kafka 4.0+ brokers,
 * librdkafka 2.10+). Chosen with librdkafka's own `group.protocol` property (`--group-protocol`,
 * `-X group.protocol=...` or the config file's `[consumer]` section).
 *
 * With `consumer` the broker owns the session timeout, the heartbeat interval and the assignor:
 * librdkafka rejects `session.timeout.ms`, `heartbeat.interval.ms` and
 * `partition.assignment.strategy` (the broker's `group.consumer.session.timeout.ms`,
 * `group.consumer.heartbeat.interval.ms` and `group.consumer.assignors` take their place). Code
 * that sets those for the classic protocol consults {@linkcode groupProtocolOf} first.
 *
 * @module
 */

import { bootstrapServers, type KafkaConfig, KafkaConfigError } from "./config.ts";
import { hasLibraryFeature, LIBRARY_FEATURES } from "./library_features.ts";
import { librdkafkaVersion } from "./ffi.ts";
import { ApiKey, ApiVersionsError, brokerApiVersions } from "./api_versions.ts";
import { getLogger } from "@logtape/logtape";

/** A consumer group protocol. */
export type GroupProtocol = "classic" | "consumer";

/** Every {@linkcode GroupProtocol}, the default first. */
export const GROUP_PROTOCOLS: readonly GroupProtocol[] = ["classic", "consumer"];

/** Consumer properties only the classic protocol accepts (librdkafka rejects them otherwise). */
export const CLASSIC_ONLY_PROPERTIES: readonly string[] = [
  "session.timeout.ms",
  "heartbeat.interval.ms",
  "partition.assignment.strategy",
];

/**
 * The group protocol a consumer configuration asks for: its `group.protocol` (any case), else
 * `classic`. A value that is neither is returned as `classic` here and refused by
 * {@linkcode checkGroupProtocol}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { groupProtocolOf } from "./group_protocol.ts";
 *
 * assert.equal(groupProtocolOf({}), "classic");
 * assert.equal(groupProtocolOf({ "group.protocol": "consumer" }), "consumer");
 * ```
 */
export function groupProtocolOf(config: KafkaConfig): GroupProtocol {
  return String(config["group.protocol"] ?? "").toLowerCase() === "consumer"
    ? "consumer"
    : "classic";
}

/**
 * Checks the group protocol of a consumer configuration against the loaded librdkafka and the
 * other properties, and returns the configuration a processor's consumer starts from: for
 * `classic`, `group.protocol` left out (librdkafka before 2.4 does not know the property) and
 * `partition.assignment.strategy` defaulting to `cooperative-sticky`; for `consumer`, as it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { groupProtocolConfig } from "./group_protocol.ts";
 *
 * assert.deepEqual(groupProtocolConfig({ "group.protocol": "classic", "group.id": "g" }), {
 *   "partition.assignment.strategy": "cooperative-sticky",
 *   "group.id": "g",
 * });
 * ```
 *
 * @throws {KafkaConfigError} for an unknown protocol, `consumer` with a librdkafka older than
 *   2.10, or `consumer` with a property only the classic protocol accepts.
 */
export function groupProtocolConfig(config: KafkaConfig): KafkaConfig {
  checkGroupProtocol(config);
  if (groupProtocolOf(config) === "consumer") return { ...config };
  const { "group.protocol": _, ...rest } = config;
  return { "partition.assignment.strategy": "cooperative-sticky", ...rest };
}

/**
 * Throws when the configuration's `group.protocol` cannot be used here (see
 * {@linkcode groupProtocolConfig}).
 *
 * @throws {KafkaConfigError} naming the problem and what to do.
 */
export function checkGroupProtocol(config: KafkaConfig): void {
  const given = config["group.protocol"];
  if (given === undefined) return;
  const value = String(given).toLowerCase();
  if (!(GROUP_PROTOCOLS as readonly string[]).includes(value)) {
    throw new KafkaConfigError(
      "group.protocol",
      `${JSON.stringify(String(given))} is not a group protocol: use "classic" or "consumer"`,
    );
  }
  if (value !== "consumer") return;
  if (!hasLibraryFeature("consumerGroupProtocol")) {
    throw new KafkaConfigError(
      "group.protocol",
      `"consumer" (KIP-848) needs librdkafka ${LIBRARY_FEATURES.consumerGroupProtocol} or ` +
        `newer, and this is ${librdkafkaVersion()}: point FERRY_RDKAFKA_PATH at a newer ` +
        `librdkafka, or use "classic"`,
    );
  }
  const classicOnly = CLASSIC_ONLY_PROPERTIES.filter((name) => config[name] !== undefined);
  if (classicOnly.length > 0) {
    throw new KafkaConfigError(
      classicOnly[0],
      `with group.protocol "consumer" the broker sets the session timeout, the heartbeat ` +
        `interval and the assignor (group.consumer.* broker settings), so ` +
        `${classicOnly.map((p) => JSON.stringify(p)).join(", ")} cannot be set: leave ` +
        `${classicOnly.length === 1 ? "it" : "them"} out, or use group.protocol "classic"`,
    );
  }
}

/**
 * With `group.protocol` `consumer`, checks that the broker serves KIP-848's consumer group
 * heartbeat (Kafka 4.0+; librdkafka would otherwise retry quietly forever, never joining).
 * Asks the first bootstrap server that answers (see `api_versions.ts`); a broker that cannot
 * be asked (TLS, unreachable) is left to librdkafka.
 *
 * @throws {KafkaConfigError} when the broker does not serve it.
 */
export async function checkBrokerGroupProtocol(config: KafkaConfig): Promise<void> {
  if (groupProtocolOf(config) !== "consumer") return;
  let apis;
  try {
    apis = await brokerApiVersions(config);
  } catch (error) {
    if (!(error instanceof ApiVersionsError || error instanceof Deno.errors.ConnectionRefused)) {
      throw error;
    }
    getLogger(["ferry", "kafka"]).debug(
      "Could not ask the broker whether it serves the consumer group protocol: {error}",
      { error: error.message },
    );
    return;
  }
  // Version 1 is the one librdkafka speaks (Kafka 3.x brokers serve only an early-access 0).
  const heartbeat = apis?.get(ApiKey.CONSUMER_GROUP_HEARTBEAT);
  if (apis !== undefined && (heartbeat === undefined || heartbeat.max < 1)) {
    throw new KafkaConfigError(
      "group.protocol",
      `"consumer" (KIP-848) needs a broker that serves it (Kafka 4.0 or newer), and the ` +
        `broker at ${JSON.stringify(bootstrapServers(config) ?? "")} does not: ` +
        `use "classic" (the default), or upgrade the broker`,
    );
  }
}
