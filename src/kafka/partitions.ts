/**
 * Topic-partition values and the `rd_kafka_topic_partition_list_t` wrapper.
 *
 * @module
 */

import { cString, rdkafka, readCString } from "./ffi.ts";
import { RdKafkaTopicPartition, RdKafkaTopicPartitionList } from "./structs.ts";

/** A partition of a topic. */
export interface TopicPartition {
  /** The topic name. */
  topic: string;
  /** The partition number. */
  partition: number;
}

/** A partition with an offset: a position, a commit, or a start offset. */
export interface TopicPartitionOffset extends TopicPartition {
  /** The offset; for commits, the next offset to read (last processed + 1). */
  offset: number;
}

/**
 * Special offsets librdkafka understands.
 *
 * @example Start reading a partition from its oldest message
 * ```ts
 * import assert from "node:assert/strict";
 * import { Offset, type TopicPartitionOffset } from "../../mod.ts";
 *
 * const start: TopicPartitionOffset = { topic: "raw", partition: 0, offset: Offset.BEGINNING };
 * assert.equal(start.offset, -2);
 * ```
 */
export const Offset = {
  /** The oldest offset still in the partition. */
  BEGINNING: -2,
  /** The offset after the newest message. */
  END: -1,
  /** The group's committed offset. */
  STORED: -1000,
  /** No offset. */
  INVALID: -1001,
} as const;

/** A partition as read back from librdkafka, with its per-partition error code. */
export interface TopicPartitionResult extends TopicPartitionOffset {
  /** The per-partition error code; 0 for none. */
  error: number;
}

/**
 * A key for maps and sets of partitions, such as `"raw-data/3"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { partitionKey } from "../../mod.ts";
 *
 * assert.equal(partitionKey({ topic: "raw-data", partition: 3 }), "raw-data/3");
 * ```
 */
export function partitionKey(tp: TopicPartition): string {
  return `${tp.topic}/${tp.partition}`;
}

/**
 * An owned `rd_kafka_topic_partition_list_t`. Destroy it with `using` or {@linkcode destroy}.
 */
export class TopicPartitionList implements Disposable {
  #pointer: Deno.PointerObject | null;

  private constructor(pointer: Deno.PointerObject) {
    this.#pointer = pointer;
  }

  /** Builds a list from partitions, with their offsets when given. */
  static from(
    partitions: readonly (TopicPartition | TopicPartitionOffset)[],
  ): TopicPartitionList {
    const lib = rdkafka();
    const pointer = lib.rd_kafka_topic_partition_list_new(Math.max(1, partitions.length));
    if (pointer === null) throw new Error("librdkafka could not allocate a partition list.");
    const list = new TopicPartitionList(pointer);
    for (const tp of partitions) {
      const element = lib.rd_kafka_topic_partition_list_add(
        pointer,
        cString(tp.topic),
        tp.partition,
      );
      if (element !== null && "offset" in tp) setOffset(element, tp.offset);
    }
    return list;
  }

  /** Builds a list of topics for `rd_kafka_subscribe` (partition is ignored there). */
  static topics(topics: readonly string[]): TopicPartitionList {
    return TopicPartitionList.from(topics.map((topic) => ({ topic, partition: -1 })));
  }

  /** The list's pointer, for passing to librdkafka. */
  get pointer(): Deno.PointerObject {
    if (this.#pointer === null) throw new Error("The partition list was already destroyed.");
    return this.#pointer;
  }

  /** Reads the elements of the list. */
  toArray(): TopicPartitionResult[] {
    return readPartitionList(this.pointer);
  }

  /** Frees the list. Safe to call twice. */
  destroy(): void {
    if (this.#pointer !== null) {
      rdkafka().rd_kafka_topic_partition_list_destroy(this.#pointer);
      this.#pointer = null;
    }
  }

  /** Frees the list. */
  [Symbol.dispose](): void {
    this.destroy();
  }
}

function setOffset(element: Deno.PointerObject, offset: number): void {
  // Write through a typed array over librdkafka's memory: the int64_t offset field.
  const target = new Deno.UnsafePointerView(element).getArrayBuffer(
    BigInt64Array.BYTES_PER_ELEMENT,
    RdKafkaTopicPartition.offset,
  );
  new BigInt64Array(target)[0] = BigInt(offset);
}

/** Reads a list owned by librdkafka (for example inside an event) without taking ownership. */
export function readPartitionList(pointer: Deno.PointerValue): TopicPartitionResult[] {
  if (pointer === null) return [];
  const view = new Deno.UnsafePointerView(pointer);
  const count = view.getInt32(RdKafkaTopicPartitionList.cnt);
  const elems = view.getPointer(RdKafkaTopicPartitionList.elems);
  if (elems === null || count <= 0) return [];
  const elements = new Deno.UnsafePointerView(elems);
  const out: TopicPartitionResult[] = [];
  for (let i = 0; i < count; i++) {
    const base = i * RdKafkaTopicPartition.SIZEOF;
    out.push({
      topic: readCString(elements.getPointer(base + RdKafkaTopicPartition.topic)) ?? "",
      partition: elements.getInt32(base + RdKafkaTopicPartition.partition),
      offset: Number(elements.getBigInt64(base + RdKafkaTopicPartition.offset)),
      error: elements.getInt32(base + RdKafkaTopicPartition.err),
    });
  }
  return out;
}
