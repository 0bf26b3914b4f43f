/**
 * What a running processor shows: LogTape sinks (stderr, and a rotating log file), and a live
 * status line on a terminal (a log line per status interval otherwise).
 *
 * @module
 */

import {
  configure,
  getLogger,
  getStreamSink,
  getTextFormatter,
  type LogLevel,
  type Sink,
  withFilter,
} from "@logtape/logtape";
import { getRotatingFileSink } from "@logtape/file";

/** Options for {@linkcode configureRunLogging}. */
export interface RunLoggingOptions {
  /** The console's lowest level. */
  level: string;
  /** A log file, rotated at 10 MB (5 kept). */
  file?: string;
  /** The log file's lowest level; default the console's. */
  fileLevel?: string;
}

/** Configures LogTape for a run: Ferry's loggers to stderr and, optionally, a log file. */
export async function configureRunLogging(options: RunLoggingOptions): Promise<void> {
  const formatter = getTextFormatter({ timestamp: "date-time", category: "." });
  const sinks: Record<string, Sink> = {
    console: getStreamSink(Deno.stderr.writable, { formatter }),
  };
  const consoleLevel = options.level as LogLevel;
  const fileLevel = (options.fileLevel ?? options.level) as LogLevel;
  if (options.file) {
    sinks.file = getRotatingFileSink(options.file, {
      formatter,
      maxSize: 10 * 1024 * 1024,
      maxFiles: 5,
    });
  }
  const filtered: Record<string, Sink> = {
    console: withFilter(sinks.console, consoleLevel),
  };
  if (sinks.file) filtered.file = withFilter(sinks.file, fileLevel);
  const lowest = options.file && levelRank(fileLevel) < levelRank(consoleLevel)
    ? fileLevel
    : consoleLevel;
  await configure({
    reset: true,
    sinks: filtered,
    loggers: [
      { category: ["ferry"], lowestLevel: lowest, sinks: Object.keys(filtered) },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}

const RANKS: Record<string, number> = {
  trace: 0,
  debug: 1,
  info: 2,
  warning: 3,
  error: 4,
  fatal: 5,
};

function levelRank(level: string): number {
  return RANKS[level] ?? 2;
}

const encoder = new TextEncoder();

/** A live status line on a terminal; on anything else, an info log line per update. */
export class StatusLine {
  readonly #tty = Deno.stderr.isTerminal();
  readonly #logger = getLogger(["ferry", "status"]);
  #lastBytes = 0;
  #lastAt = Date.now();
  #shown = false;

  /** Shows `text`, followed by the data rate since the last update. */
  update(text: string, bytes: number): void {
    const now = Date.now();
    const rate = (bytes - this.#lastBytes) / Math.max(0.001, (now - this.#lastAt) / 1000);
    this.#lastBytes = bytes;
    this.#lastAt = now;
    const line = `${text}, ${(rate / 1e6).toFixed(1)} MB/s`;
    if (this.#tty) {
      Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${line}`));
      this.#shown = true;
    } else this.#logger.info("Status: {line}", { line });
  }

  /** Ends the line, so later output starts on a fresh one. */
  done(): void {
    if (this.#shown) Deno.stderr.writeSync(encoder.encode("\n"));
    this.#shown = false;
  }
}
