/**
 * Timed runs of one contender and the table row they make: the median time, every run's time
 * when there was more than one, the median CPU time and the largest peak resident set.
 *
 * @module
 */

import type { BenchRow } from "./types.ts";
import { median } from "./timing.ts";

/** One measured run of one contender. */
export interface Sample {
  /** Wall-clock seconds of the timed part. */
  seconds: number;
  /** CPU seconds (user + system), when measured. */
  cpuSeconds?: number;
  /** Peak resident set of the process, in bytes, when measured. */
  peakRssBytes?: number;
}

/**
 * The row of a contender's runs: `seconds` is their median, `samples` every run's time (more
 * than one run), `cpuSeconds` the median of the measured CPU times, `peakRssBytes` the largest
 * peak. Callers add `baseline`, `target` and `note`.
 */
export function summarizeSamples(
  group: string,
  name: string,
  data: { bytes: number; messages: number },
  samples: readonly Sample[],
): BenchRow {
  const seconds = samples.map((s) => s.seconds);
  const row: BenchRow = {
    group,
    name,
    bytes: data.bytes,
    messages: data.messages,
    seconds: median(seconds),
  };
  if (samples.length > 1) row.samples = seconds;
  const cpu = samples.flatMap((s) => s.cpuSeconds === undefined ? [] : [s.cpuSeconds]);
  if (cpu.length > 0) row.cpuSeconds = median(cpu);
  const rss = samples.flatMap((s) => s.peakRssBytes === undefined ? [] : [s.peakRssBytes]);
  if (rss.length > 0) row.peakRssBytes = Math.max(...rss);
  return row;
}
