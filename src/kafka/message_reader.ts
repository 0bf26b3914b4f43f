/**
 * Reading the messages of librdkafka's fetch events into what a poll returns: a
 * {@linkcode ConsumedMessage} each (key, headers and value copied out, or the value lent, see
 * `lent_fetches.ts`), or packed into a {@linkcode MessageBatchBuilder} with the whole
 * `rd_kafka_message_t` copied out in one call; a message with an error is reported, a
 * partition's end told. Apart from the consumer because it is the one place that reads
 * librdkafka's message struct, and the hot path of every poll.
 *
 * @module
 */

import { pointerCell, type RdKafka, readCString } from "./ffi.ts";
import { RdKafkaMessage } from "./structs.ts";
import { ErrorCode, type KafkaError, kafkaError } from "./errors.ts";
import { MessageBatchBuilder } from "./message_batch.ts";
import type { KafkaHeader } from "./producer.ts";
import type { TopicPartitionOffset } from "./partitions.ts";
import { lend, type LentFetches } from "./lent_fetches.ts";

/**
 * A message read from Kafka. Every field is a copy that outlives librdkafka's buffers, except a
 * `value` polled with `borrowValues` (see `PollOptions`): a view valid until the next poll.
 */
export interface ConsumedMessage {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The message's offset in its partition. */
  offset: number;
  /** The key, or `null` for none. */
  key: Uint8Array | null;
  /** The value, or `null` for none. */
  value: Uint8Array | null;
  /** The headers, in order. */
  headers: KafkaHeader[];
  /** The timestamp in milliseconds since the epoch, or `null` when the broker has none. */
  timestamp: number | null;
}

/** Where a poll puts the messages it reads. */
export type Collector = ConsumedMessage[] | MessageBatchBuilder;

/** What a {@linkcode MessageReader} reads with, and tells. */
export interface MessageReaderOptions {
  /** The consumer's librdkafka. */
  lib: RdKafka;
  /** Whether the running poll lends values (see `lent_fetches.ts`). */
  lending: LentFetches;
  /** Told a message with an error (other than a partition's end). */
  reportError: (error: KafkaError) => void;
  /** Told a partition's end (with `enable.partition.eof=true`). */
  onPartitionEof?: (position: TopicPartitionOffset) => void;
}

/** Reads one consumer's fetched messages (see the module). */
export class MessageReader {
  readonly #o: MessageReaderOptions;
  readonly #lib: RdKafka;
  readonly #rktNames = new Map<bigint, string>();
  readonly #cell = new BigUint64Array(1);
  readonly #valueCell = new BigUint64Array(1);
  readonly #sizeCell = new BigUint64Array(1);
  readonly #intCell = new Int32Array(1);
  /**
   * One `rd_kafka_message_t` copied out of librdkafka (see
   * {@linkcode MessageReader.#readBatched}).
   */
  readonly #message = new Uint8Array(RdKafkaMessage.SIZEOF);
  readonly #messageWords = new Uint32Array(this.#message.buffer);
  readonly #messageInts = new Int32Array(this.#message.buffer);
  readonly #messagePointers = new BigUint64Array(this.#message.buffer);
  /**
   * Topic names by their handle's address, as a number (see
   * {@linkcode MessageReader.#readBatched}).
   */
  readonly #rktNamesByAddress = new Map<number, string>();

  /** Reads for one consumer. */
  constructor(options: MessageReaderOptions) {
    this.#o = options;
    this.#lib = options.lib;
  }

  /** Reads the messages of a fetch event into `out` (the event stays the caller's). */
  read(event: Deno.PointerObject, out: Collector): void {
    if (out instanceof MessageBatchBuilder) {
      // A fetch event carries one message; an error or a partition's end goes the long way.
      const message = this.#lib.rd_kafka_event_message_next(event);
      if (message !== null && !this.#readBatched(message, out)) this.#readMessage(message, out);
      return;
    }
    for (
      let message = this.#lib.rd_kafka_event_message_next(event);
      message !== null;
      message = this.#lib.rd_kafka_event_message_next(event)
    ) this.#readMessage(message, out);
  }

  /**
   * Adds a message without an error to a batch; returns false (adding nothing) for any other.
   * The common case of {@linkcode Consumer.pollBatch}, per message: the whole
   * `rd_kafka_message_t` is copied out in one call and read from typed arrays, instead of a
   * pointer view, a call per field and a `bigint` per 64-bit field (measured: about half the
   * time of reading a 100-byte record's fields; addresses are below 2^47, exact as numbers).
   */
  #readBatched(message: Deno.PointerObject, out: MessageBatchBuilder): boolean {
    Deno.UnsafePointerView.copyInto(message, this.#message);
    const ints = this.#messageInts;
    if (ints[RdKafkaMessage.err / 4] !== ErrorCode.NO_ERROR) return false;
    const words = this.#messageWords;
    const word = (offset: number) => words[offset / 4] + words[offset / 4 + 1] * 0x1_0000_0000;
    const rkt = word(RdKafkaMessage.rkt);
    let topic = this.#rktNamesByAddress.get(rkt);
    if (topic === undefined) {
      topic = this.#rktName(this.#messagePointers[RdKafkaMessage.rkt / 8]);
      this.#rktNamesByAddress.set(rkt, topic);
    }
    const timestamp = Number(this.#lib.rd_kafka_message_timestamp(message, this.#intCell));
    const pointer = (offset: number) =>
      word(offset) === 0 ? null : Deno.UnsafePointer.create(this.#messagePointers[offset / 8]);
    out.add(
      topic,
      ints[RdKafkaMessage.partition / 4],
      words[RdKafkaMessage.offset / 4] + ints[RdKafkaMessage.offset / 4 + 1] * 0x1_0000_0000,
      this.#intCell[0] === 0 ? null : timestamp,
      pointer(RdKafkaMessage.key),
      word(RdKafkaMessage.key_len),
      pointer(RdKafkaMessage.payload),
      word(RdKafkaMessage.len),
      this.#readHeaders(message),
    );
    return true;
  }

  /** Reads one message (any error code) into `out`. */
  #readMessage(message: Deno.PointerObject, out: Collector): void {
    const view = new Deno.UnsafePointerView(message);
    const code = view.getInt32(RdKafkaMessage.err);
    const topic = this.#rktName(view.getBigUint64(RdKafkaMessage.rkt));
    const partition = view.getInt32(RdKafkaMessage.partition);
    const offset = Number(view.getBigInt64(RdKafkaMessage.offset));
    if (code === ErrorCode.PARTITION_EOF) {
      this.#o.onPartitionEof?.({ topic, partition, offset });
      return;
    }
    if (code !== ErrorCode.NO_ERROR) {
      const detail = readCString(this.#lib.rd_kafka_message_errstr(message));
      this.#o.reportError(
        kafkaError(code, `Fetching from "${topic}" partition ${partition} failed`, detail),
      );
      return;
    }
    if (out instanceof MessageBatchBuilder) {
      this.#readBatched(message, out);
      return;
    }
    const timestamp = Number(this.#lib.rd_kafka_message_timestamp(message, this.#intCell));
    out.push({
      topic,
      partition,
      offset,
      key: copyOut(
        view.getPointer(RdKafkaMessage.key),
        Number(view.getBigUint64(RdKafkaMessage.key_len)),
      ),
      value: this.#o.lending.borrowing
        ? lend(
          view.getPointer(RdKafkaMessage.payload),
          Number(view.getBigUint64(RdKafkaMessage.len)),
        )
        : copyOut(
          view.getPointer(RdKafkaMessage.payload),
          Number(view.getBigUint64(RdKafkaMessage.len)),
        ),
      headers: this.#readHeaders(message) ?? [],
      timestamp: this.#intCell[0] === 0 ? null : timestamp,
    });
  }

  /** The message's headers, `undefined` when it has none. */
  #readHeaders(message: Deno.PointerObject): KafkaHeader[] | undefined {
    if (this.#lib.rd_kafka_message_headers(message, this.#cell) !== ErrorCode.NO_ERROR) {
      return undefined;
    }
    const headers = pointerCell(this.#cell);
    const out: KafkaHeader[] = [];
    for (let i = 0n;; i++) {
      const code = this.#lib.rd_kafka_header_get_all(
        headers,
        i,
        this.#cell,
        this.#valueCell,
        this.#sizeCell,
      );
      if (code !== ErrorCode.NO_ERROR) break;
      out.push({
        key: readCString(pointerCell(this.#cell)) ?? "",
        value: copyOut(pointerCell(this.#valueCell), Number(this.#sizeCell[0])),
      });
    }
    return out;
  }

  /** The name of a topic handle, by its address (no pointer object per message). */
  #rktName(key: bigint): string {
    let name = this.#rktNames.get(key);
    if (name === undefined) {
      name = readCString(this.#lib.rd_kafka_topic_name(Deno.UnsafePointer.create(key))) ?? "";
      this.#rktNames.set(key, name);
    }
    return name;
  }
}

function copyOut(pointer: Deno.PointerValue, length: number): Uint8Array | null {
  if (pointer === null) return null;
  const out = new Uint8Array(length);
  if (length > 0) Deno.UnsafePointerView.copyInto(pointer, out);
  return out;
}
