/**
 * Capturing log records in memory: everything logged under the `["ferry"]` category while a
 * function runs, and the records as the text formatter prints them.
 *
 * @module
 */

import { configure, type LogLevel, type LogRecord, reset } from "@logtape/logtape";
import { textFormatter } from "../../src/command/logging.ts";

/**
 * Runs `fn` with every record under `["ferry"]` from `lowestLevel` up (and LogTape's own
 * warnings) captured in memory; resets the logging configuration afterwards.
 */
export async function captureLogs(
  fn: () => void | Promise<void>,
  lowestLevel: LogLevel = "trace",
): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["ferry"], lowestLevel, sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["memory"] },
    ],
  });
  try {
    await fn();
  } finally {
    await reset();
  }
  return records;
}

const format = textFormatter("none");

/**
 * The records as Ferry's text formatter prints them (`[INF] ferry.x: message`, see
 * `textFormatter`), one line each.
 */
export function formatLines(records: readonly LogRecord[]): string[] {
  return records.map((record) => format(record).trimEnd());
}
