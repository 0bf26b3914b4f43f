/**
 * `@platformatic/kafka` as a benchmark contender: runs `bench/fixtures/platformatic_consume.ts`
 * (a plain consume loop from the beginning, in a fresh group, until every message is read) in a
 * child `deno run` with the project's `deno.json`, measured like every other child (wall time,
 * CPU, peak RSS). The parent never imports the client.
 *
 * @module
 */

import { measureDenoScript } from "./fixture.ts";
import type { ProcessMeasurement } from "./process.ts";

/** The fixture, `bench/fixtures/platformatic_consume.ts`. */
export const PLATFORMATIC_FIXTURE: string =
  new URL("../fixtures/platformatic_consume.ts", import.meta.url).pathname;

/** What the fixture is told. */
export interface PlatformaticSpec {
  /** `host:port` of the broker. */
  bootstrap: string;
  /** The topic to read from the beginning. */
  topic: string;
  /** Messages to read before stopping. */
  count: number;
  /** Give up after this long; default 10 minutes. */
  timeoutMs?: number;
}

/** One run of the fixture: its own report and the process around it. */
export interface PlatformaticResult {
  /** Messages read. */
  messages: number;
  /** Their key and value bytes. */
  bytes: number;
  /** Seconds from creating the consumer to having closed it (timed inside the child). */
  seconds: number;
  /** CPU seconds over the same span, counted inside the child. */
  cpuSeconds: number;
  /** Seconds from spawning the child to the last message arriving (start-up included). */
  secondsFromSpawn: number;
  /** The whole child process: wall seconds, CPU seconds (start-up included), peak RSS. */
  run: ProcessMeasurement;
}

/**
 * Runs the fixture once and checks it read `spec.count` messages (and `expectBytes` bytes of
 * keys and values, when given).
 */
export async function runPlatformatic(
  spec: PlatformaticSpec,
  expectBytes?: number,
): Promise<PlatformaticResult> {
  const spawned = performance.timeOrigin + performance.now();
  const run = await measureDenoScript(PLATFORMATIC_FIXTURE, [JSON.stringify(spec)], {
    stdout: "piped",
  });
  const line = run.stdout.trim().split("\n").pop() ?? "";
  let report: {
    messages: number;
    bytes: number;
    seconds: number;
    cpuSeconds: number;
    lastMessageAt: number;
  };
  try {
    report = JSON.parse(line);
  } catch {
    throw new Error(`@platformatic/kafka's child printed no report:\n${run.stdout}\n${run.stderr}`);
  }
  if (
    report.messages !== spec.count || (expectBytes !== undefined && report.bytes !== expectBytes)
  ) {
    throw new Error(
      `@platformatic/kafka read ${report.messages} messages, ${report.bytes} bytes; expected ` +
        `${spec.count}${expectBytes === undefined ? "" : `, ${expectBytes} bytes`}.\n${run.stderr}`,
    );
  }
  return {
    messages: report.messages,
    bytes: report.bytes,
    seconds: report.seconds,
    cpuSeconds: report.cpuSeconds,
    secondsFromSpawn: (report.lastMessageAt - spawned) / 1000,
    run,
  };
}
