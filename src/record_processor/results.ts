/**
 * A record processor's results on their way to the output topic (`--output-topic`): what
 * `processRecords` returned is produced when a checkpoint covers its batch. At least once: the
 * results are acknowledged before the offset is committed. Exactly once (`--exactly-once`): the
 * results and the offset are committed in one Kafka transaction (consume-transform-produce, the
 * Kafka Streams shape); checkpoints of several partitions take turns, one transaction each.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import {
  type Consumer,
  isFencingError,
  KafkaError,
  type Producer,
  type TopicPartition,
  TransactionalProducer,
} from "../kafka/mod.ts";
import { errorText } from "../processor/errors.ts";
import {
  resultMessage,
  SOURCE_OFFSET_HEADER,
  SOURCE_PARTITION_HEADER,
  SOURCE_TOPIC_HEADER,
  type WireResult,
} from "../processor/results.ts";
import type { ResultsSettings } from "../file_processor/results.ts";
import { openResultsProducer } from "../processor/results_producer.ts";

const logger = getLogger(["ferry", "record-processor"]);

/** The results of one `processRecords` call, with the offset of its first record. */
export interface ResultBatch {
  /** The offset of the batch's first record. */
  offset: number;
  /** What the call returned. */
  results: WireResult[];
}

/**
 * Why a checkpoint with results committed nothing: `fatal`, the producer is unusable (fenced
 * by a newer one, or failed): the run stops; `lost`, the group went on without this member;
 * `failed`, anything else (the checkpoint may be tried again).
 */
export class RecordResultsError extends Error {
  /** See the class's description. */
  readonly kind: "fatal" | "lost" | "failed";

  /** Creates it. */
  constructor(message: string, kind: "fatal" | "lost" | "failed", options?: ErrorOptions) {
    super(message, options);
    this.name = "RecordResultsError";
    this.kind = kind;
  }
}

/**
 * The default `transactional.id` of a record processor: the group and the consumer's
 * `group.instance.id` (static membership), or the host name. Two processes of one group on one
 * host need distinct ids: give `group.instance.id`, or `transactional.id` in `[producer]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordTransactionalId } from "./results.ts";
 * assert.equal(recordTransactionalId("g", { "group.instance.id": "m1" }), "g-m1");
 * ```
 */
export function recordTransactionalId(
  group: string,
  consumer: Record<string, unknown>,
): string {
  const instance = consumer["group.instance.id"];
  return `${group}-${instance === undefined ? Deno.hostname() : String(instance)}`;
}

/** A record processor's results (see the module's description). */
export class RecordResults {
  readonly settings: ResultsSettings;
  readonly #topic: string;
  readonly #producer: Producer;
  readonly #transactional: TransactionalProducer | undefined;
  /** Transactions take turns. */
  #turn: Promise<unknown> = Promise.resolve();

  private constructor(settings: ResultsSettings, topic: string, producer: Producer) {
    this.settings = settings;
    this.#topic = topic;
    this.#producer = producer;
    if (producer instanceof TransactionalProducer) this.#transactional = producer;
  }

  /** Opens the producer (exactly once: registers its transactional id). */
  static async open(
    settings: ResultsSettings,
    topic: string,
    transactionalId: string,
  ): Promise<RecordResults> {
    const { producer, transactionalId: id } = await openResultsProducer(
      settings,
      () => transactionalId,
    );
    if (id !== undefined) {
      logger.info("Results go to {topic} exactly once (transactional.id {id}).", {
        topic: settings.topic,
        id,
      });
    }
    return new RecordResults(settings, topic, producer);
  }

  /**
   * Commits `offset` of `tp` with `batches`' results: at least once, the results are
   * acknowledged and then `commitOffset` runs; exactly once, both in one transaction.
   *
   * @throws {RecordResultsError} when nothing was committed.
   */
  commit(
    tp: TopicPartition,
    offset: number,
    batches: readonly ResultBatch[],
    consumer: Consumer,
    commitOffset: () => Promise<void>,
  ): Promise<void> {
    const run = this.#turn.then(() => this.#commit(tp, offset, batches, consumer, commitOffset));
    this.#turn = run.catch(() => undefined);
    return run;
  }

  async #commit(
    tp: TopicPartition,
    offset: number,
    batches: readonly ResultBatch[],
    consumer: Consumer,
    commitOffset: () => Promise<void>,
  ): Promise<void> {
    const producer = this.#transactional;
    if (!producer) {
      try {
        const deliveries = [];
        for (const message of this.#messages(tp, batches)) {
          const { delivered } = await this.#producer.send(message);
          delivered.catch(() => undefined); // awaited below: not unhandled meanwhile
          deliveries.push(delivered);
        }
        await Promise.all(deliveries);
      } catch (error) {
        throw new RecordResultsError(`Producing results failed: ${errorText(error)}`, "failed", {
          cause: error,
        });
      }
      return await commitOffset();
    }
    try {
      producer.begin();
      for (const message of this.#messages(tp, batches)) await producer.send(message);
      await producer.sendOffsets([{ ...tp, offset }], consumer);
      await producer.commit();
    } catch (error) {
      const fatal = error instanceof KafkaError && error.fatal;
      if (producer.inTransaction && !fatal) {
        await producer.abort().catch((abortError) =>
          logger.debug("Aborting failed: {error}", { error: errorText(abortError) })
        );
      }
      throw new RecordResultsError(
        fatal
          ? (isFencingError(error)
            ? "Another process with the same transactional.id took over the results: this " +
              `one stops and commits nothing more. ${errorText(error)}`
            : `The results producer failed and stops: ${errorText(error)}`)
          : `The transaction of partition ${tp.partition}'s checkpoint failed and was not ` +
            `committed: ${errorText(error)}`,
        fatal ? "fatal" : isFencingError(error) ? "lost" : "failed",
        { cause: error },
      );
    }
  }

  #messages(tp: TopicPartition, batches: readonly ResultBatch[]) {
    return batches.flatMap((batch) =>
      batch.results.map((result) =>
        resultMessage(result, this.settings.topic, {
          [SOURCE_TOPIC_HEADER]: this.#topic,
          [SOURCE_PARTITION_HEADER]: String(tp.partition),
          [SOURCE_OFFSET_HEADER]: String(batch.offset),
        })
      )
    );
  }

  /** Closes the producer. */
  async close(): Promise<void> {
    await this.#turn;
    await this.#producer.close();
  }
}
