/**
 * The user's side of record processors (the Kinesis Client Library's record-processor shape in
 * Kafka terms): one instance per assigned partition, `initialize`, `processRecords` with a
 * checkpointer, `shutdownRequested` and `shutdown` with a reason.
 *
 * @module
 */

import type { ConsumedMessage } from "../kafka/mod.ts";
import type {
  OptionSpecs,
  OptionValues,
  ProcessorLogger,
  ProcessorResult,
} from "../processor/definition.ts";

/**
 * A record read from a partition: the binding's consumed message (topic, partition, offset, key,
 * value, headers, timestamp), every field a copy.
 *
 * @example Decode JSON values
 * ```ts
 * import assert from "node:assert/strict";
 * import type { KafkaRecord } from "../../mod.ts";
 *
 * function json(record: KafkaRecord): unknown {
 *   return record.value === null ? null : JSON.parse(new TextDecoder().decode(record.value));
 * }
 * const record: KafkaRecord = {
 *   topic: "events", partition: 0, offset: 41, key: null, headers: [], timestamp: null,
 *   value: new TextEncoder().encode('{"t":21.5}'),
 * };
 * assert.deepEqual(json(record), { t: 21.5 });
 * ```
 */
export type KafkaRecord = ConsumedMessage;

/**
 * How far behind the newest record of its partition a batch is (the KCL's `millisBehindLatest`),
 * from what the consumer knows without asking the broker.
 */
export interface BatchInfo {
  /** Records in the partition after the batch's last record, when known (0: caught up). */
  messagesBehindLatest: number | undefined;
  /**
   * Milliseconds between the batch's last record and the partition's newest: 0 when caught up;
   * exact when the newest record was already fetched (its timestamp minus the last record's);
   * otherwise the last record's age (now minus its timestamp), an upper bound. `undefined` when
   * the records carry no timestamps or the partition's end is not known yet.
   */
  millisBehindLatest: number | undefined;
}

/**
 * Commits a partition's progress.
 *
 * @example Checkpoint every batch, and once more on a graceful shutdown
 * ```ts
 * import { defineRecordProcessor } from "../../mod.ts";
 *
 * defineRecordProcessor({
 *   name: "sum",
 *   async processRecords(records, checkpointer) {
 *     // ... handle the records ...
 *     await checkpointer.checkpoint(records[records.length - 1]);
 *   },
 *   async shutdown({ reason, checkpointer }) {
 *     if (reason !== "lost") await checkpointer.checkpoint();
 *   },
 * });
 * ```
 */
export interface Checkpointer {
  /**
   * Commits after `record` (its offset + 1), or after the last record delivered when called
   * without one. Resolves once the group coordinator has the offset. Only offsets of records
   * delivered to this instance can be committed, never backwards.
   *
   * @throws {CheckpointError} `lost` when the partition is no longer this instance's (revoked
   * past the stop grace, lost, fenced: nothing is committed; stop, do not retry), `invalid` for a
   * bad argument (not a record or `{ offset }` with a whole offset of at least 0, backwards, or
   * past what was delivered) or a commit the broker will never accept (not authorized; do not
   * retry), `failed` when the broker kept refusing after retries (transient: retry later).
   */
  checkpoint(record?: KafkaRecord | { offset: number }): Promise<void>;
}

/**
 * Why a {@linkcode CheckpointError} was raised, and the Kinesis Client Library exception it
 * stands for: `lost` (`ShutdownException`), `invalid` (`InvalidStateException`, and the
 * `IllegalArgumentException` of a bad sequence number), `failed` (`ThrottlingException`,
 * `KinesisClientLibDependencyException`: the only kind worth retrying).
 */
export type CheckpointErrorKind = "lost" | "invalid" | "failed";

/**
 * A checkpoint that could not be made.
 *
 * @example Tell a lost partition from other failures
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckpointError } from "../../mod.ts";
 *
 * function describe(error: unknown): string {
 *   if (error instanceof CheckpointError && error.kind === "lost") {
 *     return "another member owns the partition now; stop quietly";
 *   }
 *   return "a real failure";
 * }
 * const lost = new CheckpointError("lost", "Partition 3 was lost.");
 * assert.match(describe(lost), /another member/);
 * ```
 */
export class CheckpointError extends Error {
  /** `lost`, `invalid` or `failed`. */
  readonly kind: CheckpointErrorKind;

  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CheckpointError } from "./types.ts";
   * const error = new CheckpointError("lost", "Partition 3 was lost.");
   * assert.ok(error.kind === "lost");
   * ```
   */
  constructor(kind: CheckpointErrorKind, message: string) {
    super(message);
    this.name = "CheckpointError";
    this.kind = kind;
  }
}

/**
 * Thrown from `processRecords` to say which record failed: the records before it count as
 * done, retries start at it, and the error policy applies to it alone (`skip` skips just this
 * record). Any other error retries from the first record not yet checkpointed.
 *
 * @example Name the record that could not be handled
 * ```ts
 * import { defineRecordProcessor, RecordError } from "../../mod.ts";
 *
 * defineRecordProcessor({
 *   name: "parse",
 *   errorPolicy: "skip",
 *   processRecords(records) {
 *     for (const record of records) {
 *       try {
 *         JSON.parse(new TextDecoder().decode(record.value ?? new Uint8Array()));
 *       } catch (error) {
 *         throw new RecordError(record, error);
 *       }
 *     }
 *   },
 * });
 * ```
 */
export class RecordError extends Error {
  /** The offset of the record that failed. */
  readonly offset: number;

  /**
   * Creates the error for `record` (or `{ offset }`); `cause` is what went wrong (an error or
   * a message).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { RecordError } from "./types.ts";
   * const error = new RecordError({ offset: 41 }, new SyntaxError("Unexpected token"));
   * assert.equal(error.offset, 41);
   * assert.match(error.message, /offset 41: Unexpected token/);
   * ```
   */
  constructor(record: KafkaRecord | { offset: number }, cause?: unknown) {
    const text = cause instanceof Error
      ? cause.message
      : cause === undefined
      ? "failed"
      : String(cause);
    super(`Record at offset ${record.offset}: ${text}`, { cause });
    this.name = "RecordError";
    this.offset = record.offset;
  }
}

/**
 * Why a partition's processor shuts down: `revoked` (a rebalance took the partition away
 * gracefully), `stopped` (the process is stopping) — both may checkpoint; `lost` (the
 * assignment was lost, the KCL's ZOMBIE) — checkpointing throws.
 */
export type ShutdownReason = "revoked" | "lost" | "stopped";

/**
 * What `initialize` is told.
 *
 * @example
 * ```ts
 * import { defineRecordProcessor } from "../../mod.ts";
 *
 * defineRecordProcessor({
 *   name: "tail",
 *   initialize(context) {
 *     context.logger.info("Partition {p} starts at {offset}.", {
 *       p: context.partition,
 *       offset: context.startOffset ?? "the beginning",
 *     });
 *   },
 *   processRecords() {},
 * });
 * ```
 */
export interface PartitionContext<O = Record<string, unknown>> {
  /** The topic. */
  topic: string;
  /** The partition this instance owns. */
  partition: number;
  /** The offset processing starts at (the group's committed offset), when known. */
  startOffset: number | undefined;
  /** Which worker runs this instance, from 0. */
  workerIndex: number;
  /** The values of the processor's extra options. */
  options: O;
  /** A logger under `["ferry", "processor", <name>]`. */
  logger: ProcessorLogger;
}

/** Automatic checkpoints after batches (when neither is set, only the user checkpoints). */
export interface AutoCheckpoint {
  /** Checkpoint once this many records were delivered since the last checkpoint. */
  everyRecords?: number;
  /** Checkpoint once this many milliseconds passed since the last checkpoint. */
  everyMs?: number;
}

/** What to do when `processRecords` keeps failing (after its retries). */
export type ErrorPolicy =
  /** Stop this partition (others go on); the process exits 1 at the end. */
  | "stop-partition"
  /** Skip the failing record (sent to the dead-letter topic when one is set) and go on. */
  | "skip"
  /** Stop the whole process with exit code 1. */
  | "exit";

/**
 * A record processor's definition. Each assigned partition gets its own instance: an object
 * created from this definition, so `this` in the functions below is per-partition state.
 *
 * @example Per-partition state through `this`, skipping batches that keep failing
 * ```ts
 * import { defineRecordProcessor } from "../../mod.ts";
 *
 * defineRecordProcessor({
 *   name: "count",
 *   errorPolicy: "skip",
 *   retries: 2,
 *   autoCheckpoint: { everyRecords: 1_000, everyMs: 5_000 },
 *   initialize(this: { seen: number }) {
 *     this.seen = 0;
 *   },
 *   processRecords(this: { seen: number }, records) {
 *     this.seen += records.length;
 *   },
 * });
 * ```
 */
export interface RecordProcessorDefinition<S extends OptionSpecs = OptionSpecs> {
  /** A short name: used in the default consumer group and log lines. */
  name: string;
  /** One line for `--help`. */
  description?: string;
  /** Extra command-line options. */
  options?: S;
  /** Runs once per partition instance, before any of its records. */
  initialize?: (context: PartitionContext<OptionValues<S>>) => void | Promise<void>;
  /**
   * Runs on each batch of one partition's records, in offset order. Return a
   * {@linkcode ProcessorResult} (or an array of them) to produce them to `--output-topic`
   * when a checkpoint covers the batch (with `--exactly-once`, in the checkpoint's
   * transaction).
   */
  processRecords: (
    records: KafkaRecord[],
    checkpointer: Checkpointer,
    info: BatchInfo,
  ) =>
    | void
    | ProcessorResult
    | readonly ProcessorResult[]
    | Promise<void | ProcessorResult | readonly ProcessorResult[]>;
  /** Graceful revoke or stop: the last chance to checkpoint. */
  shutdownRequested?: (checkpointer: Checkpointer) => void | Promise<void>;
  /** Runs once when the instance ends. */
  shutdown?: (
    input: { reason: ShutdownReason; checkpointer: Checkpointer },
  ) => void | Promise<void>;
  /** What to do when a batch keeps failing; default `"stop-partition"`. */
  errorPolicy?: ErrorPolicy;
  /** Attempts of a failing batch before the policy applies; default 3. */
  retries?: number;
  /** Checkpoint automatically after batches (the user may still checkpoint too). */
  autoCheckpoint?: AutoCheckpoint;
}
