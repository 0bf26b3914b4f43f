/**
 * Exit codes of the `ferry` command.
 *
 * @module
 */

/**
 * `OK` 0; `FAILURE` 1 (a runtime error, or some file failed); `USAGE` 2 (bad flags or config);
 * `INTERRUPTED` 130 (stopped at once by a second signal).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ExitCode } from "./exit_codes.ts";
 * assert.equal(ExitCode.USAGE, 2);
 * ```
 */
export const ExitCode = { OK: 0, FAILURE: 1, USAGE: 2, INTERRUPTED: 130 } as const;

/** Raised for a command line that makes no sense; the CLI exits with {@linkcode ExitCode.USAGE}. */
export class UsageError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
