/**
 * `kcat` as a benchmark contender: consuming a topic from the beginning to `/dev/null` and
 * producing a newline-delimited file, each one measured child process.
 *
 * @module
 */

import { measureProcess } from "./process.ts";
import type { Sample } from "./samples.ts";

/** `-X name=value` for every setting. */
export function kcatSettings(settings: Readonly<Record<string, string>>): string[] {
  return Object.entries(settings).flatMap(([name, value]) => ["-X", `${name}=${value}`]);
}

/** Runs `kcat` with `args` (output discarded) and returns its wall time, CPU time and peak RSS. */
export async function runKcat(args: readonly string[], cwd?: string): Promise<Sample> {
  const run = await measureProcess("kcat", args, { cwd });
  return { seconds: run.seconds, cpuSeconds: run.cpuSeconds, peakRssBytes: run.peakRssBytes };
}

/**
 * `kcat -C -e -o beginning -q > /dev/null`: exits at the end of every partition (which costs it
 * one `fetch.wait.max.ms`), or with `count` at the count-th message.
 */
export function kcatConsume(
  bootstrap: string,
  topic: string,
  options: { count?: number; settings?: Readonly<Record<string, string>> } = {},
): Promise<Sample> {
  return runKcat([
    "-C",
    "-b",
    bootstrap,
    "-t",
    topic,
    "-e",
    ...(options.count === undefined ? [] : ["-c", String(options.count)]),
    "-o",
    "beginning",
    "-q",
    ...kcatSettings(options.settings ?? {}),
  ]);
}

/** `kcat -P -l`: produces every line of `file` (newline-delimited) as one message. */
export function kcatProduceLines(
  bootstrap: string,
  topic: string,
  file: string,
  settings: Readonly<Record<string, string>>,
): Promise<Sample> {
  return runKcat([
    "-P",
    "-b",
    bootstrap,
    "-t",
    topic,
    "-q",
    ...kcatSettings(settings),
    "-D",
    "\\n",
    "-l",
    file,
  ]);
}
