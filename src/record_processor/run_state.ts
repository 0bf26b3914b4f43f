/**
 * What the parts of a record processor run share: its settings and counters (public types),
 * each partition's state, the limits, and the one object (`RecordRunState`) through which the
 * partitions' lifecycle and the batches reach them.
 *
 * @module
 */

import type { ResultsSettings } from "../file_processor/results.ts";
import type { RecordResults } from "./results.ts";
import type { Consumer, KafkaConfig, KafkaError, TopicPartition } from "../kafka/mod.ts";
import type { PartitionLag, RecordRunCounters } from "../command/metrics.ts";
import type { WorkerChannel } from "../workers/channel.ts";
import type { BatchRun } from "./batch.ts";
import type { AutoCheckpoint, ErrorPolicy } from "./types.ts";

/** Everything a record processor run needs. */
export interface RecordRunSettings {
  /** The processor's name. */
  name: string;
  /** The module whose `defineRecordProcessor` call the workers load. */
  scriptUrl: string;
  /** The topic. */
  topic: string;
  /** The consumer group. */
  group: string;
  /** librdkafka consumer properties. */
  kafka: KafkaConfig;
  /**
   * How long the group waits for a member that stopped answering, in seconds (default 10;
   * `src/processor/membership.ts`).
   */
  failoverSeconds?: number;
  /** The number of workers the partition instances are spread over. */
  workers: number;
  /** The values of the processor's extra options. */
  options: Record<string, unknown>;
  /** What to do when a batch keeps failing. */
  errorPolicy: ErrorPolicy;
  /** Attempts of a failing batch. */
  retries: number;
  /** With the `skip` policy: where skipped records go. */
  deadLetterTopic?: string;
  /** Automatic checkpoints. */
  autoCheckpoint: AutoCheckpoint;
  /** The most records handed to one `processRecords` call. */
  maxBatch: number;
  /** Stop once caught up and idle for this long (ms). */
  exitWhenIdleMs?: number;
  /** How often to report status (ms). */
  statusIntervalMs: number;
  /** How long a revoke or stop waits for a running batch and `shutdown` (ms). */
  stopGraceMs: number;
  /** The log level forwarded from workers. */
  logLevel?: string;
  /** Aborting it stops the run gracefully. */
  signal?: AbortSignal;
  /** Called with the status every `statusIntervalMs` and at the end. */
  onStatus?: (status: RecordRunStatus) => void;
  /** Serve Prometheus metrics on this port of 127.0.0.1 (0: any free port). */
  metricsPort?: number;
  /** Where the results `processRecords` returns go (`--output-topic`). */
  results?: ResultsSettings;
}

/** Counters of a record processor run: those its metrics show, and the lag per partition. */
export interface RecordRunStatus extends RecordRunCounters {
  /** Records after each assigned partition's position, as far as known (no request). */
  lag: number;
  /** The lag of each assigned partition whose position and end are known. */
  partitionLags: PartitionLag[];
  /** Partitions given up at a stop or revoke whose `processRecords` outlived the stop grace. */
  abandonedPartitions: number;
}

/** One assigned partition's instance, as the coordinator sees it. */
export interface PartitionState {
  tp: TopicPartition;
  /** The partition's key (topic/partition). */
  key: string;
  /** This instance's id in worker messages: a partition assigned again gets a new one. */
  id: string;
  worker: WorkerChannel;
  /** Polled records waiting to be sent, as runs of the polls' batches, in offset order. */
  buffer: BatchRun[];
  /** Records in `buffer`. */
  bufferedRecords: number;
  /** Key and value bytes in `buffer`. */
  bufferedBytes: number;
  inflight: number | undefined;
  /** Records of the batch in flight (sent to the instance, not done yet): they count as lag. */
  inflightRecords: number;
  /** Records of the batch in flight already handled and skipped (its `batch-progress`). */
  inflightDone: { processed: number; skipped: number };
  /** The offset after the last record sent to the instance: no commit may go past it. */
  sentUpTo: number;
  /** Given up after the stop grace with a batch still running: nothing more is committed. */
  abandoned: boolean;
  /** The group's committed offset for the partition, as far as this process knows. */
  committedAt: number | undefined;
  opened: boolean;
  closing: boolean;
  closed: boolean;
  lost: boolean;
  stopped: boolean;
  paused: boolean;
}

/** Records buffered per partition before its fetching pauses (resumes below half). */
export const MAX_BUFFERED = 100_000;
/** Bytes buffered per partition before its fetching pauses (resumes below half). */
export const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;
/** The longest commits wait for a cooperative rebalance's second round. */
export const REBALANCE_SETTLE_MS = 10_000;
/** The most messages one poll returns. */
export const POLL_MESSAGES = 5000;
/** About how many bytes of keys and values one poll returns (fewer messages when big). */
export const POLL_BYTES = 4 * 1024 * 1024;
/**
 * A batch sent to a worker stops growing at this many bytes of keys and values, or at
 * {@linkcode MAX_BATCH_RECORDS} records (the worker hands it to `processRecords` in calls of at
 * most `maxBatch` records): sized by bytes, so that small records travel in few messages.
 */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** The most records of a batch sent to a worker (or `maxBatch`, when larger). */
export const MAX_BATCH_RECORDS = 10_000;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The state of one run that its parts share. */
export interface RecordRunState {
  /** The run's settings. */
  readonly settings: RecordRunSettings;
  /** The run's counters (the parts add to them). */
  readonly status: RecordRunStatus;
  /** The partitions assigned now, by key (topic/partition). */
  readonly partitions: Map<string, PartitionState>;
  /** Every instance not yet closed, by id (a closing one may no longer be in `partitions`). */
  readonly instances: Map<string, PartitionState>;
  /** The run's consumer (there once the run started). */
  readonly consumer: Consumer;
  /** Where results go, when the run has an output topic (there once the run started). */
  readonly results: RecordResults | undefined;
  /** The error that stops the run, if one happened. */
  readonly fatal: Error | undefined;
  /** Stops the run with `error` (the first error wins). */
  fail(error: Error): void;
  /** Reports an error of a Kafka client of the run (fatal ones stop it). */
  onKafkaError(error: KafkaError): void;
}
