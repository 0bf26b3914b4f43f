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

/** librdkafka properties by name, such as `{ "bootstrap.servers": "127.0.0.1:9092" }`. */
export type KafkaConfig = Record<string, string | number | boolean>;

/** Which kind of Kafka client a configuration is for. */
export type ClientRole = "producer" | "consumer";

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
  // Log lines arrive as events on the main queue, never as callbacks on librdkafka's threads.
  const all: KafkaConfig = { ...config, "log.queue": true };
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
