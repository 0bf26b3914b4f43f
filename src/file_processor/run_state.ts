/**
 * What the parts of a file processor run share: its settings and counters (public types), the
 * files being processed, and the one object (`RunState`) through which the intake, the outcomes
 * and the commits reach the offset tracker, the assembler, the registry and the hash lane.
 *
 * @module
 */

import type { FileResults, ResultsSettings } from "./results.ts";
import type { ReassemblyMode } from "../files/downloaded_file.ts";
import type { ChunkSource, FileAssembler, FileAssembly } from "../files/reassembly.ts";
import type { KafkaConfig } from "../kafka/mod.ts";
import type { FileRegistry } from "../registry/registry.ts";
import type { FileHashLane } from "../hash/file_hash_lane.ts";
import type { OffsetTracker } from "./offsets.ts";
import type { FileRunCounters } from "../command/metrics.ts";
import type { ProcessorDefinition } from "../processor/definition.ts";

/** Everything a file processor run needs, after the command line is parsed. */
export interface FileRunSettings {
  /** The processor's name. */
  name: string;
  /** The module whose `defineProcessor` call the workers load. */
  scriptUrl: string;
  /** The topic to read. */
  topic: string;
  /** The consumer group. */
  group: string;
  /** librdkafka consumer properties (at least `bootstrap.servers`). */
  kafka: KafkaConfig;
  /** The output directory. */
  outputDir: string;
  /** How files are rebuilt. */
  mode: ReassemblyMode;
  /** The number of workers. */
  workers: number;
  /** Only files whose relative path matches are processed (others are skipped). */
  downloadRegex?: RegExp;
  /** The values of the processor's extra options. */
  options: Record<string, unknown>;
  /** Stop once caught up and idle for this long (ms); undefined runs until stopped. */
  exitWhenIdleMs?: number;
  /** How often to report status (ms). */
  statusIntervalMs: number;
  /** Attempts per file before it stays failed. */
  maxAttempts: number;
  /** Time limit of one `process` call (ms); 0 for none. */
  processTimeoutMs: number;
  /** Stop with an error once the broker is unreachable this long (ms); 0 or undefined waits. */
  brokerTimeoutMs?: number;
  /** How long a graceful stop waits for running `process` calls (ms). */
  stopGraceMs: number;
  /** The most files in progress (default 1000); beyond, the least recently active is abandoned. */
  maxPartialFiles?: number;
  /** The most bytes of files in progress held in memory (default 256 MiB); beyond, they spill to disk. */
  maxPartialBytes?: number;
  /**
   * Check every chunk's SHA-512 on arrival (`--check-chunks`); by default only the whole file's
   * SHA-512 is checked (it covers every byte), and the chunks' only when it fails.
   */
  checkChunks?: boolean;
  /** The log level forwarded from workers. */
  logLevel?: string;
  /** Aborting it stops the run gracefully. */
  signal?: AbortSignal;
  /** Called with the status every `statusIntervalMs` and once at the end. */
  onStatus?: (status: RunStatus) => void;
  /** Serve Prometheus metrics on `http://127.0.0.1:<port>/metrics` while running (0: any port). */
  metricsPort?: number;
  /**
   * Called once per file that used up its attempts (the definition's `onFailure`), on the
   * coordinator, after its failure is recorded.
   */
  onFailure?: ProcessorDefinition["onFailure"];
  /** Where the results `process` returns go (`--output-topic`); without it, results fail. */
  results?: ResultsSettings;
  /**
   * How long the group waits for a member that stopped answering, in seconds (default 10;
   * `src/processor/membership.ts`).
   */
  failoverSeconds?: number;
}

/**
 * Counters of a run.
 *
 * @example One line from a status
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RunStatus } from "../../mod.ts";
 *
 * function line(s: RunStatus): string {
 *   return `${s.processed} done, ${s.failed + s.invalid} failed, ${s.inProgress} in progress`;
 * }
 * const status: RunStatus = {
 *   processed: 9, failed: 1, invalid: 0, skipped: 0, filtered: 0, malformed: 0, notChunks: 0,
 *   abandoned: 0, inProgress: 2, running: 1, bytes: 1_000_000, seconds: 3, lag: 0,
 *   stopped: false, givenUp: 0, failedFiles: 1, retired: 0,
 * };
 * assert.equal(line(status), "9 done, 1 failed, 2 in progress");
 * ```
 */
export interface RunStatus extends FileRunCounters {
  /** Chunk messages skipped because their file did not match the download regex. */
  filtered: number;
  /**
   * Of the `malformed` messages, those that were not chunks at all (no value, or not a msgpack
   * array): records of another kind, on a topic meant for a record processor.
   */
  notChunks: number;
  /** Files in progress abandoned to keep within `maxPartialFiles` (their chunks skipped). */
  abandoned: number;
  /** Messages not yet read, over the assigned partitions (when known). */
  lag: number | undefined;
  /** Whether the run was stopped through its `signal` (SIGINT/SIGTERM on the command line). */
  stopped: boolean;
  /**
   * `process` calls still running when the stop grace ran out: given up, their files not
   * committed (they are read again on the next start).
   */
  givenUp: number;
  /**
   * Files whose latest attempt failed and that were not processed since, nor retired: this
   * run's and earlier runs' (`ferry status` lists them). A run that ends idle
   * (`--exit-when-idle`) with any exits 1 (see `exitCodeOf`).
   */
  failedFiles: number;
  /**
   * Failed generations retired in this run because a newer generation of the same path was
   * processed: not retried, not counted in `failedFiles`.
   */
  retired: number;
}

/** A complete file on its way through `process`, with the chunks it settles. */
export interface RunningFile {
  assembly: FileAssembly;
  sources: ChunkSource[];
  /** When the poll that brought its last chunk returned (`performance.timeOrigin + now()`). */
  receivedAt?: number;
  /** Whether its SHA-512 is known to be right already (a file of one checked chunk). */
  checked?: boolean;
}

/** The state of one run that its parts share. */
export interface RunState {
  /** The run's settings. */
  readonly settings: FileRunSettings;
  /** The run's counters (the parts add to them). */
  readonly status: RunStatus;
  /** Which offsets may be committed. */
  readonly tracker: OffsetTracker;
  /** Files being rebuilt from their chunks. */
  readonly assembler: FileAssembler;
  /** The processed, failed and in-progress logs. */
  readonly registry: FileRegistry;
  /** Whole-file SHA-512s computed while chunks arrive. */
  readonly hashes: FileHashLane;
  /** Complete files on their way through `process`, by `<sha512>:<path>`. */
  readonly running: Map<string, RunningFile>;
  /** Where results go, when the run has an output topic. */
  readonly results: FileResults | undefined;
  /** Marks a chunk's message settled: its offset may be committed once those before it are. */
  settle(source: ChunkSource): void;
  /**
   * Settles a file's chunks (as {@linkcode settle} each) and counts the file as settled, so
   * that a loss of its partition before the commit can say how many files were affected.
   */
  settleFile(sources: readonly ChunkSource[]): void;
  /** Stops the run with `error` (the first error wins). */
  fail(error: Error): void;
}
