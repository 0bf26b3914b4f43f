/**
 * The messages between the coordinator and its workers.
 *
 * @module
 */

import type { WireResult } from "../processor/results.ts";
import type { ResultBatch } from "../record_processor/results.ts";
import type { DownloadedFile, ReassemblyMode } from "../files/downloaded_file.ts";
import type { PackedRecords } from "../record_processor/batch.ts";
import type {
  AutoCheckpoint,
  BatchInfo,
  CheckpointErrorKind,
  ErrorPolicy,
  KafkaRecord,
} from "../record_processor/types.ts";

/** An error, as it crosses a worker boundary. */
export interface SerializedError {
  /** The error's class name. */
  name: string;
  /** Its message. */
  message: string;
  /** Its stack, when it has one. */
  stack?: string;
}

/** Turns anything thrown into a {@linkcode SerializedError}. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack };
  }
  return { name: "Error", message: String(error) };
}

/** Settings a worker starts with. */
export interface WorkerInit {
  type: "init";
  /** The module that calls `defineProcessor` (the user's script). */
  scriptUrl: string;
  /** Which worker this is, from 0. */
  workerIndex: number;
  /** The processor's name (from the definition the coordinator loaded). */
  name: string;
  /** The output directory. */
  outputDir: string;
  /** The topic. */
  topic: string;
  /** The reassembly mode. */
  mode: ReassemblyMode;
  /** The values of the processor's extra options. */
  options: Record<string, unknown>;
  /** The lowest log level to forward, or undefined for none. */
  logLevel: string | undefined;
}

/** A rebuilt file to check and process. */
export interface FileJobMessage {
  type: "file";
  /** The job's id. */
  id: number;
  /** The file, without its bytes. */
  file: Omit<DownloadedFile, "bytes">;
  /** The chunks' data in file order (memory and both modes); transferred, not copied. */
  chunks?: { offset: number; data: Uint8Array }[];
  /** The coordinator checked the file's SHA-512 already (while its chunks arrived). */
  checked?: boolean;
}

/** The coordinator's messages about record partitions. */
export type RecordToWorker =
  | {
    type: "open";
    key: string;
    topic: string;
    partition: number;
    startOffset: number | undefined;
    autoCheckpoint: AutoCheckpoint;
    /** Whether the run has an output topic for what `processRecords` returns. */
    producesResults?: boolean;
    retries: number;
    retryBackoffMs: number;
    /** With `skip`, the worker skips a failing record itself (through a `skip` request). */
    errorPolicy: ErrorPolicy;
    /** The most records handed to one `processRecords` call (a batch may hold more). */
    maxBatch: number;
  }
  /**
   * A batch of records, sized by bytes: the worker hands it to `processRecords` in calls of at
   * most `maxBatch` records, one after the other.
   */
  | { type: "records"; key: string; batchId: number; records: PackedRecords; lag: BatchInfo }
  /**
   * The partition is closing: the batch running ends after its current `processRecords` call
   * (the rest of it is not processed; its `batch-done` says how many were).
   */
  | { type: "yield"; key: string }
  | { type: "checkpoint-result"; requestId: number; error?: CheckpointFailure }
  /** The answer to a `skip` request: `error` when the record could not be set aside. */
  | { type: "skip-result"; requestId: number; error?: string }
  | { type: "close"; key: string; reason: "revoked" | "lost" | "stopped" };

/** Why a checkpoint failed: see {@linkcode CheckpointErrorKind}. */
export interface CheckpointFailure {
  /** `lost`, `invalid` or `failed`. */
  kind: CheckpointErrorKind;
  /** What happened. */
  message: string;
}

/** A worker's messages about record partitions. */
export type RecordFromWorker =
  | { type: "opened"; key: string; error?: SerializedError }
  /**
   * After each `processRecords` call of a batch but its last: the records of the batch handled
   * and skipped so far (so progress and lag move while a long batch runs).
   */
  | { type: "batch-progress"; key: string; batchId: number; processed: number; skipped: number }
  | {
    type: "batch-done";
    key: string;
    batchId: number;
    /** Records handled (not counting skipped ones). */
    processed: number;
    /** Records skipped by the `skip` policy. */
    skipped: number;
    /**
     * Set when the batch stopped at a record that failed on every attempt (policies
     * `stop-partition` and `exit`, or a `skip` that could not set it aside); `records` holds
     * that record. Nothing from it on was processed.
     */
    error?: SerializedError;
    records?: KafkaRecord[];
    /** The partition was lost while the batch ran: no policy applies. */
    lost?: boolean;
  }
  | {
    type: "checkpoint";
    key: string;
    requestId: number;
    offset: number;
    /** Results of the batches the checkpoint covers, for the output topic. */
    results?: ResultBatch[];
  }
  /** With the `skip` policy: set a record aside (dead-letter topic when set) before going on. */
  | { type: "skip"; key: string; requestId: number; records: KafkaRecord[]; error: SerializedError }
  | { type: "closed"; key: string };

/** What the coordinator sends a worker. */
export type ToWorker = WorkerInit | FileJobMessage | RecordToWorker | { type: "shutdown" };

/** How a file job ended. */
export type JobOutcome =
  /** `process` succeeded. */
  | "processed"
  /** `process` returned or threw an error. */
  | "failed"
  /** The rebuilt file's SHA-512 did not match: nothing was processed. */
  | "invalid"
  /**
   * The run was stopping: `process` was not called on the file, or was still running when the
   * stop grace ran out. Nothing is recorded and the file is read again on the next start.
   */
  | "stopped";

/** A job's result. */
export interface JobResult {
  type: "result";
  /** The job's id. */
  id: number;
  /** How it ended. */
  outcome: JobOutcome;
  /** The error for `failed` and `invalid`. */
  error?: SerializedError;
  /** How long `process` ran, in milliseconds. */
  ms: number;
  /** For `failed` in memory mode: where the worker kept a copy, relative to the output dir. */
  kept?: string;
  /** For `processed`: the results `process` returned, for the output topic. */
  results?: WireResult[];
}

/**
 * The result of job `id` whose rebuilt file (`relativePath`) has the SHA-512 `digest` instead of
 * the `promised` one of its chunks: `invalid`, with a `HashMismatchError`; nothing was processed.
 */
export function hashMismatchResult(
  id: number,
  relativePath: string,
  digest: string,
  promised: string,
): JobResult {
  return {
    type: "result",
    id,
    outcome: "invalid",
    ms: 0,
    error: {
      name: "HashMismatchError",
      message: `SHA-512 of the rebuilt "${relativePath}" is ${digest.slice(0, 16)}..., ` +
        `the chunks promised ${promised.slice(0, 16)}...; the file was not processed.`,
    },
  };
}

/**
 * A LogTape record forwarded from a worker (made by `workerLog` in `worker_log.ts`), emitted
 * again as it is on the coordinator: its text is never parsed as a template there.
 */
export interface WorkerLog {
  type: "log";
  /** The logger category. */
  category: string[];
  /** The level. */
  level: "trace" | "debug" | "info" | "warning" | "error" | "fatal";
  /** The message: text and values alternating, text first and last (LogTape's `message`). */
  message: unknown[];
  /** The message as written (a tagged template's strings). */
  rawMessage: string | string[];
  /** When it was logged, in ms since the epoch. */
  timestamp: number;
  /** The record's properties (any that could not be copied, as their inspected text). */
  properties: Record<string, unknown>;
}

/** What a worker sends the coordinator. */
export type FromWorker =
  | { type: "ready" }
  | { type: "init-failed"; error: SerializedError }
  | JobResult
  | RecordFromWorker
  | WorkerLog
  | { type: "stopped" }
  /** The worker's own code ended it (`self.close()`, `Deno.exit()`); sent just before. */
  | { type: "closing"; reason: string };
