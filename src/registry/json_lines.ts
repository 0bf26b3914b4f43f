/**
 * Append-only JSON-lines files that survive a crash at any byte: each record is one line
 * written with one `write` loop, lines written together share one `fdatasync`, and a reader
 * ignores a torn last line.
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

/** Appends records to a JSON-lines file, one durable batch at a time. */
export class JsonLinesWriter {
  readonly #file: Deno.FsFile;
  readonly #path: string;
  #pending: { line: string; done: () => void; fail: (error: Error) => void }[] = [];
  #flushing: Promise<void> | undefined;
  #closed = false;

  private constructor(file: Deno.FsFile, path: string) {
    this.#file = file;
    this.#path = path;
  }

  /**
   * Rewrites the file with `records` (through a temporary file and a rename, so a crash
   * leaves the old or the new content), then opens it for appending.
   */
  static async rewrite(path: string, records: readonly unknown[]): Promise<JsonLinesWriter> {
    const temporary = `${path}.tmp`;
    const text = records.map((r) => JSON.stringify(r) + "\n").join("");
    {
      using file = await Deno.open(temporary, { write: true, create: true, truncate: true });
      await writeAll(file, encoder.encode(text));
      await file.syncData();
    }
    await Deno.rename(temporary, path);
    const file = await Deno.open(path, { append: true, create: true });
    return new JsonLinesWriter(file, path);
  }

  /** Appends one record; resolves once it is on disk (after `fdatasync`). */
  append(record: unknown): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`The log "${this.#path}" is closed.`));
    const line = JSON.stringify(record) + "\n";
    const written = new Promise<void>((done, fail) => this.#pending.push({ line, done, fail }));
    this.#flushing ??= this.#flush();
    return written;
  }

  async #flush(): Promise<void> {
    // Let records appended in the same turn share one write and one sync.
    await Promise.resolve();
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      try {
        await writeAll(this.#file, encoder.encode(batch.map((b) => b.line).join("")));
        await this.#file.syncData();
        for (const entry of batch) entry.done();
      } catch (error) {
        const failure = new Error(
          `Could not write to "${this.#path}": ${
            error instanceof Error ? error.message : String(error)
          }`,
          { cause: error },
        );
        for (const entry of batch) entry.fail(failure);
      }
    }
    this.#flushing = undefined;
  }

  /** Waits for pending records and closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#flushing;
    this.#file.close();
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
}
