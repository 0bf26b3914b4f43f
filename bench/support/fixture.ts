/**
 * Ferry programs under measurement: a script run by `deno run --allow-all` with the project's
 * `deno.json` (under `--cpu-prof` when `FERRY_BENCH_CPU_PROF=<dir>` is set), the JSON notes a
 * benchmark fixture leaves in a folder, and a fixture's run timed by those notes.
 *
 * @module
 */

import { join } from "node:path";
import { uniqueTopicName } from "./kafka.ts";
import { type MeasureOptions, measureProcess, type ProcessMeasurement } from "./process.ts";

const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/**
 * Runs `deno run --allow-all --config deno.json [--cpu-prof ...] <script> <args>` under
 * {@linkcode measureProcess}.
 */
export function measureDenoScript(
  script: string,
  args: readonly string[],
  options: MeasureOptions = {},
): Promise<ProcessMeasurement> {
  const profileDir = Deno.env.get("FERRY_BENCH_CPU_PROF");
  const profile = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
  return measureProcess(
    Deno.execPath(),
    ["run", "--allow-all", "--config", CONFIG, ...profile, script, ...args],
    options,
  );
}

/** Parses every file of `dir` whose name matches `pattern` as JSON. */
export async function readJsonNotes<T>(dir: string, pattern: RegExp): Promise<T[]> {
  const notes: T[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (pattern.test(entry.name)) {
      notes.push(JSON.parse(await Deno.readTextFile(join(dir, entry.name))) as T);
    }
  }
  return notes;
}

/** What {@linkcode runBenchFixture} observed. */
export interface FixtureRun<T> {
  /** The process: its exit, wall seconds, CPU time, peak RSS and stderr. */
  run: ProcessMeasurement;
  /** The notes the fixture left. */
  notes: T[];
  /** Seconds from spawning the process to the latest `lastEnd` of the notes. */
  seconds: number;
}

/** Where and how {@linkcode runBenchFixture} runs a fixture. */
export interface FixtureOptions {
  /** The broker. */
  bootstrap: string;
  /** The topic to read. */
  topic: string;
  /** Prefix of the fresh consumer group's name. */
  groupPrefix: string;
  /** The fixture's own flags (where it writes its notes, workers, mode, ...). */
  args: readonly string[];
  /** The folder the fixture writes its notes into. */
  notesDir: string;
  /** The names of the notes' files. */
  notesPattern: RegExp;
}

/**
 * Runs a benchmark fixture (a Ferry program under `bench/fixtures/`, `-t <topic> -b <bootstrap>
 * -g <fresh group> <args> --exit-when-idle=0.5 --log-level warning`) until it exits, and reads
 * its notes. The time is from spawning the process to the end of the fixture's last call (the
 * greatest `lastEnd`, ms since the epoch), so the idle wait before it exits is left out.
 */
export async function runBenchFixture<T extends { lastEnd: number }>(
  script: string,
  options: FixtureOptions,
): Promise<FixtureRun<T>> {
  const started = performance.timeOrigin + performance.now();
  const run = await measureDenoScript(script, [
    "-t",
    options.topic,
    "-b",
    options.bootstrap,
    "-g",
    uniqueTopicName(options.groupPrefix),
    ...options.args,
    "--exit-when-idle=0.5",
    "--log-level",
    "warning",
  ]);
  const notes = await readJsonNotes<T>(options.notesDir, options.notesPattern);
  const lastEnd = Math.max(...notes.map((n) => n.lastEnd));
  return { run, notes, seconds: (lastEnd - started) / 1000 };
}
