/**
 * Why a file was not uploaded.
 *
 * @module
 */

/** What went wrong with one file. */
export type UploadFailureKind =
  | "missing"
  | "unreadable"
  | "not_a_file"
  | "changed"
  | "delivery"
  | "send"
  | "log"
  | "interrupted";

/**
 * A file that could not be uploaded; the message names the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UploadError } from "./errors.ts";
 *
 * const error = new UploadError("missing", "a.txt", 'File "a.txt" was deleted before upload.');
 * assert.equal(error.kind, "missing");
 * ```
 */
export class UploadError extends Error {
  /** The kind of failure. */
  readonly kind: UploadFailureKind;
  /** The file's path relative to the uploaded root. */
  readonly path: string;

  /**
   * Creates the error.
   *
   * @param kind The kind of failure.
   * @param path The file's relative path.
   * @param message What happened, naming the file.
   * @param options The underlying error, if any.
   */
  constructor(kind: UploadFailureKind, path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UploadError";
    this.kind = kind;
    this.path = path;
  }
}
