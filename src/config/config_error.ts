/**
 * The error raised for a configuration problem the user must fix: a bad config file, a missing
 * environment variable, a flag value that makes no sense.
 *
 * @module
 */

/**
 * A configuration problem, with where it was found when it came from a file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError } from "./config_error.ts";
 *
 * const error = new ConfigError('Environment variable "KAFKA_HOST" is not set.', {
 *   file: "ferry.config",
 *   line: 2,
 * });
 * assert.equal(error.message, 'ferry.config:2: Environment variable "KAFKA_HOST" is not set.');
 * ```
 */
export class ConfigError extends Error {
  /** The config file the problem is in, if any. */
  readonly file: string | undefined;
  /** The 1-based line in {@linkcode ConfigError.file}, if known. */
  readonly line: number | undefined;

  /**
   * Creates the error; with a file (and line) the message is prefixed by `file:line: `.
   *
   * @param message What is wrong, in sentence case, with the offending value quoted.
   * @param where The file and line, when the problem comes from a file.
   */
  constructor(message: string, where: { file?: string; line?: number; cause?: unknown } = {}) {
    const prefix = where.file === undefined
      ? ""
      : where.line === undefined
      ? `${where.file}: `
      : `${where.file}:${where.line}: `;
    super(prefix + message, where.cause === undefined ? undefined : { cause: where.cause });
    this.name = "ConfigError";
    this.file = where.file;
    this.line = where.line;
  }
}
