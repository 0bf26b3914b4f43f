/**
 * Topics made ready to use: created through the {@linkcode Admin} client, then waited for until
 * every partition has a leader (a producer or consumer started before that gets errors), as
 * `ferry topic create` and `ferry upload --create-topic` need.
 *
 * @module
 */

import type { Admin, TopicMetadata } from "./admin.ts";
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
 * Waits until `topic` exists with every partition led (and, when given, `partitions` of them).
 *
 * @param admin The admin client.
 * @param topic The topic.
 * @param options How many partitions to expect; how long to wait (default 30 000 ms).
 * @returns The topic's metadata.
 * @throws {Error} naming the topic when it is not ready in time.
 */
export async function waitForLeaders(
  admin: Admin,
  topic: string,
  options: { partitions?: number; timeoutMs?: number } = {},
): Promise<TopicMetadata> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const metadata = await admin.metadata({
      topics: [topic],
      timeoutMs: Math.max(1000, Math.min(5_000, deadline - Date.now())),
    });
    const found = metadata.topics[0];
    const ready = found !== undefined && found.error === ErrorCode.NO_ERROR &&
      found.partitions.length > 0 &&
      (options.partitions === undefined || found.partitions.length === options.partitions) &&
      found.partitions.every((p) => p.leader >= 0);
    if (ready) return found;
    if (Date.now() >= deadline) {
      throw new Error(
        `Topic ${JSON.stringify(topic)} was created but not every partition has a leader after ` +
          `${Math.round(timeoutMs / 1000)} s; see the broker's log.`,
      );
    }
    await new Promise((wake) => setTimeout(wake, 100));
  }
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
  const found = await waitForLeaders(admin, spec.topic, {
    partitions: created ? spec.partitions : undefined,
    timeoutMs: options.timeoutMs,
  });
  return { created, partitions: found.partitions.length };
}
