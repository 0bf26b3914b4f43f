/**
 * What the benchmark sections share: the section contract ({@linkcode BenchOptions},
 * {@linkcode BenchRow}), table printing, timing, measured child processes (wall time, CPU,
 * peak RSS from `/proc/<pid>/status`), and Kafka topics through Ferry's binding; samples of
 * runs and their rows, kcat as a contender, Ferry scripts and their notes, random data sets,
 * the SHA-512 pass that CPU times are expressed in, and `@platformatic/kafka` as a contender.
 *
 * @module
 */

export type { BenchEntry, BenchOptions, BenchRow } from "./types.ts";
export {
  benchTable,
  bestRate,
  formatRatios,
  formatTable,
  ratioLines,
  ratioToBaseline,
  rowPasses,
  rowRate,
} from "./table.ts";
export type { Align, RatioLine } from "./table.ts";
export { clockTicksPerSecond, cpuSeconds, mbPerSecond, median, stopwatch } from "./timing.ts";
export type { Stopwatch } from "./timing.ts";
export { measureProcess, readPeakRss, resetPeakRss, syncDisks } from "./process.ts";
export type { MeasureOptions, ProcessMeasurement } from "./process.ts";
export {
  countMessages,
  createTopics,
  defaultBootstrap,
  deleteTopics,
  requireBroker,
  uniqueTopicName,
} from "./kafka.ts";
export { summarizeSamples } from "./samples.ts";
export type { Sample } from "./samples.ts";
export { kcatConsume, kcatProduceLines, kcatSettings, runKcat } from "./kcat.ts";
export { measureDenoScript, readJsonNotes, runBenchFixture } from "./fixture.ts";
export type { FixtureOptions, FixtureRun } from "./fixture.ts";
export { makeDataSet, SMALL_FILE_BYTES, writeRandomFile } from "./files.ts";
export { openMsiStreamBin } from "./openmsistream.ts";
export {
  applySha512Pass,
  describeSha512Pass,
  measureSha512Pass,
  SHA512_MIN_HASHED_BYTES,
  SHA512_PASS_REPEATS,
  SHA512_UPDATE_BYTES,
} from "./sha512_pass.ts";
export type { Sha512Pass } from "./sha512_pass.ts";
export { PLATFORMATIC_FIXTURE, runPlatformatic } from "./platformatic.ts";
export type { PlatformaticResult, PlatformaticSpec } from "./platformatic.ts";
