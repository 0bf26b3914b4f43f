/**
 * A file processor's results on their way to the output topic (`--output-topic`).
 *
 * At least once (the default): a processed file's results are produced and acknowledged before
 * its registry line is written and its chunks settle; a crash in between produces them again.
 *
 * Exactly once (`--exactly-once`): results wait here until the committable offset of every
 * partition their file's chunks came from has passed those chunks; then they are produced in
 * one Kafka transaction together with those offsets (`sendOffsets` with the consumer's group
 * metadata). Until that transaction commits, neither the results nor the offsets exist for a
 * `read_committed` reader: a crash before it reads the chunks again. A chunk read again of a
 * file the registry holds as processed (the registry keeps its results and where its chunks
 * were) means its results were never committed: they wait again, from the registry, without the
 * file being rebuilt. Transactions are batched: one per offset commit (about once a second),
 * sooner when many results wait.
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
  type TopicPartitionOffset,
  TransactionalProducer,
} from "../kafka/mod.ts";
import type { KafkaConfig } from "../kafka/config.ts";
import { openResultsProducer } from "../processor/results_producer.ts";
import { errorText } from "../processor/errors.ts";
import {
  loadResult,
  resultMessage,
  SOURCE_PATH_HEADER,
  SOURCE_SHA512_HEADER,
  SOURCE_TOPIC_HEADER,
  storeResult,
  type WireResult,
} from "../processor/results.ts";
import type { ChunkSource } from "../files/reassembly.ts";
import type { FileRegistry, ProducedResults } from "../registry/registry.ts";
import type { OffsetTracker } from "./offsets.ts";

const logger = getLogger(["ferry", "file-processor"]);

/** Waiting results past which a transaction is committed without waiting for the second. */
export const TRANSACTION_MAX_RESULTS = 1000;

/** Where a processor's results go. */
export interface ResultsSettings {
  /** The output topic. */
  topic: string;
  /** Results and offsets in one transaction each (see the module's description). */
  exactlyOnce: boolean;
  /** librdkafka producer properties (at least `bootstrap.servers`). */
  producer: KafkaConfig;
}

/** The file a result came from. */
export interface ResultSource {
  /** Its relative path. */
  path: string;
  /** Its SHA-512, hex. */
  sha512: string;
}

interface Waiting {
  source: ResultSource;
  results: WireResult[];
  chunks: ChunkSource[];
  /** Runs once the results are committed. */
  onCommitted?: () => Promise<void>;
}

/**
 * The `transactional.id` of a processor: stable for one group and output directory, so that a
 * restarted process fences the one it replaces (and a second one started beside it fences the
 * first).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { transactionalId } from "./results.ts";
 *
 * const id = await transactionalId("ferry-sizes-raw", "/data/out");
 * assert.equal(id, await transactionalId("ferry-sizes-raw", "/data/out"));
 * assert.notEqual(id, await transactionalId("ferry-sizes-raw", "/data/other"));
 * assert.match(id, /^ferry-sizes-raw-[0-9a-f]{16}$/);
 * ```
 */
export async function transactionalId(group: string, outputDir: string): Promise<string> {
  let dir = outputDir;
  try {
    dir = await Deno.realPath(outputDir);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(dir));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${group}-${hex.slice(0, 16)}`;
}

/** Thrown when the producer cannot go on (fenced, or fatal): the run stops. */
export class ResultsStoppedError extends Error {
  /** Creates it. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ResultsStoppedError";
  }
}

/** A file processor's results (see the module's description). */
export class FileResults {
  readonly settings: ResultsSettings;
  readonly #inputTopic: string;
  readonly #producer: Producer;
  readonly #transactional: TransactionalProducer | undefined;
  /** Exactly once: results waiting for their offsets, by file key. */
  readonly #waiting = new Map<string, Waiting>();
  /** Exactly once: an aborted or failed transaction still to be aborted before the next. */
  #mustAbort = false;
  #transactions = 0;
  #produced = 0;

  private constructor(settings: ResultsSettings, inputTopic: string, producer: Producer) {
    this.settings = settings;
    this.#inputTopic = inputTopic;
    this.#producer = producer;
    if (producer instanceof TransactionalProducer) this.#transactional = producer;
  }

  /**
   * Opens the producer (exactly once: registers its `transactional.id`, fencing an older
   * process with the same one).
   *
   * @throws {Error} naming the transactional id when transactions cannot start.
   */
  static async open(
    settings: ResultsSettings,
    inputTopic: string,
    group: string,
    outputDir: string,
  ): Promise<FileResults> {
    const { producer, transactionalId: id } = await openResultsProducer(
      settings,
      () => transactionalId(group, outputDir),
    );
    if (id !== undefined) {
      logger.info("Results go to {topic} exactly once (transactional.id {id}).", {
        topic: settings.topic,
        id,
      });
    }
    return new FileResults(settings, inputTopic, producer);
  }

  /** Results waiting for their transaction. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** Results produced (acknowledged; exactly once: committed) in this run. */
  get produced(): number {
    return this.#produced;
  }

  /** What the registry keeps of a processed file's results. */
  record(results: WireResult[], ranges: ProducedResults["ranges"]): ProducedResults {
    return { topic: this.settings.topic, ranges, results: results.map(storeResult) };
  }

  /**
   * A processed file's results. At least once: produced now, resolving when acknowledged.
   * Exactly once: kept until the offsets of `chunks` are committed with them.
   *
   * @throws {Error} at least once, when a delivery failed (the file must not settle).
   */
  async add(
    source: ResultSource,
    results: WireResult[],
    chunks: ChunkSource[],
    onCommitted?: () => Promise<void>,
  ): Promise<void> {
    if (results.length === 0) return;
    if (this.#transactional) {
      this.#waiting.set(`${source.sha512}:${source.path}`, {
        source,
        results,
        chunks,
        ...(onCommitted ? { onCommitted } : {}),
      });
      return;
    }
    const deliveries = [];
    for (const result of results) {
      const { delivered } = await this.#producer.send(this.#message(source, result));
      delivered.catch(() => undefined); // awaited below: not unhandled meanwhile
      deliveries.push(delivered);
    }
    await Promise.all(deliveries);
    this.#produced += results.length;
  }

  /**
   * A chunk of a file the registry holds as processed was read again (exactly once only): when
   * it is one of the chunks the file was rebuilt from, its offset was never committed, so the
   * results were not either: they wait again, tied to this chunk.
   */
  reread(source: ResultSource, registry: FileRegistry, chunk: ChunkSource): void {
    if (!this.#transactional) return;
    const key = `${source.sha512}:${source.path}`;
    const waiting = this.#waiting.get(key);
    if (waiting) {
      waiting.chunks.push(chunk);
      return;
    }
    const produced = registry.produced(source.path, source.sha512);
    if (!produced || produced.topic !== this.settings.topic) return;
    const within = produced.ranges.some((r) =>
      r.partition === chunk.partition && r.firstOffset <= chunk.offset &&
      chunk.offset <= r.lastOffset
    );
    if (!within) return; // the same file uploaded again: its results were produced once
    logger.debug("Results of {path} were not committed: they wait again.", {
      path: source.path,
    });
    this.#waiting.set(key, {
      source,
      results: produced.results.map(loadResult),
      chunks: [chunk],
    });
  }

  /** Whether enough results wait that a transaction should not wait for its second. */
  get full(): boolean {
    return this.#waiting.size >= TRANSACTION_MAX_RESULTS;
  }

  /**
   * Exactly once: commits `offsets` (each the next offset to read) in one transaction with
   * every waiting result whose chunks all lie below them (or below offsets committed before).
   * Returns whether it committed; a transaction that failed is aborted and its results wait
   * for the next.
   *
   * @throws {ResultsStoppedError} when the producer was fenced (another process with the same
   *   transactional.id took over) or failed fatally: nothing more is committed.
   */
  async commit(
    offsets: readonly TopicPartitionOffset[],
    consumer: Consumer,
    tracker: OffsetTracker,
  ): Promise<boolean> {
    const producer = this.#transactional;
    if (!producer) throw new Error("Results are not produced exactly once.");
    const next = new Map(offsets.map((o) => [o.partition, o.offset]));
    const below = (chunk: ChunkSource): boolean =>
      chunk.offset <
        (next.get(chunk.partition) ??
          tracker.committedOffset({ topic: this.#inputTopic, partition: chunk.partition }));
    const ready = [...this.#waiting].filter(([, w]) => w.chunks.every(below));
    if (ready.length === 0 && offsets.length === 0) return true;
    try {
      if (this.#mustAbort) {
        await producer.abort();
        this.#mustAbort = false;
      }
      producer.begin();
      this.#mustAbort = true;
      let count = 0;
      for (const [, w] of ready) {
        for (const result of w.results) {
          await producer.send(this.#message(w.source, result));
          count++;
        }
      }
      await producer.sendOffsets(offsets, consumer);
      await this.#commitWithRetries(producer);
      this.#mustAbort = false;
      for (const [key] of ready) this.#waiting.delete(key);
      this.#transactions++;
      this.#produced += count;
      for (const [, w] of ready) {
        try {
          await w.onCommitted?.();
        } catch (error) {
          throw new ResultsStoppedError(
            `Could not record "${w.source.path}" after its results were committed: ${
              errorText(error)
            }`,
            { cause: error },
          );
        }
      }
      if (count > 0) {
        logger.debug("Committed {count} results of {files} files with their offsets.", {
          count,
          files: ready.length,
        });
      }
      return true;
    } catch (error) {
      if (error instanceof ResultsStoppedError) throw error;
      if (
        error instanceof KafkaError && (error.fatal || isFencingError(error) && !error.abortable)
      ) {
        throw new ResultsStoppedError(
          isFencingError(error)
            ? "Another process with the same transactional.id took over the results (the " +
              "same group and output directory, or the same [producer] transactional.id): " +
              `this one stops and commits nothing more. ${errorText(error)}`
            : `The results producer failed and stops; nothing more is committed: ${
              errorText(error)
            }`,
          { cause: error },
        );
      }
      logger.warn("A transaction of results failed; it is aborted and retried: {error}", {
        error: errorText(error),
      });
      try {
        await producer.abort();
        this.#mustAbort = false;
      } catch (abortError) {
        if (abortError instanceof KafkaError && abortError.fatal) {
          throw new ResultsStoppedError(
            `The results producer failed and stops; nothing more is committed: ${
              errorText(abortError)
            }`,
            { cause: abortError },
          );
        }
        logger.debug("Aborting failed too (retried before the next): {error}", {
          error: errorText(abortError),
        });
      }
      return false;
    }
  }

  async #commitWithRetries(producer: TransactionalProducer): Promise<void> {
    for (let attempt = 1;; attempt++) {
      try {
        return await producer.commit();
      } catch (error) {
        if (!(error instanceof KafkaError) || !error.retriable || error.abortable || attempt >= 3) {
          throw error;
        }
      }
    }
  }

  /** Partitions revoked or lost: their results no longer wait here (their next owner's). */
  forget(partitions: readonly TopicPartition[]): void {
    const gone = new Set(partitions.map((p) => p.partition));
    for (const [key, w] of this.#waiting) {
      if (w.chunks.some((c) => gone.has(c.partition))) this.#waiting.delete(key);
    }
  }

  #message(source: ResultSource, result: WireResult) {
    return resultMessage(result, this.settings.topic, {
      [SOURCE_PATH_HEADER]: source.path,
      [SOURCE_SHA512_HEADER]: source.sha512,
      [SOURCE_TOPIC_HEADER]: this.#inputTopic,
    });
  }

  /** Closes the producer (an open transaction is left to the coordinator to abort). */
  async close(): Promise<void> {
    if (this.#transactions > 0 || this.#produced > 0) {
      logger.debug("{produced} results produced in {transactions} transactions.", {
        produced: this.#produced,
        transactions: this.#transactions,
      });
    }
    await this.#producer.close();
  }
}
