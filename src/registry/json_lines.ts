/**
 * Append-only JSON-lines files that survive a crash at any byte: records appended in the same
 * turn are written together with one synchronous `write` loop (a reader ignores a torn last
 * line), and made durable against a power loss by `sync`: one `fdatasync` for every line
 * written before it (group commit) rather than one per line.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";

const logger = getLogger(["ferry", "registry"]);
const encoder = new TextEncoder();

/**
 * Reads the records of a JSON-lines file; a missing file has none. A line that does not parse
 * is skipped: silently when it is the last one (a torn write), with a warning otherwise.
 */
export async function readJsonLines<T>(path: string): Promise<T[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const lines = text.split("\n");
  const out: T[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line.length === 0) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch (error) {
      const properties = {
        line: i + 1,
        path,
        reason: error instanceof Error ? error.message : String(error),
      };
      const message = "Skipping an unreadable line {line} of {path}: {reason}";
      // The last line may be torn by a crash during its write: expected, not a warning.
      if (i >= lines.length - 2) logger.debug(message, properties);
      else logger.warn(message, properties);
    }
  }
  return out;
}

/** Where a line is in its file. */
export interface LineAt {
  /** Byte offset of its first byte. */
  offset: number;
  /** Its length in bytes, without the newline. */
  length: number;
}

/**
 * Reads back the record whose line is at `at` in the open `file`, synchronously (a few hundred
 * bytes); undefined when those bytes are not JSON (the file was changed by something else: the
 * caller says so).
 */
export function readLineAt<T>(file: Deno.FsFile, at: LineAt): T | undefined {
  const bytes = new Uint8Array(at.length);
  file.seekSync(at.offset, Deno.SeekMode.Start);
  let read = 0;
  while (read < bytes.length) {
    const n = file.readSync(bytes.subarray(read));
    if (n === null) break;
    read += n;
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes.subarray(0, read))) as T;
  } catch {
    return undefined; // said by the caller
  }
}

/**
 * Appends records to a JSON-lines file. An appended record is written (in the page cache, so it
 * survives the process being killed) when `append` resolves, and durable on disk (it survives
 * the machine stopping) once a `sync` called after that resolves.
 */
export class JsonLinesWriter {
  readonly #file: Deno.FsFile;
  readonly #path: string;
  #pending: {
    bytes: Uint8Array;
    done: (at: LineAt) => void;
    at: LineAt;
    fail: (error: Error) => void;
  }[] = [];
  /** The file's length once every line appended so far is written. */
  #end: number;
  #flushing: Promise<void> | undefined;
  /** Lines were written since the last `fdatasync` began. */
  #dirty = false;
  /** The latest `sync`: syncs run one after another. */
  #syncing: Promise<void> = Promise.resolve();
  /**
   * The first write or sync that failed: later lines could join a torn line, and a retried
   * `fdatasync` can succeed without the lost pages ever reaching the disk, so the log takes no
   * more lines and no later sync succeeds.
   */
  #broken: Error | undefined;
  #closed = false;

  private constructor(file: Deno.FsFile, path: string, end: number) {
    this.#file = file;
    this.#path = path;
    this.#end = end;
  }

  /**
   * Rewrites the file with `records` (through a temporary file and a rename, so a crash
   * leaves the old or the new content), then opens it for appending. `onLine` is told where
   * each record's line is in the new file.
   */
  static async rewrite(
    path: string,
    records: readonly unknown[],
    onLine?: (index: number, at: LineAt) => void,
  ): Promise<JsonLinesWriter> {
    const temporary = `${path}.tmp`;
    const lines = records.map((r) => encoder.encode(JSON.stringify(r) + "\n"));
    let end = 0;
    for (let i = 0; i < lines.length; i++) {
      onLine?.(i, { offset: end, length: lines[i].length - 1 });
      end += lines[i].length;
    }
    {
      using file = await Deno.open(temporary, { write: true, create: true, truncate: true });
      const text = new Uint8Array(end);
      let at = 0;
      for (const line of lines) {
        text.set(line, at);
        at += line.length;
      }
      await writeAll(file, text);
      await file.syncData();
    }
    await Deno.rename(temporary, path);
    const file = await Deno.open(path, { append: true, create: true });
    return new JsonLinesWriter(file, path, end);
  }

  /**
   * Appends one record; resolves once it is written to the file (survives the process being
   * killed; durable against a power loss only after a later `sync`), with where its line is.
   */
  append(record: unknown): Promise<LineAt> {
    if (this.#closed) return Promise.reject(new Error(`The log "${this.#path}" is closed.`));
    if (this.#broken) return Promise.reject(this.#broken);
    const bytes = encoder.encode(JSON.stringify(record) + "\n");
    const at = { offset: this.#end, length: bytes.length - 1 };
    this.#end += bytes.length;
    const written = new Promise<LineAt>((done, fail) =>
      this.#pending.push({ bytes, at, done, fail })
    );
    this.#flushing ??= this.#flush();
    return written;
  }

  /**
   * Makes every record appended before this call durable on disk: waits for their write,
   * then one `fdatasync` (none when nothing was written since the last one).
   */
  sync(): Promise<void> {
    const run = this.#syncing.catch(() => undefined).then(() => this.#syncNow());
    this.#syncing = run;
    return run;
  }

  async #syncNow(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#broken) throw this.#broken;
    if (!this.#dirty) return;
    // Lines written while the sync runs set the flag again: the next sync covers them.
    this.#dirty = false;
    try {
      await this.#file.syncData();
    } catch (error) {
      this.#broken ??= new Error(
        `Could not sync "${this.#path}" to disk: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
      throw this.#broken;
    }
  }

  async #flush(): Promise<void> {
    // Let records appended in the same turn share one write.
    await Promise.resolve();
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      try {
        if (this.#broken) throw this.#broken;
        // A synchronous write: a few hundred bytes go to the page cache in microseconds, while
        // an asynchronous one is a round trip through Deno's I/O threads (and a dup/close of
        // the descriptor) for every batch.
        writeAllSync(this.#file, joinBytes(batch.map((b) => b.bytes)));
        this.#dirty = true;
        for (const entry of batch) entry.done(entry.at);
      } catch (error) {
        // Part of the batch may be written: it ends in a torn or complete line, never a
        // record reported as written.
        this.#broken ??= new Error(
          `Could not write to "${this.#path}": ${
            error instanceof Error ? error.message : String(error)
          }`,
          { cause: error },
        );
        for (const entry of batch) entry.fail(this.#broken);
      }
    }
    this.#flushing = undefined;
  }

  /**
   * Waits for pending records, syncs them to disk and closes the file. A log whose write or
   * sync failed before is closed without a sync (that failure was reported already).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      while (this.#flushing) await this.#flushing;
      if (!this.#broken) await this.sync();
    } finally {
      this.#file.close();
    }
  }
}

/**
 * The bytes of `parts` one after the other (the one part itself when there is one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { joinBytes } from "./json_lines.ts";
 * assert.deepEqual(joinBytes([Uint8Array.of(1), Uint8Array.of(2, 3)]), Uint8Array.of(1, 2, 3));
 * ```
 */
export function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return joined;
}

function writeAllSync(file: Deno.FsFile, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) offset += file.writeSync(bytes.subarray(offset));
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
}
