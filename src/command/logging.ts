/**
 * Logging set-up for Ferry's commands, the `ferry` subcommands and every processor's own
 * command line alike (the only place that configures LogTape sinks on the main thread; library
 * code only calls `getLogger(["ferry", ...])`): a console sink on standard error that cooperates
 * with the live status line, and an optional rotating log file.
 *
 * @module
 */

import { releaseConfigWarnings } from "../config/sections.ts";
import {
  configure,
  dispose,
  getLogger,
  getTextFormatter,
  type LogLevel,
  type LogRecord,
  type Sink,
  type TextFormatter,
  withFilter,
} from "@logtape/logtape";
import { getRotatingFileSink } from "@logtape/file";
import { dirname, join } from "node:path";
import { resolveInside, UnsafePathError } from "../files/path.ts";
import { runLogPath } from "../files/layout.ts";
import { ConfigError } from "../config/config_error.ts";
import { stderrTerminal, type Terminal } from "./terminal.ts";

/** The levels a user can choose, lowest first. */
export const LOG_LEVELS: readonly LogLevel[] = [
  "trace",
  "debug",
  "info",
  "warning",
  "error",
  "fatal",
];

/** Options of {@linkcode configureLogging}. */
export interface LoggingOptions {
  /** The console's lowest level; default `info`. */
  level?: LogLevel;
  /**
   * A log file (rotated at 10 MiB, 5 kept); none by default (but see `runLog`). An existing
   * folder, or a path ending in `/`, means `<name>.log` inside it (see {@linkcode logFilePath}).
   */
  file?: string;
  /** The log file's name, without `.log`, when `file` is a folder; default `runLog.name`, else `ferry`. */
  name?: string;
  /**
   * When `file` is not given: log to {@linkcode runLogFile} in this output directory, after
   * checking that no symbolic link there leads the file outside it.
   */
  runLog?: { outputDir: string; name: string };
  /** The log file's lowest level; default the console's level. */
  fileLevel?: LogLevel;
  /** Only warnings and errors on the console (the file keeps its level). */
  quiet?: boolean;
  /** Where console lines go; default standard error. */
  terminal?: Terminal;
  /** More sinks of the command's own, each with its lowest level (a log topic). */
  extraSinks?: readonly { name: string; sink: Sink; level: LogLevel }[];
}

/**
 * Parses a level name as a user types it (`warn` and OpenMSIStream's upper-case names accepted).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseLogLevel } from "./logging.ts";
 *
 * assert.equal(parseLogLevel("WARN"), "warning");
 * assert.throws(() => parseLogLevel("loud"), /"loud"/);
 * ```
 *
 * @param text The name.
 * @returns The LogTape level.
 * @throws {ConfigError} for an unknown name.
 */
export function parseLogLevel(text: string): LogLevel {
  const lower = text.trim().toLowerCase();
  const level = lower === "warn" ? "warning" : lower === "critical" ? "fatal" : lower;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(
      `Log level ${JSON.stringify(text)} is not one of ${LOG_LEVELS.join(", ")}.`,
    );
  }
  return level as LogLevel;
}

function rank(level: LogLevel): number {
  return LOG_LEVELS.indexOf(level);
}

/**
 * Renders a value placed into a log line (the text formatter's `value` option): a string as it
 * is, without quotes (`Processed run1/scan.csv`, `Partitions 0, 1 of lab-csv revoked`), its
 * control characters escaped (`\n`, `\u001b`) so that a record stays one line and cannot move
 * the cursor; an empty string, or one that starts or ends with white space, in double quotes so
 * that it shows; a number as it is (`3.7`, never `"3.7"`); a bigint without its `n`; anything
 * else as `inspect` shows it (an `Error` with its stack, an array as `[ 1, 2 ]`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderLogValue } from "./logging.ts";
 *
 * assert.equal(renderLogValue("run1/scan.csv"), "run1/scan.csv");
 * assert.equal(renderLogValue(3.7), "3.7");
 * assert.equal(renderLogValue("two\nlines"), "two\\nlines");
 * assert.equal(renderLogValue(""), '""');
 * assert.equal(renderLogValue(12n), "12");
 * ```
 *
 * @param value The value.
 * @param inspect How values other than strings, numbers and bigints are shown; default
 *   `Deno.inspect`.
 * @returns The text.
 */
export function renderLogValue(
  value: unknown,
  inspect: (value: unknown) => string = (v) => Deno.inspect(v),
): string {
  if (typeof value === "string") {
    if (value === "" || /^\s|\s$/.test(value)) return JSON.stringify(value);
    return escapeControls(value);
  }
  if (typeof value === "number") return String(value);
  if (typeof value === "bigint") return value.toString();
  return escapeControls(inspect(value), true);
}

/** Whether a UTF-16 code unit is a control character (C0, DEL, C1) or a line separator. */
function isControl(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;
}

function escapeControls(text: string, keepNewlines = false): string {
  let out = "";
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!isControl(code) || (code === 0x0a && keepNewlines)) continue;
    const escape = code === 0x0a
      ? "\\n"
      : code === 0x0d
      ? "\\r"
      : code === 0x09
      ? "\\t"
      : `\\u${code.toString(16).padStart(4, "0")}`;
    out += text.slice(start, i) + escape;
    start = i + 1;
  }
  return start === 0 ? text : out + text.slice(start);
}

/**
 * The text formatter of every Ferry sink (console and log file): `2026-12-05 08:00:25.976 [INF]
 * ferry.file-processor: <message>`, values rendered by {@linkcode renderLogValue}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { textFormatter } from "./logging.ts";
 *
 * const line = textFormatter("none")({
 *   category: ["ferry", "file-processor"],
 *   level: "info",
 *   message: ["Summary: ", 3.7, " MB in ", 5.7, " s, from ", "lab-csv", "."],
 *   rawMessage: "Summary: {mb} MB in {seconds} s, from {topic}.",
 *   properties: {},
 *   timestamp: 0,
 * });
 * assert.equal(line, "[INF] ferry.file-processor: Summary: 3.7 MB in 5.7 s, from lab-csv.\n");
 * ```
 *
 * @param timestamp `date-time` (default) or `none`.
 * @returns The formatter.
 */
export function textFormatter(timestamp: "date-time" | "none" = "date-time"): TextFormatter {
  return getTextFormatter({
    timestamp,
    category: ".",
    value: (v, inspect) => renderLogValue(v, inspect),
  });
}

/**
 * Configures LogTape for a command run (replacing any earlier configuration). Library messages
 * under `["ferry", ...]` go to the console sink (standard error) and, with `file`, to a rotating
 * log file.
 *
 * @example
 * ```ts ignore
 * import { configureLogging } from "./logging.ts";
 * await configureLogging({ level: "info", file: "ferry.log" });
 * ```
 *
 * @param options Levels, file, quiet.
 */
export async function configureLogging(options: LoggingOptions = {}): Promise<void> {
  const consoleLevel: LogLevel = options.quiet ? "warning" : options.level ?? "info";
  const fileLevel: LogLevel = options.fileLevel ?? options.level ?? "info";
  const formatter = textFormatter();
  const terminal = options.terminal ?? stderrTerminal;
  const consoleSink: Sink = (record: LogRecord) => terminal.writeLine(formatter(record));
  const sinks: Record<string, Sink> = { console: withFilter(consoleSink, consoleLevel) };
  let lowest = consoleLevel;
  let file = options.file;
  let unsafe: string | undefined;
  if (file === undefined && options.runLog !== undefined) {
    const { outputDir, name } = options.runLog;
    try {
      file = await resolveInside(outputDir, runLogPath(name));
    } catch (error) {
      if (!(error instanceof UnsafePathError)) throw error;
      unsafe = error.message; // the run itself refuses this output directory with its reason
    }
  }
  if (file !== undefined) {
    const given = options.file !== undefined;
    const path = given ? await logFilePath(file, options.name ?? options.runLog?.name) : file;
    try {
      await Deno.mkdir(dirname(path), { recursive: true });
      sinks.file = withFilter(
        getRotatingFileSink(path, { formatter, maxSize: 10 * 1024 * 1024, maxFiles: 5 }),
        fileLevel,
      );
    } catch (error) {
      throw new LogFileError(path, error, given);
    }
    if (rank(fileLevel) < rank(lowest)) lowest = fileLevel;
  }
  for (const extra of options.extraSinks ?? []) {
    sinks[extra.name] = withFilter(extra.sink, extra.level);
    if (rank(extra.level) < rank(lowest)) lowest = extra.level;
  }
  await configure({
    reset: true,
    sinks,
    loggers: [
      { category: ["ferry"], lowestLevel: lowest, sinks: Object.keys(sinks) },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
  if (unsafe !== undefined) {
    getLogger(["ferry", "logging"]).warn("Not logging to a file: {reason}", { reason: unsafe });
  }
  releaseConfigWarnings();
}

/**
 * Raised by {@linkcode configureLogging} when the log file cannot be opened (a folder that is
 * not writable, a part of the path that is a file, Deno's `--allow-write` not covering it): the
 * message names the path, the reason and what to do, on one line. Commands exit 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LogFileError } from "./logging.ts";
 *
 * const error = new LogFileError("/ro/x.log", new Deno.errors.PermissionDenied("denied"), true);
 * assert.match(error.message, /"\/ro\/x\.log".*permission denied.*--log-file/);
 * ```
 */
export class LogFileError extends Error {
  /** The log file's path. */
  readonly path: string;

  /**
   * Creates the error.
   *
   * @param path The log file's path.
   * @param cause What opening it threw.
   * @param given Whether the path came from `--log-file` (else it is the run's default log).
   */
  constructor(path: string, cause: unknown, given: boolean) {
    super(
      `Cannot write the log file ${JSON.stringify(path)}: ${reasonOf(cause)}. ` +
        (given
          ? "Give --log-file a file or folder you can write to."
          : "Make the output directory writable, or give --log-file another path."),
      { cause },
    );
    this.name = "LogFileError";
    this.path = path;
  }
}

function reasonOf(error: unknown): string {
  // The system's own words too: "Operation not permitted" (immutable), "Permission denied".
  if (error instanceof Deno.errors.PermissionDenied) return `permission denied (${error.message})`;
  if (error instanceof Deno.errors.NotCapable) {
    return "Deno's permissions do not allow it (--allow-write)";
  }
  if (error instanceof Deno.errors.NotADirectory) return "a part of the path is not a folder";
  if (error instanceof Deno.errors.IsADirectory) return "it is a folder";
  if (error instanceof Deno.errors.NotFound) return "its folder does not exist";
  if (error instanceof Deno.errors.AlreadyExists) return "a part of the path is not a folder";
  return error instanceof Error ? error.message : String(error);
}

/**
 * The log file `--log-file <path>` names: `path` itself, or `<path>/<name>.log` when `path` is an
 * existing folder or ends in `/` (OpenMSIStream's `--logger_file_path` names the logs folder).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logFilePath } from "./logging.ts";
 *
 * const dir = await Deno.makeTempDir();
 * assert.equal(await logFilePath(dir, "checksum"), `${dir}/checksum.log`);
 * assert.equal(await logFilePath(`${dir}/run.log`, "checksum"), `${dir}/run.log`);
 * assert.equal(await logFilePath("logs/"), "logs/ferry.log");
 * await Deno.remove(dir);
 * ```
 *
 * @param path What was given.
 * @param name The file's name without `.log` when `path` is a folder; default `ferry`.
 * @returns The log file's path.
 */
export async function logFilePath(path: string, name = "ferry"): Promise<string> {
  if (/[\\/]$/.test(path)) return join(path, `${name}.log`);
  try {
    if ((await Deno.stat(path)).isDirectory) return join(path, `${name}.log`);
  } catch {
    // Not there (or not readable): a file to create, and opening it says what is wrong.
  }
  return path;
}

/**
 * Where a processor run logs when no `--log-file` is given: `<outputDir>/.ferry/<name>.log`,
 * next to the run's registry (rotated at 10 MiB into `<name>.log.1` … `<name>.log.5`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runLogFile } from "./logging.ts";
 *
 * assert.equal(runLogFile("out", "checksum"), "out/.ferry/checksum.log");
 * ```
 *
 * @param outputDir The run's output directory.
 * @param name The processor's name.
 * @returns The log file's path.
 */
export function runLogFile(outputDir: string, name: string): string {
  return join(outputDir, runLogPath(name));
}

/** Flushes and closes the sinks (call before exiting). */
export async function closeLogging(): Promise<void> {
  await dispose();
}
