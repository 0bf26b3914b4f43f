/**
 * The admin client: create and delete topics, read cluster metadata.
 *
 * @module
 */

import { type ClientOptions, ClientType, EventType, KafkaClient } from "./client.ts";
import type { KafkaConfig } from "./config.ts";
import { ErrorCode, KafkaError, kafkaError, sentence } from "./errors.ts";
import { cString, errorBuffer, errorBufferText, pointerCell, readCString } from "./ffi.ts";
import type { ConsumerGroupDescription } from "./groups.ts";
import {
  POINTER_SIZE,
  RdKafkaMetadata,
  RdKafkaMetadataBroker,
  RdKafkaMetadataPartition,
  RdKafkaMetadataTopic,
} from "./structs.ts";

/** A topic to create. */
export interface NewTopic {
  /** The topic name. */
  topic: string;
  /** The number of partitions. */
  partitions: number;
  /** The replication factor; default 1. */
  replicationFactor?: number;
  /** Topic configuration, such as `{ "retention.ms": "-1" }`. */
  config?: Record<string, string>;
}

/** Options for {@linkcode Admin.createTopics}. */
export interface CreateTopicsOptions {
  /** Treat a topic that exists already as created; default false. */
  ifNotExists?: boolean;
  /** How long to wait for the broker; default 30 000 ms. */
  timeoutMs?: number;
}

/** A partition of a topic, as metadata describes it. */
export interface PartitionMetadata {
  /** The partition number. */
  id: number;
  /** The broker id of its leader, -1 without one. */
  leader: number;
  /** An error code for the partition, 0 for none. */
  error: number;
}

/** A topic, as metadata describes it. */
export interface TopicMetadata {
  /** The topic name. */
  name: string;
  /** Its partitions, by id. */
  partitions: PartitionMetadata[];
  /** An error code for the topic (3, UNKNOWN_TOPIC_OR_PART, when it does not exist). */
  error: number;
}

/** What the cluster said about itself. */
export interface ClusterMetadata {
  /** The brokers: id, host and port. */
  brokers: { id: number; host: string; port: number }[];
  /** The topics. */
  topics: TopicMetadata[];
}

const AdminOp = { CREATETOPICS: 1, DELETETOPICS: 2 } as const;

/**
 * `rd_kafka_metadata` first waits for a usable (connected, authenticated) broker, then for the
 * answer, and neither wait can be cut short. Until a broker is usable it is called for this
 * long at a time, so that a close after an authentication failure waits at most this long.
 */
const METADATA_SLICE_MS = 500;

/**
 * An admin client.
 *
 * @example
 * ```ts ignore
 * import { Admin } from "./admin.ts";
 * await using admin = new Admin({ "bootstrap.servers": "127.0.0.1:19092" });
 * await admin.createTopics([{ topic: "raw-data", partitions: 4 }], { ifNotExists: true });
 * const metadata = await admin.metadata({ timeoutMs: 5000 });
 * ```
 */
export class Admin extends KafkaClient {
  readonly #main: Deno.PointerObject;

  /**
   * Creates an admin client.
   *
   * @param config librdkafka properties; `bootstrap.servers` at least.
   */
  constructor(config: KafkaConfig, options: ClientOptions = {}) {
    super(ClientType.PRODUCER, config, 0, options);
    const main = this.lib.rd_kafka_queue_get_main(this.handle);
    if (main === null) throw new Error("librdkafka returned no main queue.");
    this.#main = main;
  }

  /**
   * Creates topics; resolves when the broker confirms each one and the metadata shows every
   * partition of it with a leader ({@linkcode Admin.waitForLeaders}: a KRaft broker applies a
   * new topic a moment after its controller created it, and a metadata request right after the
   * confirmation could still answer "unknown topic").
   *
   * @throws {KafkaError} `_AUTHENTICATION` as soon as the broker refuses the credentials;
   *   `_TIMED_OUT` (`ErrorCode.TIMED_OUT`) when a created topic has no leaders in time.
   */
  async createTopics(
    topics: readonly NewTopic[],
    options: CreateTopicsOptions = {},
  ): Promise<void> {
    this.assertUsable();
    const handles: Deno.PointerObject[] = [];
    try {
      for (const spec of topics) {
        const errstr = errorBuffer();
        const handle = this.lib.rd_kafka_NewTopic_new(
          cString(spec.topic),
          spec.partitions,
          spec.replicationFactor ?? 1,
          errstr,
          BigInt(errstr.length),
        );
        if (handle === null) {
          throw new KafkaError(
            ErrorCode.INVALID_ARG,
            "_INVALID_ARG",
            sentence(`Topic "${spec.topic}" cannot be created: ${errorBufferText(errstr)}`),
          );
        }
        handles.push(handle);
        for (const [name, value] of Object.entries(spec.config ?? {})) {
          this.lib.rd_kafka_NewTopic_set_config(handle, cString(name), cString(value));
        }
      }
      const results = await this.track(this.#runAdminOp(
        AdminOp.CREATETOPICS,
        options.timeoutMs ?? 30_000,
        handles,
        (array, count, admin, queue) =>
          this.lib.rd_kafka_CreateTopics(this.handle, array, count, admin, queue),
        EventType.CREATETOPICS_RESULT,
        (event, cnt) =>
          this.lib.rd_kafka_CreateTopics_result_topics(
            this.lib.rd_kafka_event_CreateTopics_result(event),
            cnt,
          ),
      ));
      const created: NewTopic[] = [];
      for (const result of results) {
        if (result.error === ErrorCode.TOPIC_ALREADY_EXISTS && options.ifNotExists) continue;
        if (result.error !== ErrorCode.NO_ERROR) {
          throw kafkaError(result.error, `Creating topic "${result.name}" failed`, result.message);
        }
        const spec = topics.find((t) => t.topic === result.name);
        if (spec !== undefined) created.push(spec);
      }
      const deadline = Date.now() + (options.timeoutMs ?? 30_000);
      for (const spec of created) {
        await this.waitForLeaders(spec.topic, {
          partitions: spec.partitions,
          timeoutMs: Math.max(1000, deadline - Date.now()),
        });
      }
    } finally {
      for (const handle of handles) this.lib.rd_kafka_NewTopic_destroy(handle);
    }
  }

  /**
   * Waits until `topic` exists with every partition led (and, when given, `partitions` of
   * them): what a producer or consumer needs before using a topic just created.
   *
   * @param topic The topic.
   * @param options How many partitions to expect; how long to wait (default 30 000 ms).
   * @returns The topic's metadata.
   * @throws {KafkaError} `_TIMED_OUT` (`ErrorCode.TIMED_OUT`) naming the topic when it is not
   *   ready in time.
   */
  async waitForLeaders(
    topic: string,
    options: { partitions?: number; timeoutMs?: number } = {},
  ): Promise<TopicMetadata> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const metadata = await this.metadata({
        topics: [topic],
        timeoutMs: Math.max(1000, Math.min(5_000, deadline - Date.now())),
      });
      const found = metadata.topics[0];
      const ready = found !== undefined && found.error === ErrorCode.NO_ERROR &&
        found.partitions.length > 0 &&
        (options.partitions === undefined || options.partitions < 1 ||
          found.partitions.length === options.partitions) &&
        found.partitions.every((p) => p.leader >= 0);
      if (ready) return found;
      if (Date.now() >= deadline) {
        throw kafkaError(
          ErrorCode.TIMED_OUT,
          `Topic ${JSON.stringify(topic)} was created but not every partition has a leader ` +
            `after ${Math.round(timeoutMs / 1000)} s; see the broker's log`,
        );
      }
      await new Promise((wake) => setTimeout(wake, 50));
    }
  }

  /**
   * Deletes topics; a topic that does not exist is not an error.
   *
   * @throws {KafkaError} `_AUTHENTICATION` as soon as the broker refuses the credentials.
   */
  async deleteTopics(topics: readonly string[], timeoutMs = 30_000): Promise<void> {
    this.assertUsable();
    const handles: Deno.PointerObject[] = [];
    try {
      for (const topic of topics) {
        const handle = this.lib.rd_kafka_DeleteTopic_new(cString(topic));
        if (handle !== null) handles.push(handle);
      }
      const results = await this.track(this.#runAdminOp(
        AdminOp.DELETETOPICS,
        timeoutMs,
        handles,
        (array, count, admin, queue) =>
          this.lib.rd_kafka_DeleteTopics(this.handle, array, count, admin, queue),
        EventType.DELETETOPICS_RESULT,
        (event, cnt) =>
          this.lib.rd_kafka_DeleteTopics_result_topics(
            this.lib.rd_kafka_event_DeleteTopics_result(event),
            cnt,
          ),
      ));
      for (const result of results) {
        if (
          result.error !== ErrorCode.NO_ERROR && result.error !== ErrorCode.UNKNOWN_TOPIC_OR_PART
        ) {
          throw kafkaError(result.error, `Deleting topic "${result.name}" failed`, result.message);
        }
      }
    } finally {
      for (const handle of handles) this.lib.rd_kafka_DeleteTopic_destroy(handle);
    }
  }

  /**
   * Reads cluster metadata: all topics, or only `topics` (the others are filtered out here;
   * one asked for that does not exist is listed with error 3).
   *
   * @throws {KafkaError} when no broker answers within `timeoutMs`, naming the address;
   *   `_AUTHENTICATION` as soon as the broker refuses the credentials.
   */
  async metadata(
    options: { topics?: readonly string[]; timeoutMs?: number } = {},
  ): Promise<ClusterMetadata> {
    this.assertUsable();
    const timeoutMs = options.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    const cell = new BigUint64Array(1);
    let sliceMs = METADATA_SLICE_MS;
    let code: number;
    for (;;) {
      const waitMs = Math.min(Math.max(0, deadline - Date.now()), sliceMs);
      code = await this.serveWhile(
        this.lib.rd_kafka_metadata(this.handle, 1, null, cell, waitMs),
        this.#main,
      );
      if (code === ErrorCode.NO_ERROR || Date.now() >= deadline) break;
      // _TIMED_OUT: a broker was usable and got the request; wait for an answer in one go.
      if (code === ErrorCode.TIMED_OUT) sliceMs = Infinity;
      // _TRANSPORT: no usable broker within the slice (or the connection dropped): again.
      else if (code !== ErrorCode.TRANSPORT) break;
    }
    if (code !== ErrorCode.NO_ERROR) {
      throw kafkaError(
        code,
        `No answer from the Kafka broker at "${this.bootstrap}" within ${timeoutMs} ms`,
        undefined,
      );
    }
    const pointer = pointerCell(cell)!;
    try {
      const metadata = readMetadata(pointer);
      if (options.topics) {
        const wanted = new Set(options.topics);
        const found = metadata.topics.filter((t) => wanted.has(t.name));
        for (const name of wanted) {
          if (!found.some((t) => t.name === name)) {
            found.push({ name, partitions: [], error: ErrorCode.UNKNOWN_TOPIC_OR_PART });
          }
        }
        metadata.topics = found;
      }
      return metadata;
    } finally {
      this.lib.rd_kafka_metadata_destroy(pointer);
    }
  }

  /** The number of partitions of a topic. */
  async partitionCount(topic: string, timeoutMs = 10_000): Promise<number> {
    const metadata = await this.metadata({ topics: [topic], timeoutMs });
    const found = metadata.topics[0];
    if (found.error === ErrorCode.UNKNOWN_TOPIC_OR_PART && await this.#hidden(topic, timeoutMs)) {
      const code = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
      throw this.authorizationError(
        code,
        kafkaError(code, `Topic "${topic}" is not available on "${this.bootstrap}"`).message,
        topic,
        "metadata",
      );
    }
    if (found.error !== ErrorCode.NO_ERROR || found.partitions.length === 0) {
      throw kafkaError(
        found.error || ErrorCode.UNKNOWN_TOPIC_OR_PART,
        `Topic "${topic}" is not available on "${this.bootstrap}"`,
      );
    }
    return found.partitions.length;
  }

  /**
   * Whether `topic`, missing from the list of all topics, is there but hidden from this
   * principal: the broker leaves out of that list the topics it may not Describe, and says so
   * only when asked for the topic by name.
   */
  async #hidden(topic: string, timeoutMs: number): Promise<boolean> {
    const rkt = this.lib.rd_kafka_topic_new(this.handle, cString(topic), null);
    if (rkt === null) return false;
    const cell = new BigUint64Array(1);
    try {
      const code = await this.serveWhile(
        this.lib.rd_kafka_metadata(this.handle, 0, rkt, cell, timeoutMs),
        this.#main,
      );
      if (code !== ErrorCode.NO_ERROR) return false;
    } finally {
      this.lib.rd_kafka_topic_destroy(rkt);
    }
    const pointer = pointerCell(cell)!;
    try {
      const found = readMetadata(pointer).topics.find((t) => t.name === topic);
      return found?.error === ErrorCode.TOPIC_AUTHORIZATION_FAILED;
    } finally {
      this.lib.rd_kafka_metadata_destroy(pointer);
    }
  }

  /**
   * Describes a consumer group: its state and its members with their assigned partitions.
   *
   * @throws {KafkaError} when the group's coordinator cannot describe it or does not answer
   *   within `timeoutMs`; `_AUTHENTICATION` as soon as the broker refuses the credentials.
   */
  describeConsumerGroup(group: string, timeoutMs = 10_000): Promise<ConsumerGroupDescription> {
    return this.describeGroupRequest(group, timeoutMs, () => this.#drainMain());
  }

  async #runAdminOp(
    op: number,
    timeoutMs: number,
    handles: Deno.PointerObject[],
    call: (
      array: Uint8Array<ArrayBuffer>,
      count: bigint,
      options: Deno.PointerObject,
      queue: Deno.PointerObject,
    ) => void,
    resultType: number,
    results: (event: Deno.PointerObject, count: BigUint64Array) => Deno.PointerValue,
  ): Promise<{ name: string; error: number; message: string | undefined }[]> {
    const options = this.lib.rd_kafka_AdminOptions_new(this.handle, op);
    const queue = this.lib.rd_kafka_queue_new(this.handle);
    if (options === null || queue === null) throw new Error("librdkafka could not allocate.");
    try {
      const errstr = errorBuffer();
      this.lib.rd_kafka_AdminOptions_set_operation_timeout(
        options,
        timeoutMs,
        errstr,
        BigInt(errstr.length),
      );
      this.lib.rd_kafka_AdminOptions_set_request_timeout(
        options,
        timeoutMs,
        errstr,
        BigInt(errstr.length),
      );
      const array = new BigUint64Array(handles.map((h) => Deno.UnsafePointer.value(h)));
      call(new Uint8Array(array.buffer), BigInt(handles.length), options, queue);
      return await this.awaitAdminResult(
        queue,
        resultType,
        timeoutMs,
        `Admin request to "${this.bootstrap}" failed`,
        () => this.#drainMain(),
        (event) => {
          const count = new BigUint64Array(1);
          const array = results(event, count);
          const out = [];
          if (array !== null) {
            const view = new Deno.UnsafePointerView(array);
            for (let i = 0; i < Number(count[0]); i++) {
              const result = view.getPointer(i * POINTER_SIZE);
              out.push({
                name: readCString(this.lib.rd_kafka_topic_result_name(result)) ?? "",
                error: this.lib.rd_kafka_topic_result_error(result),
                message: readCString(this.lib.rd_kafka_topic_result_error_string(result)),
              });
            }
          }
          return out;
        },
      );
    } finally {
      this.lib.rd_kafka_AdminOptions_destroy(options);
      this.lib.rd_kafka_queue_destroy(queue);
    }
  }

  /** Serves log and error events waiting on the main queue. */
  #drainMain(): void {
    for (
      let event = this.lib.rd_kafka_queue_poll(this.#main, 0);
      event !== null;
      event = this.lib.rd_kafka_queue_poll(this.#main, 0)
    ) {
      try {
        this.handleCommonEvent(event, this.lib.rd_kafka_event_type(event));
      } finally {
        this.destroyEvent(event);
      }
    }
  }

  /** Waits for running requests (they use the main queue), then releases it. */
  protected override async shutdown(): Promise<void> {
    await this.settle();
    this.#drainMain();
    this.lib.rd_kafka_queue_destroy(this.#main);
  }
}

/**
 * Reads a `struct rd_kafka_metadata` (which stays librdkafka's to destroy).
 *
 * @internal Shared with the consumer's `topicPartitions`.
 */
export function readMetadata(pointer: Deno.PointerObject): ClusterMetadata {
  const view = new Deno.UnsafePointerView(pointer);
  const brokers = [];
  const brokerCount = view.getInt32(RdKafkaMetadata.broker_cnt);
  const brokerArray = view.getPointer(RdKafkaMetadata.brokers);
  for (let i = 0; i < brokerCount && brokerArray !== null; i++) {
    const b = new Deno.UnsafePointerView(brokerArray);
    const base = i * RdKafkaMetadataBroker.SIZEOF;
    brokers.push({
      id: b.getInt32(base + RdKafkaMetadataBroker.id),
      host: readCString(b.getPointer(base + RdKafkaMetadataBroker.host)) ?? "",
      port: b.getInt32(base + RdKafkaMetadataBroker.port),
    });
  }
  const topics: TopicMetadata[] = [];
  const topicCount = view.getInt32(RdKafkaMetadata.topic_cnt);
  const topicArray = view.getPointer(RdKafkaMetadata.topics);
  for (let i = 0; i < topicCount && topicArray !== null; i++) {
    const t = new Deno.UnsafePointerView(topicArray);
    const base = i * RdKafkaMetadataTopic.SIZEOF;
    const partitions: PartitionMetadata[] = [];
    const partitionCount = t.getInt32(base + RdKafkaMetadataTopic.partition_cnt);
    const partitionArray = t.getPointer(base + RdKafkaMetadataTopic.partitions);
    for (let j = 0; j < partitionCount && partitionArray !== null; j++) {
      const p = new Deno.UnsafePointerView(partitionArray);
      const at = j * RdKafkaMetadataPartition.SIZEOF;
      partitions.push({
        id: p.getInt32(at + RdKafkaMetadataPartition.id),
        error: p.getInt32(at + RdKafkaMetadataPartition.err),
        leader: p.getInt32(at + RdKafkaMetadataPartition.leader),
      });
    }
    partitions.sort((a, b) => a.id - b.id);
    topics.push({
      name: readCString(t.getPointer(base + RdKafkaMetadataTopic.topic)) ?? "",
      partitions,
      error: t.getInt32(base + RdKafkaMetadataTopic.err),
    });
  }
  return { brokers, topics };
}
