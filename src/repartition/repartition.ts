/**
 * `ferry repartition`'s library: copies the chunk messages of a topic written by OpenMSIStream
 * (a file's chunks spread over every partition) to a topic partitioned by file path (Ferry's
 * layout, `partitionForPath`: every chunk of a file in one partition), byte for byte (key,
 * value and headers as they were), exactly once: each batch of copies and the source offsets
 * it read up to are committed in one Kafka transaction. A crash, a kill or a fenced process
 * commits nothing half: the next start goes on from the last committed transaction.
 *
 * Messages that are not chunks are copied too (to the partition of their key), and counted.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { decodeChunk } from "../chunks/decode.ts";
import {
  Admin,
  type ConsumedMessage,
  Consumer,
  isFencingError,
  KafkaError,
  type RebalanceEvent,
  type TopicPartitionOffset,
  TransactionalProducer,
} from "../kafka/mod.ts";
import { configForRole, type KafkaConfig } from "../kafka/config.ts";
import { errorText } from "../processor/errors.ts";
import { checkOutputTopic } from "../processor/output_topic.ts";
import { partitionForPath } from "../upload/partition.ts";

const logger = getLogger(["ferry", "repartition"]);

/** What {@linkcode repartition} needs. */
export interface RepartitionSettings {
  /** The topic written by OpenMSIStream. */
  from: string;
  /** The topic to write, partitioned by file path; it must exist. */
  to: string;
  /** The consumer group reading `from` (its offsets are committed in the transactions). */
  group: string;
  /** The producer's `transactional.id`: the same in every run, so a restart fences a zombie. */
  transactionalId: string;
  /** librdkafka consumer properties (at least `bootstrap.servers`). */
  consumer: KafkaConfig;
  /** librdkafka producer properties (at least `bootstrap.servers`). */
  producer: KafkaConfig;
  /** Stop once caught up and idle this long (ms); undefined runs until `signal`. */
  exitWhenIdleMs?: number;
  /** Aborting it stops after the transaction in flight. */
  signal?: AbortSignal;
  /** Most messages per transaction (default 5000). */
  maxBatchMessages?: number;
  /** Longest a transaction stays open (ms, default 500). */
  maxBatchMs?: number;
}

/** What a run did. */
export interface RepartitionSummary {
  /** Messages copied (committed). */
  messages: number;
  /** Bytes of values copied (committed). */
  bytes: number;
  /** Messages copied that were not chunk messages. */
  notChunks: number;
  /** Transactions committed. */
  transactions: number;
}

/**
 * The partition of `to` a message goes to: that of its file's relative path (as
 * `ferry upload` chooses), or for a message that is not a chunk, that of its key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { targetPartition } from "./repartition.ts";
 *
 * const p = targetPartition({ value: new Uint8Array([1, 2]), key: null }, 4);
 * assert.equal(p.chunk, false);
 * assert.ok(p.partition >= 0 && p.partition < 4);
 * ```
 */
export function targetPartition(
  message: Pick<ConsumedMessage, "value" | "key">,
  partitions: number,
): { partition: number; chunk: boolean } {
  if (message.value !== null) {
    try {
      const chunk = decodeChunk(message.value, { verifyChunkHash: false });
      const path = chunk.subdir === "" ? chunk.filename : `${chunk.subdir}/${chunk.filename}`;
      return { partition: partitionForPath(path, partitions), chunk: true };
    } catch (error) {
      logger.debug("A message is not a chunk: {error}", { error: errorText(error) });
    }
  }
  const key = message.key === null ? "" : new TextDecoder().decode(message.key);
  return { partition: partitionForPath(key, partitions), chunk: false };
}

/**
 * Copies `from` to `to` (see the module's description) until stopped or idle.
 *
 * @throws {Error} naming the topic when one is missing, or the transactional id when the
 *   producer was fenced or cannot use transactions.
 */
export async function repartition(settings: RepartitionSettings): Promise<RepartitionSummary> {
  const summary: RepartitionSummary = { messages: 0, bytes: 0, notChunks: 0, transactions: 0 };
  let partitions: number;
  {
    await using admin = new Admin(configForRole(settings.consumer, "admin"), {
      onError: () => {},
    });
    await admin.partitionCount(settings.from, 15_000);
    partitions = await checkOutputTopic(admin, settings.to);
  }
  await using producer = new TransactionalProducer({
    "linger.ms": 5,
    // The copies are as large as the messages read (librdkafka's default refuses over 1 MB).
    "message.max.bytes": 64 * 1024 * 1024,
    ...settings.producer,
    "transactional.id": settings.transactionalId,
  });
  try {
    await producer.init();
  } catch (error) {
    throw new Error(
      `Could not start transactions as "${settings.transactionalId}": ${errorText(error)} ` +
        "The broker must support transactions, and the principal may need the WRITE and " +
        "DESCRIBE ACLs on this transactional id.",
      { cause: error },
    );
  }
  const maxMessages = settings.maxBatchMessages ?? 5000;
  const maxMs = settings.maxBatchMs ?? 500;
  /** The open transaction: the next offset to read per partition, messages and bytes in it. */
  let open:
    | { next: Map<number, number>; messages: number; bytes: number; notChunks: number }
    | undefined;
  let openedAt = 0;
  let lost = false;
  let idleCheckedAt = 0;

  const commit = async (consumer: Consumer): Promise<void> => {
    if (!open) return;
    const batch = open;
    const offsets: TopicPartitionOffset[] = [...batch.next].map(([partition, offset]) => ({
      topic: settings.from,
      partition,
      offset,
    }));
    try {
      await producer.sendOffsets(offsets, consumer);
      await producer.commit();
    } catch (error) {
      open = undefined;
      throw stopped(error, settings.transactionalId);
    }
    open = undefined;
    summary.messages += batch.messages;
    summary.bytes += batch.bytes;
    summary.notChunks += batch.notChunks;
    summary.transactions++;
  };

  const consumer: Consumer = new Consumer({
    "auto.offset.reset": "earliest",
    "partition.assignment.strategy": "cooperative-sticky",
    ...settings.consumer,
    "group.id": settings.group,
    "enable.auto.commit": false,
    "enable.auto.offset.store": false,
    "isolation.level": "read_committed",
  }, {
    // A revoke commits what was copied from the partitions first; a loss commits nothing.
    onRebalance: async (event: RebalanceEvent) => {
      if (event.kind === "revoked") await commit(consumer);
      else if (event.kind === "lost" && open) {
        // Its messages were read past: the run stops, and the next start reads them again.
        open = undefined;
        lost = true;
        await producer.abort();
      }
    },
  });
  try {
    consumer.subscribe([settings.from]);
    let lastMessageAt = Date.now();
    while (!settings.signal?.aborted) {
      const batch = await consumer.poll({ maxMessages: 1000, timeoutMs: 100 });
      for (const message of batch) {
        if (!open) {
          producer.begin();
          open = { next: new Map(), messages: 0, bytes: 0, notChunks: 0 };
          openedAt = Date.now();
        }
        const target = targetPartition(message, partitions);
        await producer.send({
          topic: settings.to,
          partition: target.partition,
          key: message.key,
          value: message.value,
          headers: message.headers,
          ...(message.timestamp === null ? {} : { timestamp: message.timestamp }),
        });
        open.next.set(message.partition, message.offset + 1);
        open.messages++;
        open.bytes += message.value?.byteLength ?? 0;
        if (!target.chunk) open.notChunks++;
      }
      if (lost) {
        throw new Error(
          `The group "${settings.group}" took partitions away before their copies were ` +
            "committed; nothing of them is visible. Start again to go on.",
        );
      }
      if (batch.length > 0) lastMessageAt = Date.now();
      if (open && (open.messages >= maxMessages || Date.now() - openedAt >= maxMs)) {
        await commit(consumer);
      }
      if (
        settings.exitWhenIdleMs !== undefined && !open &&
        Date.now() - lastMessageAt >= settings.exitWhenIdleMs &&
        Date.now() - idleCheckedAt >= 1000
      ) {
        idleCheckedAt = Date.now();
        if (await caughtUp(consumer, settings.from)) break;
      }
    }
    await commit(consumer);
  } finally {
    if (open) await producer.abort().catch(() => undefined);
    await consumer.close();
  }
  logger.info(
    "Copied {messages} messages ({notChunks} not chunks) from {from} to {to} in " +
      "{transactions} transactions.",
    { ...summary, from: settings.from, to: settings.to },
  );
  return summary;
}

/** Whether this consumer has read (and committed) everything of its partitions. */
async function caughtUp(consumer: Consumer, topic: string): Promise<boolean> {
  const assigned = consumer.assignment();
  if (assigned.length === 0) return false;
  const committed = await consumer.committed(assigned);
  for (const c of committed) {
    const { low, high } = await consumer.queryWatermarks(topic, c.partition, 5_000);
    if (high > low && c.offset < high) return false;
  }
  return true;
}

function stopped(error: unknown, id: string): Error {
  if (error instanceof KafkaError && isFencingError(error)) {
    return new Error(
      `Another repartitioner with the transactional id "${id}" (or the same group) took ` +
        `over: this one stops; what it had not committed is copied by the other. ${
          errorText(error)
        }`,
      { cause: error },
    );
  }
  return new Error(
    `A transaction failed and was not committed: ${errorText(error)} Nothing of it is ` +
      "visible; start again to go on from the last committed transaction.",
    { cause: error },
  );
}
