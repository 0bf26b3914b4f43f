/**
 * librdkafka configuration, as the binding sees it: any property librdkafka knows, checked by
 * librdkafka itself (at once, naming the property); which properties hold secrets; which one
 * names the brokers; and the `rd_kafka_conf_t` a client is created from, with the properties
 * the binding always sets. Where a user's configuration comes from (config file, environment,
 * flags) is `src/config/resolve.ts`'s business.
 *
 * @module
 */

import { sentence } from "./errors.ts";
import { cString, errorBuffer, errorBufferText, rdkafka } from "./ffi.ts";
import { hasLibraryFeature } from "./library_features.ts";

/** librdkafka properties by name, such as `{ "bootstrap.servers": "127.0.0.1:9092" }`. */
export type KafkaConfig = Record<string, string | number | boolean>;

/** Which kind of Kafka client a configuration is for. */
export type ClientRole = "producer" | "consumer";

/**
 * Properties only a consumer reads (librdkafka's CONFIGURATION.md marks them "C"), and
 * prefixes of such families.
 */
const CONSUMER_ONLY = new Set([
  "group.id",
  "group.instance.id",
  "group.protocol",
  "group.protocol.type",
  "group.remote.assignor",
  "partition.assignment.strategy",
  "session.timeout.ms",
  "heartbeat.interval.ms",
  "max.poll.interval.ms",
  "coordinator.query.interval.ms",
  "auto.offset.reset",
  "enable.auto.commit",
  "auto.commit.enable",
  "auto.commit.interval.ms",
  "enable.auto.offset.store",
  "enable.partition.eof",
  "queued.min.messages",
  "queued.max.messages.kbytes",
  "max.partition.fetch.bytes",
  "check.crcs",
  "isolation.level",
  "consume.callback.max.messages",
  "consume_cb",
  "rebalance_cb",
  "offset_commit_cb",
]);
const CONSUMER_ONLY_PREFIXES = ["fetch.", "offset.store."];

/** Properties only a producer reads ("P" in librdkafka's CONFIGURATION.md), and prefixes. */
const PRODUCER_ONLY = new Set([
  "acks",
  "request.required.acks",
  "linger.ms",
  "queue.buffering.max.ms",
  "queue.buffering.max.messages",
  "queue.buffering.max.kbytes",
  "queue.buffering.backpressure.threshold",
  "batch.num.messages",
  "batch.size",
  "enable.idempotence",
  "enable.gapless.guarantee",
  "transactional.id",
  "transaction.timeout.ms",
  "message.timeout.ms",
  "delivery.timeout.ms",
  "request.timeout.ms",
  "message.send.max.retries",
  "retries",
  "retry.backoff.ms",
  "partitioner",
  "partitioner_cb",
  "sticky.partitioning.linger.ms",
  "delivery.report.only.error",
  "dr_cb",
  "dr_msg_cb",
  "queuing.strategy",
  "produce.offset.report",
  "msg_order_cmp",
]);
const PRODUCER_ONLY_PREFIXES = ["compression."];

function consumerOnly(name: string): boolean {
  return CONSUMER_ONLY.has(name) || CONSUMER_ONLY_PREFIXES.some((p) => name.startsWith(p));
}

function producerOnly(name: string): boolean {
  // Every client reads retry.backoff.ms from librdkafka 2.3.0 on.
  if (name === "retry.backoff.ms") return !hasLibraryFeature("commonRetryBackoff");
  return PRODUCER_ONLY.has(name) || PRODUCER_ONLY_PREFIXES.some((p) => name.startsWith(p));
}

/**
 * The part of a configuration a client of one role reads: consumer-only properties (group,
 * session, offsets, fetching) dropped for a producer or an admin client, producer-only ones
 * (acks, batching, compression, idempotence, transactions, delivery timeouts) dropped for a
 * consumer or an admin client; properties for both kept. Ferry's own clients built from a
 * user's configuration for another role (a record processor's dead-letter producer, the admin
 * client that checks the topic) take their configuration through this, so that librdkafka does
 * not warn (`CONFWARN`) about properties it ignores, and an admin client does not start an
 * idempotent or transactional producer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { configForRole } from "./config.ts";
 *
 * const consumer = {
 *   "bootstrap.servers": "h:9092",
 *   "session.timeout.ms": "6000",
 *   "fetch.wait.max.ms": 100,
 *   "linger.ms": "5",
 * };
 * assert.deepEqual(configForRole(consumer, "producer"), {
 *   "bootstrap.servers": "h:9092",
 *   "linger.ms": "5",
 * });
 * assert.deepEqual(configForRole(consumer, "admin"), { "bootstrap.servers": "h:9092" });
 * ```
 *
 * @param config The configuration; not changed.
 * @param role The client it is for: `admin` drops the properties of both other roles.
 * @returns A new configuration with only the properties `role` reads.
 */
export function configForRole(config: KafkaConfig, role: ClientRole | "admin"): KafkaConfig {
  return Object.fromEntries(
    Object.entries(config).filter(([name]) =>
      !(role !== "consumer" && consumerOnly(name)) && !(role !== "producer" && producerOnly(name))
    ),
  );
}

/**
 * The brokers a configuration names: `bootstrap.servers`, or its older alias
 * `metadata.broker.list`; `undefined` when it names neither.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bootstrapServers } from "./config.ts";
 *
 * assert.equal(bootstrapServers({ "metadata.broker.list": "h:9092" }), "h:9092");
 * assert.equal(bootstrapServers({ "client.id": "x" }), undefined);
 * ```
 */
export function bootstrapServers(config: KafkaConfig): string | undefined {
  const value = config["bootstrap.servers"] ?? config["metadata.broker.list"];
  return value === undefined ? undefined : String(value);
}

/** Raised when librdkafka rejects a configuration property or its value. */
export class KafkaConfigError extends Error {
  /** The property librdkafka rejected. */
  readonly property: string;

  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { KafkaConfigError } from "./config.ts";
   * const error = new KafkaConfigError("bootstrap.server", "No such configuration property");
   * assert.equal(
   *   error.message,
   *   'Kafka configuration property "bootstrap.server" was rejected: No such configuration property.',
   * );
   * ```
   */
  constructor(property: string, reason: string) {
    super(sentence(`Kafka configuration property "${property}" was rejected: ${reason}`));
    this.name = "KafkaConfigError";
    this.property = property;
  }
}

const SECRET_PROPERTY = /(password|secret|sasl\.jaas|private\.key|keystore|token)/i;

/**
 * Whether a property holds a secret that must never reach a log line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSecretProperty } from "../../mod.ts";
 *
 * assert.equal(isSecretProperty("sasl.password"), true);
 * assert.equal(isSecretProperty("bootstrap.servers"), false);
 * ```
 */
export function isSecretProperty(name: string): boolean {
  return SECRET_PROPERTY.test(name);
}

/**
 * The secret values in a configuration, for redacting log lines and error messages.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { secretValues } from "../../mod.ts";
 *
 * const config = { "bootstrap.servers": "k:9092", "sasl.password": "hunter2" };
 * assert.deepEqual(secretValues(config), ["hunter2"]);
 * ```
 */
export function secretValues(config: KafkaConfig): string[] {
  return Object.entries(config)
    .filter(([name, value]) => isSecretProperty(name) && String(value).length > 0)
    .map(([, value]) => String(value));
}

/**
 * Replaces every secret value in `text` with `***`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redact } from "../../mod.ts";
 *
 * assert.equal(redact("login hunter2 failed", ["hunter2"]), "login *** failed");
 * ```
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join("***");
  return out;
}

/**
 * Builds an `rd_kafka_conf_t` from `config` with `events` enabled. The caller owns the
 * returned pointer until it hands it to `rd_kafka_new`.
 *
 * @throws {KafkaConfigError} naming the first property librdkafka rejects.
 */
export function buildConf(config: KafkaConfig, events: number): Deno.PointerObject {
  const lib = rdkafka();
  const conf = lib.rd_kafka_conf_new();
  if (conf === null) throw new Error("librdkafka could not allocate a configuration object.");
  // Hostname verification of the broker's certificate, explicit (librdkafka's default from 2.0,
  // none before); a configuration may turn it off with `none`. Log lines arrive as events on the
  // main queue, never as callbacks on librdkafka's threads.
  const all: KafkaConfig = {
    "ssl.endpoint.identification.algorithm": "https",
    ...config,
    "log.queue": true,
  };
  try {
    for (const [name, value] of Object.entries(all)) {
      const errstr = errorBuffer();
      const result = lib.rd_kafka_conf_set(
        conf,
        cString(name),
        cString(String(value)),
        errstr,
        BigInt(errstr.length),
      );
      if (result !== 0) {
        throw new KafkaConfigError(
          name,
          redact(errorBufferText(errstr), secretValues(config)),
        );
      }
    }
    lib.rd_kafka_conf_set_events(conf, events);
    return conf;
  } catch (error) {
    lib.rd_kafka_conf_destroy(conf);
    throw error;
  }
}

/**
 * Checks every property with librdkafka without creating a client, so a bad name or value is
 * reported before anything starts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KafkaConfigError, validateKafkaConfig } from "./config.ts";
 *
 * validateKafkaConfig({ "bootstrap.servers": "127.0.0.1:9092" });
 * assert.throws(() => validateKafkaConfig({ "no.such.property": 1 }), KafkaConfigError);
 * ```
 *
 * @throws {KafkaConfigError} naming the first property librdkafka rejects.
 */
export function validateKafkaConfig(config: KafkaConfig): void {
  rdkafka().rd_kafka_conf_destroy(buildConf(config, 0));
}
