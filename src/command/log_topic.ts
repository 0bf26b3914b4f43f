/**
 * Log messages to a Kafka topic (`--log-topic`): a LogTape sink, added by the command's logging
 * set-up (never by library code), that keeps the run's warnings and errors (the `[log]` section's
 * `log.level` chooses another level), and every `--log-interval` seconds one JSON message with
 * those logged since the previous one. The message follows OpenMSIStream's
 * (`log_producibles.py`): the key is `<program id>_log`, the value holds `timestamp` (Unix
 * seconds, as OpenMSIStream's) and `messages` (the lines as the console shows them); Ferry adds
 * `program_id`, `program` and `entries`, one object per line with its UTC ISO time, level,
 * category and message.
 *
 * @module
 */

import type { LogLevel, LogRecord, Sink } from "@logtape/logtape";
import { LOG_LEVELS, renderLogValue, textFormatter } from "./logging.ts";

/** One log line in a log topic message. */
export interface LogTopicEntry {
  /** When it was logged: UTC, ISO 8601. */
  timestamp: string;
  /** `warning`, `error`, `fatal` (or lower with `log.level`). */
  level: LogLevel;
  /** The logger category, with dots (`ferry.file-processor`). */
  category: string;
  /** The message, its values filled in. */
  message: string;
}

/** The JSON value of one log topic message. */
export interface LogTopicValue {
  /** When it was sent, in seconds since the Unix epoch (OpenMSIStream's field). */
  timestamp: number;
  /** The program id (also in the key). */
  program_id: string;
  /** The processor's name, `download` or `upload`. */
  program: string;
  /** The lines as the console shows them (OpenMSIStream's field). */
  messages: string[];
  /** The same lines, one object each. */
  entries: LogTopicEntry[];
  /** Lines left out since the previous message because more than `max.logs.per.message` came. */
  dropped: number;
}

/** The most lines one message holds by default (the `[log]` section's `max.logs.per.message`). */
export const DEFAULT_MAX_LOGS_PER_MESSAGE = 1000;

/**
 * Keeps the log lines at or above a level until they are taken for a message; beyond
 * `maxLines`, the oldest are dropped (and counted).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LogTopicBuffer } from "./log_topic.ts";
 *
 * const buffer = new LogTopicBuffer({ programId: "p1", program: "checksum", level: "warning" });
 * const record = (level: "info" | "error") => ({
 *   category: ["ferry", "file-processor"], level, message: ["Failed ", "a.csv", "."],
 *   rawMessage: "Failed {path}.", properties: { path: "a.csv" }, timestamp: 0,
 * });
 * buffer.sink(record("info"));
 * buffer.sink(record("error"));
 * const value = buffer.take(new Date(1000))!;
 * assert.equal(value.timestamp, 1);
 * assert.deepEqual(value.entries, [{
 *   timestamp: "1970-01-01T00:00:00.000Z", level: "error", category: "ferry.file-processor",
 *   message: "Failed a.csv.",
 * }]);
 * assert.equal(buffer.take(), undefined);
 * ```
 */
export class LogTopicBuffer {
  readonly #programId: string;
  readonly #program: string;
  readonly #lowest: number;
  readonly #maxLines: number;
  readonly #format = textFormatter();
  #entries: LogTopicEntry[] = [];
  #messages: string[] = [];
  #dropped = 0;

  /**
   * Creates the buffer.
   *
   * @param options Program id and name, the lowest level kept, the most lines per message.
   */
  constructor(options: { programId: string; program: string; level: LogLevel; maxLines?: number }) {
    this.#programId = options.programId;
    this.#program = options.program;
    this.#lowest = LOG_LEVELS.indexOf(options.level);
    this.#maxLines = options.maxLines ?? DEFAULT_MAX_LOGS_PER_MESSAGE;
  }

  /** The message key: `<program id>_log`, as OpenMSIStream's. */
  get key(): string {
    return `${this.#programId}_log`;
  }

  /** The LogTape sink: keeps a line at or above the level. */
  readonly sink: Sink = (record: LogRecord) => {
    if (LOG_LEVELS.indexOf(record.level) < this.#lowest) return;
    const message = record.message
      .map((part, i) => i % 2 === 0 ? String(part) : renderLogValue(part))
      .join("");
    this.#entries.push({
      timestamp: new Date(record.timestamp).toISOString(),
      level: record.level,
      category: record.category.join("."),
      message,
    });
    this.#messages.push(this.#format(record).trimEnd());
    if (this.#entries.length > this.#maxLines) {
      this.#entries.shift();
      this.#messages.shift();
      this.#dropped++;
    }
  };

  /**
   * The lines kept since the last call, as a message value; `undefined` when there are none.
   *
   * @param now The message's time.
   */
  take(now: Date = new Date()): LogTopicValue | undefined {
    if (this.#entries.length === 0 && this.#dropped === 0) return undefined;
    const value: LogTopicValue = {
      timestamp: now.getTime() / 1000,
      program_id: this.#programId,
      program: this.#program,
      messages: this.#messages,
      entries: this.#entries,
      dropped: this.#dropped,
    };
    this.#entries = [];
    this.#messages = [];
    this.#dropped = 0;
    return value;
  }
}
