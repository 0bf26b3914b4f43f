/**
 * A record processor's instance for one partition, inside a worker: its lifecycle
 * (initialize → processRecords* → shutdownRequested → shutdown, never two at once), its
 * checkpointer (arguments checked at run time), automatic checkpoints, and what happens when a
 * batch keeps failing (retries from the first record not yet done, the failing record found,
 * the policy applied to it alone).
 *
 * @module
 */

import { wireResults } from "../processor/results.ts";
import type { ResultBatch } from "./results.ts";
import { type PackedRecords, unpackRange } from "./batch.ts";
import type { Logger } from "@logtape/logtape";
import { errorText } from "../processor/errors.ts";
import { literalLogger } from "../processor/logger.ts";
import {
  type AutoCheckpoint,
  type BatchInfo,
  type Checkpointer,
  CheckpointError,
  type KafkaRecord,
  RecordError,
  type RecordProcessorDefinition,
  type ShutdownReason,
} from "./types.ts";
import type { CheckpointFailure, RecordToWorker, SerializedError } from "../workers/protocol.ts";
import { serializeError } from "../workers/protocol.ts";

/** What an instance asks of the coordinator. */
export interface InstanceRequests {
  /**
   * Commits `offset` for partition instance `key`, with the results of the batches it covers;
   * resolves with the failure, if any.
   */
  commit(
    key: string,
    offset: number,
    results: ResultBatch[],
  ): Promise<CheckpointFailure | undefined>;
  /** Sets failed records aside (dead-letter topic); resolves with an error text, if any. */
  skip(key: string, records: KafkaRecord[], error: SerializedError): Promise<string | undefined>;
}

/** How a batch ended. */
export interface BatchOutcome {
  /** Records handled. */
  processed: number;
  /** Records skipped by the `skip` policy. */
  skipped: number;
  /** Set when the batch stopped at a record that kept failing; `failed` holds that record. */
  error?: SerializedError;
  failed?: KafkaRecord[];
  /** The partition was lost while the batch ran. */
  lost?: boolean;
}

type OpenMessage = Extract<RecordToWorker, { type: "open" }>;

/** How a value is quoted in a message: strings in quotes, other values as they print. */
function quote(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/**
 * The lag of the part of a batch that ends before `end`: the batch's, plus the records after
 * the part and, when both carry timestamps, the time between its last record and the batch's.
 */
function partLag(lag: BatchInfo, batch: PackedRecords, end: number): BatchInfo {
  const count = batch.offsets.length;
  const after = count - end;
  if (after === 0) return lag;
  const gap = batch.timestamps[count - 1] - batch.timestamps[end - 1]; // NaN without them
  return {
    messagesBehindLatest: lag.messagesBehindLatest === undefined
      ? undefined
      : lag.messagesBehindLatest + after,
    millisBehindLatest: lag.millisBehindLatest === undefined
      ? undefined
      : lag.millisBehindLatest + (Number.isNaN(gap) ? 0 : Math.max(0, gap)),
  };
}

/** One partition's instance. */
export class PartitionInstance implements Checkpointer {
  readonly #open: OpenMessage;
  readonly #state: RecordProcessorDefinition;
  readonly #requests: InstanceRequests;
  readonly #logger: Logger;
  readonly #auto: AutoCheckpoint;
  /** The offset after the last record delivered to `processRecords`. */
  #delivered: number;
  /** The last offset committed through this instance. */
  #checkpointed: number;
  #lastCheckpointAt = Date.now();
  #deliveredSinceCheckpoint = 0;
  #lost = false;
  #closed = false;
  /** Results of batches not yet covered by a checkpoint, in order. */
  #results: (ResultBatch & { end: number })[] = [];
  /** Set once `shutdown` was called: checkpoints after it are refused. */
  #shutDown = false;
  /** Set once the partition closes: the running batch ends after its current call. */
  #yielded = false;
  /** The batch running now: `close` waits for it, so calls never overlap. */
  #running: Promise<BatchOutcome> | undefined;

  constructor(
    definition: RecordProcessorDefinition,
    open: OpenMessage,
    requests: InstanceRequests,
    logger: Logger,
  ) {
    // Per-partition state: `this` inside the user's functions is this object.
    this.#state = Object.create(definition);
    this.#open = open;
    this.#requests = requests;
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
      logger: literalLogger(this.#logger),
    });
  }

  /**
   * Runs `processRecords` on a batch (see the module's description), in calls of at most
   * `maxBatch` records one after the other (each call's records made just before it); one
   * batch at a time. `onPart` is told the batch's totals after each call but the last.
   */
  process(
    batch: PackedRecords,
    lag: BatchInfo,
    onPart?: (done: BatchOutcome) => void,
  ): Promise<BatchOutcome> {
    const run = (this.#running ?? Promise.resolve()).then(() => this.#runParts(batch, lag, onPart));
    this.#running = run;
    return run;
  }

  /** Ends the running batch after its current `processRecords` call (the partition closes). */
  yieldBatch(): void {
    this.#yielded = true;
  }

  async #runParts(
    batch: PackedRecords,
    lag: BatchInfo,
    onPart?: (done: BatchOutcome) => void,
  ): Promise<BatchOutcome> {
    const count = batch.offsets.length;
    const size = Math.max(1, this.#open.maxBatch);
    const total: BatchOutcome = { processed: 0, skipped: 0 };
    let at = 0;
    for (let from = 0; from < count && !(from > 0 && this.#yielded); from += size) {
      const to = Math.min(count, from + size);
      const part = unpackRange(batch, from, to, at);
      at = part.end;
      const outcome = await this.#runBatch(part.records, partLag(lag, batch, to));
      total.processed += outcome.processed;
      total.skipped += outcome.skipped;
      if (outcome.error !== undefined || outcome.lost) {
        return { ...total, error: outcome.error, failed: outcome.failed, lost: outcome.lost };
      }
      if (to < count && !this.#yielded) onPart?.({ ...total });
    }
    return total;
  }

  async #runBatch(records: KafkaRecord[], lag: BatchInfo): Promise<BatchOutcome> {
    const outcome: BatchOutcome = { processed: 0, skipped: 0 };
    if (records.length === 0 || this.#closed) return outcome;
    const attempts = Math.max(1, this.#open.retries);
    // Without a committed start offset, the first record delivered is where this began.
    if (this.#checkpointed < 0) this.#checkpointed = records[0].offset;
    let from = 0;
    let attempt = 0;
    /** Once the whole rest failed on every attempt: one record per call, to find the bad one. */
    let oneByOne = false;
    while (from < records.length) {
      // The whole batch as it came (no copy of the array) unless part of it is done.
      const part = oneByOne
        ? records.slice(from, from + 1)
        : from === 0
        ? records
        : records.slice(from);
      // Checkpoints inside the call may go up to the end of what it was given.
      this.#delivered = Math.max(this.#delivered, part[part.length - 1].offset + 1);
      try {
        const returned = await this.#state.processRecords(part as KafkaRecord[], this, lag);
        const results = wireResults(returned);
        if (results.length > 0 && !this.#open.producesResults) {
          throw new Error(
            "processRecords returned results but the processor has no output topic: give " +
              "--output-topic.",
          );
        }
        if (results.length > 0) {
          this.#results.push({
            offset: part[0].offset,
            end: part[part.length - 1].offset + 1,
            results,
          });
        }
        from += part.length;
        attempt = 0;
        continue;
      } catch (error) {
        attempt++;
        if (error instanceof CheckpointError && error.kind === "lost") {
          this.#delivered = Math.max(this.#checkpointed, records[from].offset);
          return { ...outcome, processed: from - outcome.skipped, lost: true };
        }
        const failedAt = this.#failedAt(error, records, from);
        const named = error instanceof RecordError && records[failedAt]?.offset === error.offset;
        this.#logger.error(
          "processRecords failed on partition {partition} from offset {offset} " +
            "(attempt {attempt} of {attempts}): {error}",
          {
            partition: this.#open.partition,
            offset: records[Math.min(failedAt, records.length - 1)].offset,
            attempt,
            attempts,
            error: errorText(error),
          },
        );
        from = failedAt;
        if (from >= records.length) break; // everything was checkpointed before the throw
        // What failed counts as not delivered: no checkpoint goes past it before it succeeds.
        this.#delivered = Math.max(this.#checkpointed, records[from].offset);
        if (attempt < attempts) {
          await new Promise((r) => setTimeout(r, this.#open.retryBackoffMs * 2 ** (attempt - 1)));
          continue;
        }
        attempt = 0;
        if (!named && !oneByOne && records.length - from > 1) {
          // Which record fails is not known: go on one record at a time.
          oneByOne = true;
          continue;
        }
        // records[from] is the record that keeps failing.
        const failed = [records[from]];
        const serialized = serializeError(error);
        if (this.#open.errorPolicy === "skip") {
          const refused = await this.#requests.skip(this.#open.key, failed, serialized);
          if (refused === undefined) {
            outcome.skipped++;
            from++;
            oneByOne = false;
            continue;
          }
          serialized.message += ` (and it could not be skipped: ${refused})`;
        }
        // Records before the failing one are done and may be checkpointed; not it.
        this.#delivered = Math.max(this.#checkpointed, records[from].offset);
        return { ...outcome, processed: from - outcome.skipped, error: serialized, failed };
      }
    }
    outcome.processed = records.length - outcome.skipped;
    try {
      await this.#autoCheckpoint(records.length);
    } catch (error) {
      this.#logger.error("The automatic checkpoint of partition {partition} failed: {error}", {
        partition: this.#open.partition,
        error: errorText(error),
      });
      if (error instanceof CheckpointError && error.kind === "lost") outcome.lost = true;
    }
    return outcome;
  }

  /**
   * Where a failed call's retry starts: at the record a {@linkcode RecordError} names, else at
   * the first record not yet checkpointed (never before `from`).
   */
  #failedAt(error: unknown, records: KafkaRecord[], from: number): number {
    if (error instanceof RecordError) {
      const named = records.findIndex((r, i) => i >= from && r.offset === error.offset);
      if (named >= 0) return named;
    }
    const pending = records.findIndex((r, i) => i >= from && r.offset >= this.#checkpointed);
    return pending < 0 ? records.length : pending;
  }

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
    const where = `partition ${partition} of "${this.#open.topic}"`;
    if (this.#lost) {
      throw new CheckpointError("lost", `Cannot checkpoint ${where}: it was lost here.`);
    }
    if (this.#shutDown) {
      throw new CheckpointError(
        "lost",
        `Cannot checkpoint ${where}: its processor was shut down (checkpoint in ` +
          `shutdownRequested or shutdown, not after).`,
      );
    }
    const offset = record === undefined ? this.#delivered : this.#checkedOffset(record) + 1;
    if (record === undefined && offset < 0) return; // nothing delivered yet
    if (offset > this.#delivered) {
      throw new CheckpointError(
        "invalid",
        `Cannot checkpoint ${where} at offset ${offset}: only offsets before ` +
          `${this.#delivered} were delivered.`,
      );
    }
    if (offset < this.#checkpointed) {
      throw new CheckpointError(
        "invalid",
        `Cannot checkpoint ${where} backwards, to ${offset}: it is at ${this.#checkpointed} ` +
          `already.`,
      );
    }
    if (offset === this.#checkpointed) return;
    // The results of the batches this checkpoint covers go with it (a batch's results belong
    // to its last record).
    const covered = this.#results.filter((r) => r.end <= offset);
    const failure = await this.#requests.commit(
      this.#open.key,
      offset,
      covered.map(({ offset, results }) => ({ offset, results })),
    );
    if (failure) {
      if (failure.kind === "lost") this.#lost = true;
      throw new CheckpointError(failure.kind, failure.message);
    }
    this.#checkpointed = offset;
    this.#results = this.#results.filter((r) => r.end > offset);
    this.#lastCheckpointAt = Date.now();
    this.#deliveredSinceCheckpoint = 0;
  }

  /** The offset of a checkpoint's argument, checked: `deno run` does not check types. */
  #checkedOffset(record: unknown): number {
    const partition = this.#open.partition;
    if (typeof record !== "object" || record === null || !("offset" in record)) {
      throw new CheckpointError(
        "invalid",
        `Cannot checkpoint partition ${partition} at ${quote(record)}: pass a record from ` +
          `processRecords, { offset: <whole number> }, or nothing.`,
      );
    }
    const offset = (record as { offset: unknown }).offset;
    if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) {
      throw new CheckpointError(
        "invalid",
        `Cannot checkpoint partition ${partition} at offset ${quote(offset)}` +
          `${typeof offset === "number" ? "" : ` (a ${typeof offset})`}: an offset is a whole ` +
          `number of at least 0.`,
      );
    }
    return offset;
  }

  /**
   * Ends the instance once its running batch is done: `shutdownRequested` unless lost, the
   * automatic checkpoint, then `shutdown`.
   */
  async close(reason: ShutdownReason): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#running;
    if (reason === "lost") this.#lost = true;
    try {
      if (!this.#lost) await this.#state.shutdownRequested?.(this);
    } catch (error) {
      this.#logger.error("shutdownRequested failed on partition {partition}: {error}", {
        partition: this.#open.partition,
        error: errorText(error),
      });
    }
    const auto = this.#auto.everyRecords !== undefined || this.#auto.everyMs !== undefined;
    if (auto && !this.#lost && this.#delivered > this.#checkpointed) {
      // Automatic checkpoints also cover what was processed since the last one.
      try {
        await this.checkpoint();
      } catch (error) {
        this.#logger.error("The final checkpoint of partition {partition} failed: {error}", {
          partition: this.#open.partition,
          error: errorText(error),
        });
      }
    }
    try {
      await this.#state.shutdown?.({ reason: this.#lost ? "lost" : reason, checkpointer: this });
    } catch (error) {
      this.#logger.error("shutdown failed on partition {partition}: {error}", {
        partition: this.#open.partition,
        error: errorText(error),
      });
    } finally {
      this.#shutDown = true;
    }
  }
}
