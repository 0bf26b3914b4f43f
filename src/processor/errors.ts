/**
 * How the processors turn anything thrown into text for their log lines and messages.
 *
 * @module
 */

/**
 * The message of anything thrown: an `Error`'s message, anything else as text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorText } from "./errors.ts";
 * assert.equal(errorText(new Error("Disk full.")), "Disk full.");
 * assert.equal(errorText("plain"), "plain");
 * ```
 */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
