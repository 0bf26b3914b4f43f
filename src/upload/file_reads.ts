/**
 * Reading the file being uploaded: `stat` (synchronous, with a failure that names the file),
 * opening it, filling a buffer, and reading a small file whole; a file whose size moved while it
 * was read throws {@linkcode FileChanged}. Moved out of `file_uploader.ts`, shared by its two
 * passes (`first_pass.ts`, `second_pass.ts`).
 *
 * @module
 */

import { describe, FileChanged, readFailure } from "./file_failures.ts";
import { UploadError } from "./errors.ts";

/** The mtime of a stat, in ms since the epoch, or null when the file system gives none. */
export function mtimeOf(info: Deno.FileInfo): number | null {
  return info.mtime?.getTime() ?? null;
}

/** Reads until `buffer` is full or the file ends; returns the bytes read. */
export async function readFull(file: Deno.FsFile, buffer: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const n = await file.read(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return filled;
}

/** Opens a file to read it. */
export async function openFile(full: string, path: string): Promise<Deno.FsFile> {
  try {
    return await Deno.open(full, { read: true });
  } catch (error) {
    throw readFailure(error, path);
  }
}

/**
 * Reads a small file whole, synchronously (see `readSingle` in `first_pass.ts`); one whose size is not
 * `size` any more changed.
 */
export function readKept(full: string, path: string, size: number): Uint8Array<ArrayBuffer> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = Deno.readFileSync(full);
  } catch (error) {
    throw readFailure(error, path);
  }
  if (bytes.length !== size) throw new FileChanged();
  return bytes;
}

/** Reads a small file whole into `into`, synchronously; one of another size changed. */
export function readWholeSync(full: string, path: string, into: Uint8Array): void {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(full, { read: true });
  } catch (error) {
    throw readFailure(error, path);
  }
  try {
    let filled = 0;
    while (filled < into.length) {
      const n = file.readSync(into.subarray(filled));
      if (n === null) throw new FileChanged(); // it shrank
      filled += n;
    }
    if (file.readSync(new Uint8Array(1)) !== null) throw new FileChanged(); // it grew
  } finally {
    file.close();
  }
}

/** `stat`, synchronously: a few microseconds, where an asynchronous one costs tens. */
export function statFile(full: string, path: string): Deno.FileInfo {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(full);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UploadError("missing", path, `File "${path}" was deleted before it was uploaded.`, {
        cause: error,
      });
    }
    throw new UploadError("unreadable", path, `File "${path}" cannot be read: ${describe(error)}`, {
      cause: error,
    });
  }
  if (!info.isFile) {
    throw new UploadError("not_a_file", path, `Path "${path}" is not a regular file.`);
  }
  return info;
}
