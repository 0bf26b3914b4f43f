/**
 * Messages read by one {@linkcode Consumer.pollBatch}, packed: a few typed arrays and one
 * buffer holding every key and value back to back, instead of an object and two fresh
 * `Uint8Array`s per message (whose allocation cost more than reading the message itself:
 * measured, 100-byte records spent most of their consumer time in those allocations).
 *
 * @module
 */

import type { KafkaHeader } from "./producer.ts";

/** Messages of one poll, in the order librdkafka delivered them. */
export interface MessageBatch {
  /** The number of messages. */
  readonly length: number;
  /** Each message's topic. */
  readonly topics: readonly string[];
  /** Each message's partition. */
  readonly partitions: Int32Array<ArrayBuffer>;
  /** Each message's offset. */
  readonly offsets: Float64Array<ArrayBuffer>;
  /** Each message's timestamp in ms since the epoch, `NaN` for none. */
  readonly timestamps: Float64Array<ArrayBuffer>;
  /** Each message's key length, `-1` for no key. */
  readonly keyLengths: Int32Array<ArrayBuffer>;
  /** Each message's value length, `-1` for no value. */
  readonly valueLengths: Int32Array<ArrayBuffer>;
  /** Where each message's key (then value) starts in {@linkcode data}. */
  readonly starts: Float64Array<ArrayBuffer>;
  /** Every key and value, back to back (key, then value, message after message). */
  readonly data: Uint8Array<ArrayBuffer>;
  /** The headers of the messages that have any, by index. */
  readonly headers: ReadonlyMap<number, KafkaHeader[]>;
}

/**
 * Builds a {@linkcode MessageBatch}, copying keys and values straight from librdkafka's
 * buffers into one growing buffer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MessageBatchBuilder } from "./message_batch.ts";
 * const builder = new MessageBatchBuilder(4, 16);
 * const value = new TextEncoder().encode("hello");
 * builder.add("t", 0, 7, 1000, null, 0, Deno.UnsafePointer.of(value), value.length, undefined);
 * const batch = builder.finish();
 * assert.equal(batch.length, 1);
 * assert.equal(batch.keyLengths[0], -1);
 * assert.equal(new TextDecoder().decode(batch.data), "hello");
 * ```
 */
export class MessageBatchBuilder {
  readonly #topics: string[] = [];
  readonly #partitions: Int32Array<ArrayBuffer>;
  readonly #offsets: Float64Array<ArrayBuffer>;
  readonly #timestamps: Float64Array<ArrayBuffer>;
  readonly #keyLengths: Int32Array<ArrayBuffer>;
  readonly #valueLengths: Int32Array<ArrayBuffer>;
  readonly #starts: Float64Array<ArrayBuffer>;
  readonly #headers = new Map<number, KafkaHeader[]>();
  #data: Uint8Array<ArrayBuffer>;
  #length = 0;
  #bytes = 0;

  /** A builder for up to `maxMessages` messages, its buffer first `bytes` long (it grows). */
  constructor(readonly maxMessages: number, bytes: number) {
    this.#partitions = new Int32Array(maxMessages);
    this.#offsets = new Float64Array(maxMessages);
    this.#timestamps = new Float64Array(maxMessages);
    this.#keyLengths = new Int32Array(maxMessages);
    this.#valueLengths = new Int32Array(maxMessages);
    this.#starts = new Float64Array(maxMessages);
    this.#data = new Uint8Array(Math.max(0, bytes));
  }

  /** Messages added so far. */
  get length(): number {
    return this.#length;
  }

  /** Key and value bytes added so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Adds a message, copying its key and value (`null` pointers: none).
   *
   * @throws {RangeError} when the builder already holds `maxMessages` messages.
   */
  add(
    topic: string,
    partition: number,
    offset: number,
    timestamp: number | null,
    key: Deno.PointerValue,
    keyLength: number,
    value: Deno.PointerValue,
    valueLength: number,
    headers: KafkaHeader[] | undefined,
  ): void {
    const i = this.#length;
    if (i >= this.maxMessages) {
      throw new RangeError(`The batch is full: it holds ${this.maxMessages} messages already.`);
    }
    const keyBytes = key === null ? 0 : keyLength;
    const valueBytes = value === null ? 0 : valueLength;
    const start = this.#bytes;
    const end = start + keyBytes + valueBytes;
    if (end > this.#data.length) {
      const grown = new Uint8Array(Math.max(end, this.#data.length * 2));
      grown.set(this.#data.subarray(0, start));
      this.#data = grown;
    }
    if (keyBytes > 0) {
      Deno.UnsafePointerView.copyInto(key!, this.#data.subarray(start, start + keyBytes));
    }
    if (valueBytes > 0) {
      Deno.UnsafePointerView.copyInto(value!, this.#data.subarray(start + keyBytes, end));
    }
    this.#topics.push(topic);
    this.#partitions[i] = partition;
    this.#offsets[i] = offset;
    this.#timestamps[i] = timestamp ?? NaN;
    this.#keyLengths[i] = key === null ? -1 : keyLength;
    this.#valueLengths[i] = value === null ? -1 : valueLength;
    this.#starts[i] = start;
    if (headers !== undefined && headers.length > 0) this.#headers.set(i, headers);
    this.#bytes = end;
    this.#length = i + 1;
  }

  /** The batch; the builder must not be used afterwards. */
  finish(): MessageBatch {
    const n = this.#length;
    return {
      length: n,
      topics: this.#topics,
      partitions: this.#partitions.subarray(0, n),
      offsets: this.#offsets.subarray(0, n),
      timestamps: this.#timestamps.subarray(0, n),
      keyLengths: this.#keyLengths.subarray(0, n),
      valueLengths: this.#valueLengths.subarray(0, n),
      starts: this.#starts.subarray(0, n),
      data: this.#data.subarray(0, this.#bytes),
      headers: this.#headers,
    };
  }
}
