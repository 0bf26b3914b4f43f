/**
 * A record processor's instance for one partition, inside a worker: its lifecycle
 * (initialize → processRecords* → shutdownRequested → shutdown), its checkpointer, automatic
 * checkpoints, and retries of a failing batch.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import {
  type Checkpointer,
  CheckpointError,
  type KafkaRecord,
  type RecordProcessorDefinition,
  type ShutdownReason,
} from "./record_types.ts";
import type {
  AutoCheckpoint,
  BatchLag,
  CheckpointFailure,
  RecordToWorker,
  SerializedError,
  WireRecord,
} from "./worker_protocol.ts";
import { serializeError } from "./worker_protocol.ts";

/** Sends a checkpoint request to the coordinator and waits for its answer. */
export type CommitRequest = (key: string, offset: number) => Promise<CheckpointFailure | undefined>;

type OpenMessage = Extract<RecordToWorker, { type: "open" }>;

/** One partition's instance. */
export class PartitionInstance implements Checkpointer {
  readonly #open: OpenMessage;
  readonly #state: RecordProcessorDefinition;
  readonly #commit: CommitRequest;
  readonly #logger: Logger;
  readonly #auto: AutoCheckpoint;
  /** The offset after the last record delivered to `processRecords`. */
  #delivered: number;
  /** The last offset committed through this instance. */
  #checkpointed: number;
  #lastCheckpointAt = Date.now();
  #lost = false;
  #closed = false;

  constructor(
    definition: RecordProcessorDefinition,
    open: OpenMessage,
    commit: CommitRequest,
    logger: Logger,
  ) {
    // Per-partition state: `this` inside the user's functions is this object.
    this.#state = Object.create(definition);
    this.#open = open;
    this.#commit = commit;
    this.#logger = logger;
    this.#auto = open.autoCheckpoint;
    this.#delivered = open.startOffset ?? -1;
    this.#checkpointed = open.startOffset ?? -1;
  }

  /** Runs `initialize`. */
  async initialize(workerIndex: number, options: Record<string, unknown>): Promise<void> {
    await this.#state.initialize?.({
      topic: this.#open.topic,
      partition: this.#open.partition,
      startOffset: this.#open.startOffset,
      workerIndex,
      options: options as never,
      logger: this.#logger,
    });
  }

  /**
   * Runs `processRecords` on a batch, retrying with backoff. Returns the last error when every
   * attempt failed.
   */
  async process(records: WireRecord[], lag: BatchLag): Promise<SerializedError | undefined> {
    if (records.length === 0) return undefined;
    const attempts = Math.max(1, this.#open.retries);
    let lastError: unknown;
    const first = records[0].offset;
    const last = records[records.length - 1].offset;
    // Without a committed start offset, the first record delivered is where this began.
    if (this.#checkpointed < 0) this.#checkpointed = first;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        // Checkpoints inside the call may go up to the end of this batch.
        this.#delivered = Math.max(this.#delivered, last + 1);
        await this.#state.processRecords(records as KafkaRecord[], this, lag);
        await this.#autoCheckpoint(records.length);
        return undefined;
      } catch (error) {
        lastError = error;
        this.#logger.error(
          "processRecords failed on partition {partition} offsets {first}-{last} " +
            "(attempt {attempt} of {attempts}): {error}",
          {
            partition: this.#open.partition,
            first,
            last,
            attempt,
            attempts,
            error: error instanceof Error ? error.message : String(error),
          },
        );
        if (error instanceof CheckpointError && error.kind === "lost") break;
        if (attempt < attempts) {
          await new Promise((r) => setTimeout(r, this.#open.retryBackoffMs * 2 ** (attempt - 1)));
        }
      }
    }
    // The failed batch counts as not delivered: a later checkpoint() never commits past it
    // (with the skip policy the next batch moves on).
    this.#delivered = Math.max(this.#checkpointed, first);
    return serializeError(lastError);
  }

  #deliveredSinceCheckpoint = 0;

  async #autoCheckpoint(count: number): Promise<void> {
    this.#deliveredSinceCheckpoint += count;
    const byCount = this.#auto.everyRecords !== undefined &&
      this.#deliveredSinceCheckpoint >= this.#auto.everyRecords;
    const byTime = this.#auto.everyMs !== undefined &&
      Date.now() - this.#lastCheckpointAt >= this.#auto.everyMs;
    if ((byCount || byTime) && this.#delivered > this.#checkpointed) await this.checkpoint();
  }

  /** {@inheritDoc Checkpointer.checkpoint} */
  async checkpoint(record?: KafkaRecord | { offset: number }): Promise<void> {
    const partition = this.#open.partition;
    if (this.#lost) {
      throw new CheckpointError(
        "lost",
        `Partition ${partition} of "${this.#open.topic}" was lost: nothing was committed.`,
      );
    }
    const offset = record === undefined ? this.#delivered : record.offset + 1;
    if (record === undefined && offset < 0) return; // nothing delivered yet
    if (offset > this.#delivered) {
      throw new CheckpointError(
        "invalid",
        `Cannot checkpoint partition ${partition} at offset ${offset}: only offsets before ` +
          `${this.#delivered} were delivered.`,
      );
    }
    if (offset < this.#checkpointed) {
      throw new CheckpointError(
        "invalid",
        `Cannot checkpoint partition ${partition} backwards, to ${offset}: it is at ` +
          `${this.#checkpointed} already.`,
      );
    }
    if (offset === this.#checkpointed) return;
    const failure = await this.#commit(this.#open.key, offset);
    if (failure) {
      if (failure.kind === "lost") this.#lost = true;
      throw new CheckpointError(failure.kind, failure.message);
    }
    this.#checkpointed = offset;
    this.#lastCheckpointAt = Date.now();
    this.#deliveredSinceCheckpoint = 0;
  }

  /** Ends the instance: `shutdownRequested` unless lost, then `shutdown`. */
  async close(reason: ShutdownReason): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (reason === "lost") this.#lost = true;
    try {
      if (reason !== "lost") await this.#state.shutdownRequested?.(this);
    } catch (error) {
      this.#logger.error("shutdownRequested failed on partition {partition}: {error}", {
        partition: this.#open.partition,
        error: error instanceof Error ? error.message : String(error),
      });
    }
    const auto = this.#auto.everyRecords !== undefined || this.#auto.everyMs !== undefined;
    if (auto && reason !== "lost" && this.#delivered > this.#checkpointed) {
      // Automatic checkpoints also cover what was processed since the last one.
      try {
        await this.checkpoint();
      } catch (error) {
        this.#logger.error("The final checkpoint of partition {partition} failed: {error}", {
          partition: this.#open.partition,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
    try {
      await this.#state.shutdown?.({ reason, checkpointer: this });
    } catch (error) {
      this.#logger.error("shutdown failed on partition {partition}: {error}", {
        partition: this.#open.partition,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
