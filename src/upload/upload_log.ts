/**
 * The upload log: a human-readable, append-only JSON-lines file that records which files were
 * acknowledged by the broker, so a restarted upload skips files already uploaded and resends
 * only the chunks that were not acknowledged.
 *
 * Default place: `<root>/.ferry/upload_to_<topic>.jsonl`. Every line is one JSON object written
 * with a single `write` call; a line torn by a crash (no trailing newline, or not valid JSON) is
 * ignored when the log is read, and the next append starts on a fresh line. Records:
 *
 * - `{"event":"start", path, size, mtime, sha512, chunks, chunkSize, at}`: an upload of this
 *   version of the file began.
 * - `{"event":"acked", path, sha512, acked: [chunk indexes]}`: these chunks were acknowledged.
 * - `{"event":"done", path, size, mtime, sha512, chunks, chunkSize, at}`: every chunk acknowledged.
 * - `{"event":"empty", path, size: 0, mtime, at}`: an empty file, skipped (nothing sent).
 *
 * @module
 */

import { dirname } from "node:path";
import { getLogger } from "@logtape/logtape";

/** A file version the log knows was fully acknowledged (or skipped as empty). */
export interface UploadedRecord {
  /** The POSIX path relative to the uploaded root. */
  path: string;
  /** Size in bytes. */
  size: number;
  /** Modification time in milliseconds since the epoch, or null when unknown. */
  mtime: number | null;
  /** Lowercase hex SHA-512 of the file ("" for an empty file). */
  sha512: string;
  /** Number of chunks (0 for an empty file). */
  chunks: number;
  /** The chunk size used. */
  chunkSize: number;
  /** Whether it was an empty file, skipped. */
  empty: boolean;
}

/** A file version whose upload began but did not finish. */
export interface PartialRecord {
  /** The POSIX path relative to the uploaded root. */
  path: string;
  /** Lowercase hex SHA-512 of that version. */
  sha512: string;
  /** Number of chunks of that version. */
  chunks: number;
  /** The chunk size used. */
  chunkSize: number;
  /** Chunk indexes (1-based) the broker acknowledged. */
  acked: Set<number>;
}

const logger = getLogger(["ferry", "upload", "log"]);
const encoder = new TextEncoder();

/** The upload log of one root directory and topic. Open it with {@linkcode UploadLog.open}. */
export class UploadLog implements AsyncDisposable {
  /** Where the log is. */
  readonly path: string;
  readonly #file: Deno.FsFile;
  readonly #uploaded = new Map<string, UploadedRecord>();
  readonly #partial = new Map<string, PartialRecord>();
  #pendingAcks = new Map<string, { sha512: string; acked: number[] }>();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /**
   * Opens (creating if needed) the log at `path` and reads what it records.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { UploadLog } from "./upload_log.ts";
   *
   * const dir = await Deno.makeTempDir();
   * {
   *   await using log = await UploadLog.open(`${dir}/log.jsonl`);
   *   await log.recordDone({
   *     path: "a.txt", size: 3, mtime: 1, sha512: "ab", chunks: 1, chunkSize: 512, empty: false,
   *   });
   * }
   * await using again = await UploadLog.open(`${dir}/log.jsonl`);
   * assert.equal(again.uploaded("a.txt")?.sha512, "ab");
   * await Deno.remove(dir, { recursive: true });
   * ```
   *
   * @param path The log file.
   * @returns The open log.
   */
  static async open(path: string): Promise<UploadLog> {
    await Deno.mkdir(dirname(path), { recursive: true });
    let text = "";
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const file = await Deno.open(path, { append: true, create: true });
    const log = new UploadLog(path, file);
    log.#load(text);
    if (text.length > 0 && !text.endsWith("\n")) {
      // A torn last line: start the next record on a line of its own.
      await file.write(encoder.encode("\n"));
    }
    return log;
  }

  #load(text: string): void {
    const lines = text.split("\n");
    const complete = text.endsWith("\n") ? lines.length - 1 : lines.length - 1;
    // The last element is "" (text ends with a newline) or a torn line: ignored either way.
    for (let i = 0; i < complete; i++) {
      const line = lines[i].trim();
      if (line === "") continue;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line);
      } catch (error) {
        logger.warn("Ignoring unreadable line {line} of {path}: {error}", {
          line: i + 1,
          path: this.path,
          error: String(error),
        });
        continue;
      }
      this.#apply(record);
    }
    if (!text.endsWith("\n") && lines[lines.length - 1].trim() !== "") {
      logger.warn("Ignoring the torn last line of {path} (left by an interrupted write).", {
        path: this.path,
      });
    }
  }

  #apply(record: Record<string, unknown>): void {
    const path = typeof record.path === "string" ? record.path : undefined;
    if (path === undefined) return;
    switch (record.event) {
      case "start": {
        this.#partial.set(path, {
          path,
          sha512: String(record.sha512),
          chunks: Number(record.chunks),
          chunkSize: Number(record.chunkSize),
          acked: new Set(),
        });
        break;
      }
      case "acked": {
        const partial = this.#partial.get(path);
        if (partial && partial.sha512 === record.sha512 && Array.isArray(record.acked)) {
          for (const index of record.acked) {
            if (typeof index === "number") partial.acked.add(index);
          }
        }
        break;
      }
      case "done":
      case "empty": {
        this.#partial.delete(path);
        this.#uploaded.set(path, {
          path,
          size: Number(record.size),
          mtime: typeof record.mtime === "number" ? record.mtime : null,
          sha512: typeof record.sha512 === "string" ? record.sha512 : "",
          chunks: Number(record.chunks ?? 0),
          chunkSize: Number(record.chunkSize ?? 0),
          empty: record.event === "empty",
        });
        break;
      }
    }
  }

  /** The last fully acknowledged (or skipped empty) version of `path`, if any. */
  uploaded(path: string): UploadedRecord | undefined {
    return this.#uploaded.get(path);
  }

  /** The unfinished upload of `path`, if its last record is a start without a done. */
  partial(path: string): PartialRecord | undefined {
    return this.#partial.get(path);
  }

  /** Records that an upload of a file version begins (and forgets older partial progress). */
  recordStart(
    record: { path: string; size: number; mtime: number | null; sha512: string; chunks: number },
    chunkSize: number,
  ): Promise<void> {
    const previous = this.#partial.get(record.path);
    const keep = previous && previous.sha512 === record.sha512 && previous.chunkSize === chunkSize
      ? previous.acked
      : new Set<number>();
    this.#partial.set(record.path, {
      path: record.path,
      sha512: record.sha512,
      chunks: record.chunks,
      chunkSize,
      acked: keep,
    });
    this.#pendingAcks.delete(record.path);
    const lines: object[] = [{
      event: "start",
      ...record,
      chunkSize,
      at: new Date().toISOString(),
    }];
    if (keep.size > 0) {
      // Carry the acknowledged chunks over, so the log stays right if this start is the last one.
      lines.push({ event: "acked", path: record.path, sha512: record.sha512, acked: [...keep] });
    }
    return this.#append(lines);
  }

  /**
   * Notes that chunk `index` of the version `sha512` of `path` was acknowledged. Acks are
   * batched and written within a second (and before any done record of the file).
   */
  recordAck(path: string, sha512: string, index: number): void {
    const partial = this.#partial.get(path);
    if (partial && partial.sha512 === sha512) partial.acked.add(index);
    let pending = this.#pendingAcks.get(path);
    if (!pending || pending.sha512 !== sha512) {
      pending = { sha512, acked: [] };
      this.#pendingAcks.set(path, pending);
    }
    pending.acked.push(index);
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = undefined;
      this.flushAcks().catch((error) => {
        logger.error("Writing to the upload log {path} failed: {error}", {
          path: this.path,
          error: String(error),
        });
      });
    }, 1000);
  }

  /** Writes the batched acks now. */
  flushAcks(): Promise<void> {
    if (this.#pendingAcks.size === 0) return this.#writing;
    const lines = [...this.#pendingAcks].map(([path, { sha512, acked }]) => ({
      event: "acked",
      path,
      sha512,
      acked,
    }));
    this.#pendingAcks = new Map();
    return this.#append(lines);
  }

  /** Records a fully acknowledged file version (or an empty file skipped) and syncs the log. */
  async recordDone(record: UploadedRecord): Promise<void> {
    this.#pendingAcks.delete(record.path);
    this.#partial.delete(record.path);
    this.#uploaded.set(record.path, record);
    const { empty, ...fields } = record;
    await this.#append([{
      event: empty ? "empty" : "done",
      ...fields,
      at: new Date().toISOString(),
    }]);
    await this.#writing.then(() => this.#file.syncData());
  }

  #append(records: object[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`Upload log "${this.path}" is closed.`));
    const bytes = encoder.encode(records.map((r) => JSON.stringify(r) + "\n").join(""));
    this.#writing = this.#writing.then(async () => {
      let written = 0;
      while (written < bytes.length) written += await this.#file.write(bytes.subarray(written));
    });
    return this.#writing;
  }

  /** Writes pending acks and closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    await this.flushAcks();
    await this.#writing;
    this.#closed = true;
    this.#file.close();
  }

  /** Closes the log. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
