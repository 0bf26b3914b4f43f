/**
 * The Kafka consumer: group subscription with rebalances delivered as events (eager and
 * cooperative-sticky), batch polling that never blocks Deno's event loop, offsets (store,
 * commit, committed, position), pause/resume, and a close that leaves the group cleanly.
 *
 * @module
 */

import { type ClientOptions, ClientType, EventType, KafkaClient } from "./client.ts";
import type { KafkaConfig } from "./config.ts";
import { check, ErrorCode, kafkaError, takeErrorObject } from "./errors.ts";
import { readMetadata } from "./admin.ts";
import { cString, pointerCell, readCString } from "./ffi.ts";
import type { ConsumerGroupDescription } from "./groups.ts";
import { type MessageBatch, MessageBatchBuilder } from "./message_batch.ts";
import {
  type TopicPartition,
  TopicPartitionList,
  type TopicPartitionOffset,
} from "./partitions.ts";
import { awaitFirstRebalance, needsFirstAssignmentGuard } from "./first_assignment_guard.ts";
import { LentFetches } from "./lent_fetches.ts";
import { type Collector, type ConsumedMessage, MessageReader } from "./message_reader.ts";

import { type RebalanceEvent, Rebalances } from "./rebalance.ts";

export type { ConsumedMessage } from "./message_reader.ts";
export type { RebalanceEvent, RebalanceKind } from "./rebalance.ts";

/** Options for {@linkcode Consumer}. */
export interface ConsumerOptions extends ClientOptions {
  /**
   * Called on every assignment change, from {@linkcode Consumer.poll} on Deno's thread.
   * For `revoked` and `lost` it runs before librdkafka lets go of the partitions, so a handler
   * may commit (`revoked` only). The rebalance waits for the returned promise.
   */
  onRebalance?: (event: RebalanceEvent) => void | Promise<void>;
  /** Called when a partition reaches its end (needs `enable.partition.eof=true`). */
  onPartitionEof?: (position: TopicPartitionOffset) => void;
}

/** Options for one {@linkcode Consumer.poll}. */
export interface PollOptions {
  /** The most messages to return; default 1000. */
  maxMessages?: number;
  /** How long to wait for a first message; default 100 ms. */
  timeoutMs?: number;
  /**
   * Lend the messages' values instead of copying them: each `value` is then a view of
   * librdkafka's own memory, valid only until the next `poll` (or `close`), which frees it.
   * Copy what you keep; never transfer such a view to a worker. Saves a copy of every value
   * for a caller that copies the bytes where they go anyway (the file processor's file
   * buffers). Default false.
   */
  borrowValues?: boolean;
}

/** Options for one {@linkcode Consumer.pollBatch}. */
export interface PollBatchOptions {
  /** The most messages to return; default 1000. */
  maxMessages?: number;
  /**
   * About the most key and value bytes to return: the poll stops taking messages once it has
   * this many (so it may go over by one message); default 4 MiB.
   */
  maxBytes?: number;
  /** How long to wait for a first message; default 100 ms. */
  timeoutMs?: number;
}

/** The low and high watermarks of a partition. */
export interface Watermarks {
  /** The oldest offset still in the partition. */
  low: number;
  /** The offset the next message will get. */
  high: number;
}

/** How long {@linkcode Consumer.assign} waits for the topics' metadata before assigning. */
export const ASSIGN_METADATA_TIMEOUT_MS = 5_000;

/**
 * A Kafka consumer in a consumer group.
 *
 * @example
 * ```ts ignore
 * import { Consumer } from "./consumer.ts";
 * await using consumer = new Consumer({
 *   "bootstrap.servers": "127.0.0.1:19092",
 *   "group.id": "example",
 *   "auto.offset.reset": "earliest",
 * });
 * consumer.subscribe(["raw-data"]);
 * for (const message of await consumer.poll({ timeoutMs: 1000 })) {
 *   console.log(message.partition, message.offset);
 * }
 * ```
 */
export class Consumer extends KafkaClient {
  readonly #queue: Deno.PointerObject;
  readonly #options: ConsumerOptions;
  /** The assignment, kept by answering rebalance events (see `rebalance.ts`). */
  readonly #rebalances: Rebalances;
  /** The fetch events whose values the last poll lent (see `lent_fetches.ts`). */
  readonly #lending = new LentFetches((event) => this.destroyEvent(event));
  /** Reads fetched messages into a poll's collector (see `message_reader.ts`). */
  readonly #reader: MessageReader;
  #deferred: Deno.PointerObject | null = null;
  /** Whether closing must wait for the first rebalance event (`first_assignment_guard.ts`). */
  readonly #firstAssignmentGuard: boolean;
  #subscribed = false;
  #polling: Promise<unknown> | undefined;
  #stopping = false;
  /** Key and value bytes of the last {@linkcode pollBatch} that returned messages. */
  #lastBatchBytes = 0;

  /**
   * Creates a consumer.
   *
   * @param config librdkafka consumer properties: `bootstrap.servers` and `group.id` at least.
   * @throws {KafkaConfigError} when librdkafka rejects a property.
   */
  constructor(config: KafkaConfig, options: ConsumerOptions = {}) {
    super(
      ClientType.CONSUMER,
      config,
      EventType.REBALANCE | EventType.OFFSET_COMMIT | EventType.FETCH,
      options,
    );
    this.#options = options;
    this.#rebalances = new Rebalances({
      lib: this.lib,
      handle: this.handle,
      reportError: (error) => this.reportError(error),
      handlers: options,
    });
    this.#reader = new MessageReader({
      lib: this.lib,
      lending: this.#lending,
      reportError: (error) => this.reportError(error),
      onPartitionEof: (position) => this.#options.onPartitionEof?.(position),
    });
    this.#firstAssignmentGuard = needsFirstAssignmentGuard(config);
    check(this.lib.rd_kafka_poll_set_consumer(this.handle), "Could not set up the consumer queue");
    const queue = this.lib.rd_kafka_queue_get_consumer(this.handle);
    if (queue === null) throw new Error("librdkafka returned no consumer queue.");
    this.#queue = queue;
  }

  /** Subscribes to topics; partitions arrive through rebalances. */
  subscribe(topics: readonly string[]): void {
    this.assertUsable();
    using list = TopicPartitionList.topics(topics);
    check(
      this.lib.rd_kafka_subscribe(this.handle, list.pointer),
      `Could not subscribe to ${topics.map((t) => `"${t}"`).join(", ")}`,
    );
    this.#subscribed = true;
  }

  /**
   * Leaves the group and joins it again with the same subscription: librdkafka sends a
   * LeaveGroup (a static member too: it skips it only when closing), which makes the group
   * rebalance, then joins anew. For a member whose group will not rebalance by itself (see
   * `src/processor/stranded_partitions.ts`).
   */
  rejoin(topics: readonly string[]): void {
    this.assertUsable();
    check(this.lib.rd_kafka_unsubscribe(this.handle), "Could not leave the group");
    this.subscribe(topics);
  }

  /**
   * Assigns partitions by hand, outside any group rebalance (offsets: where to start). The
   * topics' metadata is read first (at most {@linkcode ASSIGN_METADATA_TIMEOUT_MS}): without
   * it librdkafka looks the partitions' leaders up after the assignment, and the first fetch
   * started about 0.5-1 s late (measured on a local broker: first message 1012 ms after
   * assign without, 8 ms with). The assignment is in place when the promise resolves.
   */
  async assign(partitions: readonly TopicPartitionOffset[]): Promise<void> {
    this.assertUsable();
    await Promise.all([...new Set(partitions.map((p) => p.topic))].map((t) => this.#warmUp(t)));
    this.assertUsable();
    using list = TopicPartitionList.from(partitions);
    check(this.lib.rd_kafka_assign(this.handle, list.pointer), "Could not assign partitions");
    this.#rebalances.assignedByHand(partitions);
  }

  /** Reads a topic's metadata into librdkafka's cache; failures are left to the fetcher. */
  async #warmUp(topic: string): Promise<void> {
    const rkt = this.lib.rd_kafka_topic_new(this.handle, cString(topic), null);
    if (rkt === null) return;
    const cell = new BigUint64Array(1);
    try {
      const code = await this.track(
        this.lib.rd_kafka_metadata(this.handle, 0, rkt, cell, ASSIGN_METADATA_TIMEOUT_MS),
      );
      const metadata = pointerCell(cell);
      if (code === ErrorCode.NO_ERROR && metadata !== null) {
        this.lib.rd_kafka_metadata_destroy(metadata);
      }
    } finally {
      this.lib.rd_kafka_topic_destroy(rkt);
    }
  }

  /** The partitions currently assigned to this consumer. */
  assignment(): TopicPartition[] {
    return this.#rebalances.assignment();
  }

  /** librdkafka's member id in the group, or `""` before joining. */
  memberId(): string {
    const pointer = this.lib.rd_kafka_memberid(this.handle);
    if (pointer === null) return "";
    try {
      return readCString(pointer) ?? "";
    } finally {
      this.lib.rd_kafka_mem_free(this.handle, pointer);
    }
  }

  /**
   * Waits up to `timeoutMs` for messages and returns up to `maxMessages` of them, handling
   * rebalances, errors and log lines on the way. Never blocks Deno's event loop: the wait
   * runs on a worker thread. Only one poll may run at a time.
   *
   * @throws {KafkaError} (a rejection) when the consumer has had a fatal error or the broker
   *   refused its credentials (`_AUTHENTICATION`, `fatal` set): from then on every poll
   *   rejects with that error, so a loop around it ends instead of spinning.
   */
  poll(options: PollOptions = {}): Promise<ConsumedMessage[]> {
    try {
      this.assertUsable();
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#polling) throw new Error("Consumer.poll() is already running; await it first.");
    this.#lending.begin(options.borrowValues === true);
    const out: ConsumedMessage[] = [];
    const run = this.#poll(out, options.maxMessages ?? 1000, options.timeoutMs ?? 100, Infinity)
      .then(() => out);
    this.#polling = run;
    return run.finally(() => {
      this.#polling = undefined;
    });
  }

  /**
   * Like {@linkcode poll}, but returns the messages packed into one {@linkcode MessageBatch}:
   * keys and values copied straight from librdkafka's buffers into one buffer, no object per
   * message. For consumers that move messages on in bulk (the record processor's coordinator).
   *
   * @throws {KafkaError} (a rejection) as {@linkcode poll} does.
   */
  pollBatch(options: PollBatchOptions = {}): Promise<MessageBatch> {
    try {
      this.assertUsable();
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#polling) throw new Error("Consumer.poll() is already running; await it first.");
    this.#lending.begin(false);
    const maxMessages = Math.max(1, options.maxMessages ?? 1000);
    const maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
    // The buffer starts at about the last batch's size (it grows by doubling): zero-filling
    // maxBytes for every poll cost more than reading small messages.
    const initial = Math.min(maxBytes, Math.max(65536, Math.ceil(this.#lastBatchBytes * 1.25)));
    const out = new MessageBatchBuilder(maxMessages, initial + 65536);
    const run = this.#poll(out, maxMessages, options.timeoutMs ?? 100, maxBytes)
      .then(() => {
        if (out.length > 0) this.#lastBatchBytes = out.bytes;
        return out.finish();
      });
    this.#polling = run;
    return run.finally(() => this.#polling = undefined);
  }

  async #poll(
    out: Collector,
    maxMessages: number,
    timeoutMs: number,
    maxBytes: number,
  ): Promise<void> {
    if (this.#deferred !== null) {
      const deferred = this.#deferred;
      this.#deferred = null;
      await this.#handleOwned(deferred, out);
    }
    let event = this.lib.rd_kafka_queue_poll(this.#queue, 0);
    if (event === null && out.length === 0 && !this.#stopping) {
      event = await this.lib.rd_kafka_queue_poll_wait(this.#queue, timeoutMs);
    }
    while (event !== null) {
      const type = this.lib.rd_kafka_event_type(event);
      if (type === EventType.REBALANCE && out.length > 0) {
        // Hand out what was fetched under the old assignment first.
        this.#deferred = event;
        break;
      }
      if (type === EventType.FETCH) {
        // The common case, without an await per message (measured: a tenth of the time of
        // reading 100-byte messages went to those microtask turns).
        try {
          this.#reader.read(event, out);
        } finally {
          this.#lending.done(event);
        }
      } else await this.#handleOwned(event, out);
      if (out.length >= maxMessages || this.#stopping) break;
      if (out instanceof MessageBatchBuilder && out.bytes >= maxBytes) break;
      event = this.lib.rd_kafka_queue_poll(this.#queue, 0);
    }
    if (this.fatalError) throw this.fatalError;
  }

  /** Handles an event and destroys it (a fetch event whose value is lent: at the next poll). */
  async #handleOwned(event: Deno.PointerObject, out: Collector): Promise<void> {
    const type = this.lib.rd_kafka_event_type(event);
    if (type === EventType.FETCH) {
      try {
        this.#reader.read(event, out);
      } finally {
        this.#lending.done(event);
      }
      return;
    }
    try {
      if (type === EventType.REBALANCE) await this.#rebalances.answer(event);
      else if (type === EventType.OFFSET_COMMIT) {
        const code = this.lib.rd_kafka_event_error(event);
        if (code !== ErrorCode.NO_ERROR && code !== ErrorCode.NO_OFFSET) {
          this.reportError(this.errorFromEvent(event, "Offset commit failed"));
        }
      } else this.handleCommonEvent(event, type);
    } finally {
      this.destroyEvent(event);
    }
  }

  /**
   * Stores offsets for the next commit (automatic with `enable.auto.commit=true`, or
   * {@linkcode commit} without arguments). Each offset is the next one to read: last
   * processed + 1.
   *
   * @throws {KafkaError} naming the partitions whose offsets could not be stored.
   */
  storeOffsets(offsets: readonly TopicPartitionOffset[]): void {
    this.assertUsable();
    if (offsets.length === 0) return;
    using list = TopicPartitionList.from(offsets);
    const code = this.lib.rd_kafka_offsets_store(this.handle, list.pointer);
    throwPartitionErrors(list, "Storing offsets failed", code);
  }

  /**
   * Commits offsets synchronously: the given ones (each the next offset to read), or without
   * arguments the stored ones. Resolves once the group coordinator has them.
   */
  async commit(offsets?: readonly TopicPartitionOffset[]): Promise<void> {
    this.assertUsable();
    if (offsets === undefined) {
      const code = await this.track(this.lib.rd_kafka_commit(this.handle, null, 0));
      if (code !== ErrorCode.NO_OFFSET) check(code, "Commit failed");
      return;
    }
    if (offsets.length === 0) return;
    using list = TopicPartitionList.from(offsets);
    const code = await this.track(this.lib.rd_kafka_commit(this.handle, list.pointer, 0));
    throwPartitionErrors(list, "Commit failed", code);
  }

  /**
   * The consumer's group metadata (group id, generation, member id), for a transactional
   * producer's `sendOffsets`: the broker accepts the offsets only from the group's current
   * member. The caller frees it with `rd_kafka_consumer_group_metadata_destroy`.
   *
   * @internal
   */
  groupMetadata(): Deno.PointerObject {
    this.assertUsable();
    const pointer = this.lib.rd_kafka_consumer_group_metadata(this.handle);
    if (pointer === null) throw new Error("librdkafka returned no consumer group metadata.");
    return pointer;
  }

  /** The group's committed offsets for partitions (`-1001` where none is committed). */
  async committed(
    partitions: readonly TopicPartition[],
    timeoutMs = 10_000,
  ): Promise<TopicPartitionOffset[]> {
    this.assertUsable();
    using list = TopicPartitionList.from(partitions);
    const code = await this.track(
      this.lib.rd_kafka_committed(this.handle, list.pointer, timeoutMs),
    );
    throwPartitionErrors(list, "Reading committed offsets failed", code);
    return list.toArray().map(({ topic, partition, offset }) => ({ topic, partition, offset }));
  }

  /** The consumer's position (next offset to fetch) for partitions, `-1001` when unknown. */
  position(partitions: readonly TopicPartition[]): TopicPartitionOffset[] {
    this.assertUsable();
    using list = TopicPartitionList.from(partitions);
    check(this.lib.rd_kafka_position(this.handle, list.pointer), "Reading positions failed");
    return list.toArray().map(({ topic, partition, offset }) => ({ topic, partition, offset }));
  }

  /** Stops fetching from partitions (the consumer stays in the group). */
  pause(partitions: readonly TopicPartition[]): void {
    this.assertUsable();
    using list = TopicPartitionList.from(partitions);
    const code = this.lib.rd_kafka_pause_partitions(this.handle, list.pointer);
    throwPartitionErrors(list, "Pausing partitions failed", code);
  }

  /** Resumes fetching from paused partitions. */
  resume(partitions: readonly TopicPartition[]): void {
    this.assertUsable();
    using list = TopicPartitionList.from(partitions);
    const code = this.lib.rd_kafka_resume_partitions(this.handle, list.pointer);
    throwPartitionErrors(list, "Resuming partitions failed", code);
  }

  /** Moves the fetch position of assigned partitions. */
  async seek(offsets: readonly TopicPartitionOffset[], timeoutMs = 10_000): Promise<void> {
    this.assertUsable();
    using list = TopicPartitionList.from(offsets);
    const error = takeErrorObject(
      await this.track(this.lib.rd_kafka_seek_partitions(this.handle, list.pointer, timeoutMs)),
      "Seek failed",
    );
    if (error) throw error;
    throwPartitionErrors(list, "Seek failed", ErrorCode.NO_ERROR);
  }

  /** Asks the partition's leader for its low and high watermarks. */
  async queryWatermarks(topic: string, partition: number, timeoutMs = 10_000): Promise<Watermarks> {
    this.assertUsable();
    const low = new BigInt64Array(1);
    const high = new BigInt64Array(1);
    check(
      await this.track(this.lib.rd_kafka_query_watermark_offsets(
        this.handle,
        cString(topic),
        partition,
        low,
        high,
        timeoutMs,
      )),
      `Reading the watermarks of "${topic}" partition ${partition} failed`,
    );
    return { low: Number(low[0]), high: Number(high[0]) };
  }

  /** The last watermarks seen while fetching (no request); `-1001` when none is known. */
  cachedWatermarks(topic: string, partition: number): Watermarks {
    const low = new BigInt64Array(1);
    const high = new BigInt64Array(1);
    this.lib.rd_kafka_get_watermark_offsets(this.handle, cString(topic), partition, low, high);
    return { low: Number(low[0]), high: Number(high[0]) };
  }

  /**
   * Describes a consumer group (normally this consumer's own): its state and its members with
   * their assigned partitions, through this consumer's connections (no admin client needed).
   *
   * @throws {KafkaError} when the group's coordinator cannot describe it or does not answer
   *   within `timeoutMs`.
   */
  describeConsumerGroup(group: string, timeoutMs = 10_000): Promise<ConsumerGroupDescription> {
    return this.describeGroupRequest(group, timeoutMs);
  }

  /**
   * The partition ids of a topic, sorted, from a metadata request for that topic alone.
   *
   * @throws {KafkaError} when the topic does not exist or no broker answers within `timeoutMs`.
   */
  async topicPartitions(topic: string, timeoutMs = 10_000): Promise<number[]> {
    this.assertUsable();
    const rkt = this.lib.rd_kafka_topic_new(this.handle, cString(topic), null);
    if (rkt === null) throw new Error(`librdkafka could not make a handle for "${topic}".`);
    const cell = new BigUint64Array(1);
    try {
      check(
        await this.track(this.lib.rd_kafka_metadata(this.handle, 0, rkt, cell, timeoutMs)),
        `Reading the metadata of "${topic}" failed`,
      );
    } finally {
      this.lib.rd_kafka_topic_destroy(rkt);
    }
    const pointer = pointerCell(cell);
    if (pointer === null) throw new Error("librdkafka returned no metadata.");
    try {
      const found = readMetadata(pointer).topics.find((t) => t.name === topic);
      if (!found || found.error !== ErrorCode.NO_ERROR || found.partitions.length === 0) {
        throw kafkaError(
          found?.error || ErrorCode.UNKNOWN_TOPIC_OR_PART,
          `Topic "${topic}" is not available on "${this.bootstrap}"`,
        );
      }
      return found.partitions.map((p) => p.id);
    } finally {
      this.lib.rd_kafka_metadata_destroy(pointer);
    }
  }

  /** Waits up to `timeoutMs` for the next event of the consumer's queue and handles it. */
  async #handleNext(timeoutMs: number): Promise<void> {
    const event = await this.lib.rd_kafka_queue_poll_wait(this.#queue, timeoutMs);
    if (event !== null) await this.#handleOwned(event, []);
  }

  /**
   * Leaves the group: waits for a running poll, lets the final revoke run through
   * `onRebalance` (so it can commit), then releases the queue.
   */
  protected override async shutdown(): Promise<void> {
    this.#stopping = true;
    if (this.#polling) {
      this.lib.rd_kafka_queue_yield(this.#queue);
      await this.#polling.catch(() => undefined);
    }
    this.#lending.release();
    if (this.#deferred !== null) {
      const deferred = this.#deferred;
      this.#deferred = null;
      await this.#handleOwned(deferred, []);
    }
    // librdkafka before 2.3.0 crashes on a close before the first assignment
    // (`first_assignment_guard.ts`).
    if (this.#firstAssignmentGuard && this.#subscribed && !this.#rebalances.rebalanced) {
      await awaitFirstRebalance(
        () => this.#handleNext(100),
        () => !this.#rebalances.rebalanced && !this.fatalError,
      );
    }
    const error = takeErrorObject(
      this.lib.rd_kafka_consumer_close_queue(this.handle, this.#queue),
      "Closing the consumer failed",
    );
    if (error) this.reportError(error);
    else {
      while (this.lib.rd_kafka_consumer_closed(this.handle) === 0) await this.#handleNext(100);
    }
    for (
      let event = this.lib.rd_kafka_queue_poll(this.#queue, 0);
      event !== null;
      event = this.lib.rd_kafka_queue_poll(this.#queue, 0)
    ) {
      await this.#handleOwned(event, []);
    }
    this.lib.rd_kafka_queue_destroy(this.#queue);
    this.#rebalances.clear();
  }
}

function throwPartitionErrors(list: TopicPartitionList, context: string, code: number): void {
  const failed = list.toArray().filter((tp) => tp.error !== ErrorCode.NO_ERROR);
  if (failed.length > 0) {
    const first = failed[0];
    const names = failed.map((tp) => `"${tp.topic}" partition ${tp.partition}`).join(", ");
    throw kafkaError(first.error, `${context} for ${names}`);
  }
  check(code, context);
}
