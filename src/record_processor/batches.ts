/**
 * A record processor's batches: records polled for a partition wait in its buffer; one batch
 * at a time per partition is packed (one copy, no object per record) and transferred to the
 * partition's worker, with how far behind the partition's newest record it is; fetching pauses
 * while a partition's buffer is over its limits. A record that keeps failing meets the error
 * policy here: skipped (to the dead-letter topic when set), its partition stopped, or the run.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { Producer } from "../kafka/mod.ts";
import { configForRole } from "../kafka/config.ts";
import type { WorkerChannel } from "../workers/channel.ts";
import type { SerializedError } from "../workers/protocol.ts";
import { errorText } from "../processor/errors.ts";
import { type BatchRun, packedTransfer, packRuns } from "./batch.ts";
import type { BatchInfo, KafkaRecord } from "./types.ts";
import {
  MAX_BATCH_BYTES,
  MAX_BATCH_RECORDS,
  MAX_BUFFERED,
  MAX_BUFFERED_BYTES,
  type PartitionState,
  type RecordRunState,
} from "./run_state.ts";

const logger = getLogger(["ferry", "record-processor"]);

/** Sends batches to the instances and applies the error policy (see the module). */
export class BatchFlow {
  readonly #run: RecordRunState;
  #deadLetters: Producer | undefined;
  #nextBatch = 1;

  constructor(run: RecordRunState) {
    this.#run = run;
  }

  /** Closes the dead-letter producer, if one was made (after waiting for its deliveries). */
  async close(): Promise<void> {
    await this.#deadLetters?.close();
  }

  /** Sends the next batch of a partition when none is in flight; pauses or resumes it. */
  pump(state: PartitionState): void {
    if (state.closing || this.#run.partitions.get(state.key) !== state) return;
    const running = !this.#run.fatal && !this.#run.settings.signal?.aborted;
    if (running && state.inflight === undefined && state.opened && !state.stopped) {
      if (state.bufferedRecords > 0) this.#send(state);
    }
    const over = state.bufferedRecords > MAX_BUFFERED || state.bufferedBytes > MAX_BUFFERED_BYTES;
    const under = state.bufferedRecords < MAX_BUFFERED / 2 &&
      state.bufferedBytes < MAX_BUFFERED_BYTES / 2;
    if (!state.paused && over) {
      // Backpressure: librdkafka stops fetching this partition; the group is not affected.
      this.#run.consumer.pause([state.tp]);
      state.paused = true;
      logger.debug("Paused {key}: {records} records, {bytes} bytes buffered.", {
        key: state.key,
        records: state.bufferedRecords,
        bytes: state.bufferedBytes,
      });
    } else if (state.paused && under && !state.stopped) {
      this.#run.consumer.resume([state.tp]);
      state.paused = false;
    }
  }

  /** Hands the next batch of a partition to its instance, packed (one copy, no clone). */
  #send(state: PartitionState): void {
    // Records under MAX_BATCH_BYTES and MAX_BATCH_RECORDS (at least one), by runs; the worker
    // splits them into processRecords calls of at most maxBatch.
    const maxRecords = Math.max(this.#run.settings.maxBatch, MAX_BATCH_RECORDS);
    const runs: BatchRun[] = [];
    let count = 0;
    let size = 0;
    while (state.buffer.length > 0) {
      const run = state.buffer[0];
      const { batch } = run;
      let to = run.from;
      while (
        to < run.to && count < maxRecords &&
        (count === 0 || size < MAX_BATCH_BYTES)
      ) {
        size += Math.max(0, batch.keyLengths[to]) + Math.max(0, batch.valueLengths[to]);
        count++;
        to++;
      }
      if (to > run.from) runs.push({ batch, from: run.from, to });
      if (to < run.to) {
        state.buffer[0] = { batch, from: to, to: run.to };
        break;
      }
      state.buffer.shift();
    }
    const batchId = this.#nextBatch++;
    state.inflight = batchId;
    state.inflightRecords = count;
    state.inflightDone = { processed: 0, skipped: 0 };
    const records = packRuns(runs);
    state.bufferedRecords -= count;
    state.bufferedBytes -= records.data.byteLength;
    this.#run.status.bytes += records.data.byteLength;
    const lastRun = runs[runs.length - 1];
    const lastOffset = lastRun.batch.offsets[lastRun.to - 1];
    state.sentUpTo = lastOffset + 1;
    state.worker.post({
      type: "records",
      key: state.id,
      batchId,
      records,
      lag: this.#batchLag(state, lastRun),
    }, packedTransfer(records));
  }

  /**
   * How far behind its partition's newest record a batch ending with `lastRun` is: in records
   * from the last fetch's high watermark; in ms exactly when the newest record is buffered
   * here already (its timestamp minus the batch's last), else the last record's age (an upper
   * bound), 0 when caught up.
   */
  #batchLag(state: PartitionState, lastRun: BatchRun): BatchInfo {
    const index = lastRun.to - 1;
    const offset = lastRun.batch.offsets[index];
    const timestamp = lastRun.batch.timestamps[index];
    const { high } = this.#run.consumer.cachedWatermarks(state.tp.topic, state.tp.partition);
    if (high < 0) return { messagesBehindLatest: undefined, millisBehindLatest: undefined };
    const behind = Math.max(0, high - offset - 1);
    if (behind === 0) return { messagesBehindLatest: 0, millisBehindLatest: 0 };
    if (Number.isNaN(timestamp)) {
      return { messagesBehindLatest: behind, millisBehindLatest: undefined };
    }
    const newest = state.buffer[state.buffer.length - 1];
    const newestIndex = newest === undefined ? -1 : newest.to - 1;
    const newestTimestamp = newest === undefined ? NaN : newest.batch.timestamps[newestIndex];
    const exact = newest !== undefined && newest.batch.offsets[newestIndex] === high - 1 &&
      !Number.isNaN(newestTimestamp);
    return {
      messagesBehindLatest: behind,
      millisBehindLatest: Math.max(0, (exact ? newestTimestamp : Date.now()) - timestamp),
    };
  }

  /**
   * Applies the `stop-partition` or `exit` policy to a record that kept failing (the worker
   * applies `skip` itself, through #skip; a record it could not skip stops the partition).
   */
  batchFailed(state: PartitionState, error: SerializedError, records: KafkaRecord[]): void {
    const where = `partition ${state.tp.partition} at offset ${records[0]?.offset}`;
    if (state.closing) {
      // Revoked or lost meanwhile: the record is the next owner's; no policy applies.
      logger.warn("Processing {where} failed while the partition was taken away: {error}", {
        where,
        error: error.message,
      });
      return;
    }
    this.#run.status.failedBatches++;
    if (this.#run.settings.errorPolicy === "exit") {
      this.#run.fail(new Error(`processRecords failed on ${where}: ${error.message}`));
      return;
    }
    logger.error("Stopping {where} after failures: {error}", { where, error: error.message });
    this.stopPartition(state);
  }

  /** The `skip` policy: sets records aside (dead-letter topic when set) and answers the worker. */
  async skip(
    worker: WorkerChannel,
    requestId: number,
    records: KafkaRecord[],
    error: SerializedError,
  ): Promise<void> {
    const where = `partition ${records[0]?.partition} at offset ${records[0]?.offset}`;
    let refused: string | undefined;
    if (this.#run.settings.deadLetterTopic) {
      try {
        await this.#sendToDeadLetters(records, error);
      } catch (failure) {
        // Going on would checkpoint past a record that is nowhere: the worker stops there.
        refused =
          `sending it to the dead-letter topic "${this.#run.settings.deadLetterTopic}" failed: ` +
          errorText(failure);
      }
    }
    if (refused === undefined) {
      logger.error("Skipping {where}{to} after failures: {error}", {
        where,
        to: this.#run.settings.deadLetterTopic
          ? ` (sent to "${this.#run.settings.deadLetterTopic}")`
          : "",
        error: error.message,
      });
    }
    worker.post({ type: "skip-result", requestId, ...(refused ? { error: refused } : {}) });
  }

  /** Sends failed records to the dead-letter topic; resolves once the broker has them all. */
  async #sendToDeadLetters(records: KafkaRecord[], error: SerializedError): Promise<void> {
    const topic = this.#run.settings.deadLetterTopic!;
    this.#deadLetters ??= new Producer(
      { ...configForRole(this.#run.settings.kafka, "producer"), "enable.idempotence": true },
      { onError: (e) => this.#run.onKafkaError(e) },
    );
    const encoder = new TextEncoder();
    const deliveries: Promise<unknown>[] = [];
    for (const record of records) {
      const pending = await this.#deadLetters.send({
        topic,
        key: record.key,
        value: record.value,
        headers: [
          ...record.headers,
          { key: "ferry.error", value: encoder.encode(`${error.name}: ${error.message}`) },
          {
            key: "ferry.source",
            value: encoder.encode(`${record.topic}/${record.partition}/${record.offset}`),
          },
        ],
      });
      deliveries.push(pending.delivered);
    }
    await Promise.all(deliveries);
  }

  stopPartition(state: PartitionState): void {
    if (state.stopped) return;
    state.stopped = true;
    state.buffer.length = 0;
    state.bufferedRecords = 0;
    state.bufferedBytes = 0;
    this.#run.status.stoppedPartitions++;
    if (!state.paused) {
      this.#run.consumer.pause([state.tp]);
      state.paused = true;
    }
  }
}
