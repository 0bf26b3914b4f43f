/**
 * A batch of records as it crosses to a worker: packed into a few typed arrays and one buffer
 * of keys and values, transferred without a copy, instead of one object and one transferred
 * `ArrayBuffer` per key and value (whose structured clone cost more than the records' bytes
 * for small records).
 *
 * @module
 */

import type { MessageBatch } from "../kafka/mod.ts";
import type { KafkaRecord } from "./types.ts";

/** Records of one partition, packed. */
export interface PackedRecords {
  /** The topic of every record. */
  topic: string;
  /** The partition of every record. */
  partition: number;
  /** Each record's offset. */
  offsets: Float64Array<ArrayBuffer>;
  /** Each record's timestamp, `NaN` for none. */
  timestamps: Float64Array<ArrayBuffer>;
  /** Each record's key length, `-1` for no key. */
  keyLengths: Int32Array<ArrayBuffer>;
  /** Each record's value length, `-1` for no value. */
  valueLengths: Int32Array<ArrayBuffer>;
  /** Every key and value, back to back (key, then value, record after record). */
  data: Uint8Array<ArrayBuffer>;
  /** The headers of the records that have any, by index in the batch. */
  headers: { index: number; headers: KafkaRecord["headers"] }[];
}

/** A packed batch of `n` records with `dataBytes` of keys and values, zeroed, no headers. */
function allocatePacked(
  topic: string,
  partition: number,
  n: number,
  dataBytes: number,
): PackedRecords {
  return {
    topic,
    partition,
    offsets: new Float64Array(n),
    timestamps: new Float64Array(n),
    keyLengths: new Int32Array(n),
    valueLengths: new Int32Array(n),
    data: new Uint8Array(dataBytes),
    headers: [],
  };
}

/** The buffers to transfer with a packed batch. */
export function packedTransfer(packed: PackedRecords): Transferable[] {
  return [
    packed.offsets.buffer,
    packed.timestamps.buffer,
    packed.keyLengths.buffer,
    packed.valueLengths.buffer,
    packed.data.buffer,
  ];
}

/** The records of a packed batch; keys and values are views into its one buffer. */
export function unpackRecords(packed: PackedRecords): KafkaRecord[] {
  return unpackRange(packed, 0, packed.offsets.length, 0).records;
}

/**
 * Records `from` (inclusive) to `to` (exclusive) of a packed batch, whose keys and values start
 * at `at` in its buffer (0 for the first record; then the `end` the previous range returned):
 * a worker makes the records of one `processRecords` call at a time.
 */
export function unpackRange(
  packed: PackedRecords,
  from: number,
  to: number,
  at: number,
): { records: KafkaRecord[]; end: number } {
  const { topic, partition, offsets, timestamps, keyLengths, valueLengths, data } = packed;
  const records: KafkaRecord[] = new Array(to - from);
  for (let i = from; i < to; i++) {
    const keyLength = keyLengths[i];
    const valueLength = valueLengths[i];
    const key = keyLength < 0 ? null : data.subarray(at, at + keyLength);
    at += Math.max(0, keyLength);
    const value = valueLength < 0 ? null : data.subarray(at, at + valueLength);
    at += Math.max(0, valueLength);
    const timestamp = timestamps[i];
    records[i - from] = {
      topic,
      partition,
      offset: offsets[i],
      key,
      value,
      headers: [],
      timestamp: Number.isNaN(timestamp) ? null : timestamp,
    };
  }
  for (const { index, headers } of packed.headers) {
    if (index >= from && index < to) records[index - from].headers = headers;
  }
  return { records, end: at };
}

/** Messages `from` (inclusive) to `to` (exclusive) of a polled batch, all of one partition. */
export interface BatchRun {
  /** The batch. */
  batch: MessageBatch;
  /** The first message's index. */
  from: number;
  /** One past the last message's index. */
  to: number;
}

/** Where message `i`'s key and value end in its batch's data. */
function messageEnd(batch: MessageBatch, i: number): number {
  return batch.starts[i] + Math.max(0, batch.keyLengths[i]) + Math.max(0, batch.valueLengths[i]);
}

/** The key and value bytes of a run. */
export function runBytes(run: BatchRun): number {
  return run.to > run.from ? messageEnd(run.batch, run.to - 1) - run.batch.starts[run.from] : 0;
}

/**
 * Splits a polled batch into runs of consecutive messages of the same partition (librdkafka
 * delivers each fetched message set in one piece, so there are few).
 */
export function splitRuns(batch: MessageBatch): BatchRun[] {
  const runs: BatchRun[] = [];
  for (let from = 0; from < batch.length;) {
    let to = from + 1;
    while (
      to < batch.length && batch.partitions[to] === batch.partitions[from] &&
      batch.topics[to] === batch.topics[from]
    ) to++;
    runs.push({ batch, from, to });
    from = to;
  }
  return runs;
}

/**
 * Packs runs of one partition (in offset order) into one batch for a worker: a copy of each
 * run's typed arrays and one copy of its keys and values, which lie back to back already.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MessageBatchBuilder } from "../kafka/mod.ts";
 * import { packRuns, splitRuns, unpackRecords } from "./batch.ts";
 * const builder = new MessageBatchBuilder(2, 16);
 * const value = new TextEncoder().encode("v");
 * builder.add("t", 0, 5, null, null, 0, Deno.UnsafePointer.of(value), 1, undefined);
 * builder.add("t", 0, 6, 9, null, 0, null, 0, undefined);
 * const [run] = splitRuns(builder.finish());
 * const [first, second] = unpackRecords(packRuns([run]));
 * assert.deepEqual(first.value, value);
 * assert.equal(second.value, null);
 * assert.equal(second.timestamp, 9);
 * ```
 */
export function packRuns(runs: readonly BatchRun[]): PackedRecords {
  let n = 0;
  let total = 0;
  for (const run of runs) {
    n += run.to - run.from;
    total += runBytes(run);
  }
  const first = runs[0];
  const topic = first ? first.batch.topics[first.from] : "";
  const partition = first ? first.batch.partitions[first.from] : -1;
  const packed = allocatePacked(topic, partition, n, total);
  const { offsets, timestamps, keyLengths, valueLengths, data, headers } = packed;
  let i = 0;
  let at = 0;
  for (const run of runs) {
    const { batch, from, to } = run;
    offsets.set(batch.offsets.subarray(from, to), i);
    timestamps.set(batch.timestamps.subarray(from, to), i);
    keyLengths.set(batch.keyLengths.subarray(from, to), i);
    valueLengths.set(batch.valueLengths.subarray(from, to), i);
    const bytes = runBytes(run);
    if (bytes > 0) {
      const start = batch.starts[from];
      data.set(batch.data.subarray(start, start + bytes), at);
      at += bytes;
    }
    for (const [index, list] of batch.headers) {
      if (index >= from && index < to) headers.push({ index: i + index - from, headers: list });
    }
    i += to - from;
  }
  return packed;
}
