/**
 * The contract between `bench/run.ts` and the benchmark sections (`bench/*_bench.ts`,
 * `bench/chunks.ts`): each section module exports
 *
 * ```ts ignore
 * export async function run(options: BenchOptions): Promise<BenchRow[]>
 * ```
 *
 * and must not do any work at import time (guard a standalone command line with
 * `if (import.meta.main)`).
 *
 * @module
 */

/** What `bench/run.ts` hands every section. */
export interface BenchOptions {
  /**
   * Data moved per measurement, in MiB (`--size-mib`); `undefined` means the section's own
   * default.
   */
  sizeMiB?: number;
  /** Repetitions of each measurement (`--runs`); `undefined` means the section's default. */
  runs?: number;
  /** The Kafka bootstrap address (`--bootstrap`, `FERRY_TEST_BOOTSTRAP`, 127.0.0.1:19092). */
  bootstrap: string;
  /** Writes one progress line (to stderr; the tables go to stdout). */
  log: (line: string) => void;
}

/** One measured row of a section's table. */
export interface BenchRow {
  /**
   * What is measured; rows with the same group are compared with each other (for example
   * `"produce 1024 MiB"`). The table prints the group once per block of rows.
   */
  group: string;
  /** Which contender (for example `"binding"`, `"kcat -P"`). */
  name: string;
  /** Payload bytes moved per run; MB/s is `bytes / 1e6 / seconds`. */
  bytes: number;
  /** Messages (or items) per run, for a rate per second; omitted when meaningless. */
  messages?: number;
  /** The representative duration of one run, in seconds (the median when `runs > 1`). */
  seconds: number;
  /** Every run's duration in seconds, when there was more than one. */
  samples?: number[];
  /** CPU time (user + system) of one run, in seconds (median), when measured. */
  cpuSeconds?: number;
  /**
   * CPU seconds of one SHA-512 pass over `bytes`, measured in the same run
   * (`bench/support/sha512_pass.ts`); the table's "passes" column is `cpuSeconds` divided by it.
   */
  passCpuSeconds?: number;
  /** Peak resident set of the process that did the work, in bytes (largest run). */
  peakRssBytes?: number;
  /** The row every other row of the group is compared with (ratio = its MB/s / this MB/s). */
  baseline?: boolean;
  /** The ratio to the baseline this row should reach (for example 0.8); printed as met/missed. */
  target?: number;
  /** A short remark printed under the table. */
  note?: string;
}

/** The entry point every section exports as `run`. */
export type BenchEntry = (options: BenchOptions) => Promise<BenchRow[]>;
