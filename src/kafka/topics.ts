/**
 * Topics made ready to use: created through the {@linkcode Admin} client, then waited for until
 * every partition has a leader (a producer or consumer started before that gets errors), as
 * `ferry topic create` and `ferry upload --create-topic` need.
 *
 * @module
 */

import type { Admin } from "./admin.ts";
import { ErrorCode, KafkaError } from "./errors.ts";

/** A topic to create; partitions and replication factor default to the broker's defaults. */
export interface TopicSpec {
  /** The topic name. */
  topic: string;
  /** The number of partitions; default the broker's `num.partitions`. */
  partitions?: number;
  /** The replication factor; default the broker's `default.replication.factor`. */
  replicationFactor?: number;
  /** Topic configuration, such as `{ "retention.ms": "-1" }`. */
  config?: Record<string, string>;
}

/** What {@linkcode createTopic} did. */
export interface CreatedTopic {
  /** False when the topic existed already (only with `ifNotExists`). */
  created: boolean;
  /** Its number of partitions, each with a leader. */
  partitions: number;
}

/**
 * Creates a topic and waits until every partition has a leader.
 *
 * @example
 * ```ts ignore
 * import { Admin } from "./admin.ts";
 * import { createTopic } from "./topics.ts";
 * await using admin = new Admin({ "bootstrap.servers": "127.0.0.1:19092" });
 * const { created, partitions } = await createTopic(admin, { topic: "raw-data", partitions: 4 });
 * ```
 *
 * @param admin The admin client.
 * @param spec The topic, its partitions, replication factor and configuration.
 * @param options `ifNotExists`: a topic that exists already is fine (not created, not changed).
 * @returns Whether it was created, and its partition count.
 * @throws {KafkaError} `TOPIC_ALREADY_EXISTS` (without `ifNotExists`), or the broker's refusal.
 */
export async function createTopic(
  admin: Admin,
  spec: TopicSpec,
  options: { ifNotExists?: boolean; timeoutMs?: number } = {},
): Promise<CreatedTopic> {
  let created = true;
  try {
    await admin.createTopics([{
      topic: spec.topic,
      partitions: spec.partitions ?? -1,
      replicationFactor: spec.replicationFactor ?? -1,
      config: spec.config,
    }], { timeoutMs: options.timeoutMs });
  } catch (error) {
    const exists = error instanceof KafkaError && error.code === ErrorCode.TOPIC_ALREADY_EXISTS;
    if (!exists || !options.ifNotExists) throw error;
    created = false;
  }
  const found = await admin.waitForLeaders(spec.topic, {
    partitions: created ? spec.partitions : undefined,
    timeoutMs: options.timeoutMs,
  });
  return { created, partitions: found.partitions.length };
}
