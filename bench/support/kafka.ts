/**
 * Kafka helpers for benchmarks, through Ferry's own binding (`src/kafka/`): a broker check
 * that says how to start it, fresh topics that are ready to use, deletion, and message counts
 * from the partitions' watermarks.
 *
 * @module
 */

import { Admin, Consumer } from "../../src/kafka/mod.ts";

/** The broker address: `FERRY_TEST_BOOTSTRAP`, else the dev broker's 127.0.0.1:19092. */
export function defaultBootstrap(): string {
  return Deno.env.get("FERRY_TEST_BOOTSTRAP") ?? "127.0.0.1:19092";
}

/** A topic name no other run uses: `<prefix>-<time>-<random>`. */
export function uniqueTopicName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Fails with the command that starts the dev broker when nothing answers at `bootstrap`. */
export async function requireBroker(bootstrap: string): Promise<void> {
  await using admin = new Admin({ "bootstrap.servers": bootstrap });
  try {
    await admin.metadata({ timeoutMs: 10_000 });
  } catch (error) {
    throw new Error(
      `No Kafka broker answers at ${bootstrap}. Start the dev broker with ` +
        "`bash scripts/kafka/broker.sh start`, or point --bootstrap at another one.",
      { cause: error },
    );
  }
}

/**
 * Creates topics and waits until every partition has a leader.
 *
 * @param config topic configuration, for example `{ "retention.ms": "-1" }`.
 */
export async function createTopics(
  bootstrap: string,
  topics: readonly string[],
  partitions: number,
  config: Record<string, string> = {},
): Promise<void> {
  await using admin = new Admin({ "bootstrap.servers": bootstrap });
  await admin.createTopics(topics.map((topic) => ({ topic, partitions, config })));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const metadata = await admin.metadata({ topics, timeoutMs: 5_000 });
    const ready = metadata.topics.every((t) =>
      t.partitions.length === partitions && t.partitions.every((p) => p.leader >= 0)
    );
    if (ready) return;
    if (Date.now() > deadline) {
      throw new Error(`Topics ${topics.join(", ")} did not get partition leaders in 30 s.`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Deletes topics (missing ones are fine). */
export async function deleteTopics(bootstrap: string, topics: readonly string[]): Promise<void> {
  if (topics.length === 0) return;
  await using admin = new Admin({ "bootstrap.servers": bootstrap });
  await admin.deleteTopics(topics);
}

/** The number of messages in partitions `0..partitions-1` of a topic (high - low watermark). */
export async function countMessages(
  bootstrap: string,
  topic: string,
  partitions: number,
): Promise<number> {
  await using consumer = new Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": uniqueTopicName("ferry-bench-count"),
  });
  let total = 0;
  for (let partition = 0; partition < partitions; partition++) {
    const { low, high } = await consumer.queryWatermarks(topic, partition);
    total += high - low;
  }
  return total;
}
