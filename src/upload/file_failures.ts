/**
 * How the upload of one file fails: {@linkcode FileChanged} inside an attempt when the file
 * changed under it, and the classification of any failure into an {@linkcode UploadError} that
 * names the file and says what kind of failure it is. Moved out of `file_uploader.ts`, whose
 * attempts throw these and whose `uploadFile` turns them into a failed outcome.
 *
 * @module
 */

import { KafkaError } from "../kafka/mod.ts";
import { UploadError } from "./errors.ts";

/** Raised inside an attempt when the file changed under it. */
export class FileChanged extends Error {}

/** A file that cannot be opened fails as "unreadable" (one deleted meanwhile, as "missing"). */
export function readFailure(error: unknown, path: string): unknown {
  if (error instanceof Deno.errors.NotFound) return error;
  return new UploadError("unreadable", path, `File "${path}" cannot be read: ${describe(error)}`, {
    cause: error,
  });
}

/** The message of an error, or the error as a string. */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The {@linkcode UploadError} naming `path` that an attempt's failure becomes: its kind
 * (changed, interrupted, missing, unreadable, send) told from the error's class.
 */
export function toUploadError(error: unknown, path: string): UploadError {
  if (error instanceof UploadError) return error;
  if (error instanceof FileChanged) {
    return new UploadError(
      "changed",
      path,
      `File "${path}" kept changing while it was uploaded; it was not uploaded.`,
    );
  }
  if (error instanceof DOMException && error.name === "AbortError") {
    return new UploadError("interrupted", path, `File "${path}" was not finished: interrupted.`, {
      cause: error,
    });
  }
  if (error instanceof Deno.errors.NotFound) {
    return new UploadError("missing", path, `File "${path}" was deleted during upload.`, {
      cause: error,
    });
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new UploadError(
      "unreadable",
      path,
      `File "${path}" cannot be read: ${describe(error)}`,
      {
        cause: error,
      },
    );
  }
  if (error instanceof KafkaError) {
    return new UploadError("send", path, `File "${path}" could not be sent: ${error.message}`, {
      cause: error,
    });
  }
  return new UploadError("unreadable", path, `File "${path}" failed: ${describe(error)}`, {
    cause: error,
  });
}
