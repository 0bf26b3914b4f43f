/**
 * The upload log: a human-readable, append-only JSON-lines file that records which files were
 * acknowledged by the broker, so a restarted upload skips files already uploaded and resends
 * only the chunks that were not acknowledged.
 *
 * Default place: outside the uploaded folder, in the user's state folder:
 * `<state home>/ferry/uploads/<hash of the folder's absolute path>/upload_to_<topic>.jsonl`, the
 * state home being `$XDG_STATE_HOME` or `~/.local/state` ({@linkcode userStateHome},
 * {@linkcode defaultUploadLogPath}). Earlier versions kept it in `<root>/.ferry/`; such a log is
 * read once, into the new place, when the new place has none yet (its records are kept).
 *
 * Every line is one JSON object written with a single `write` call; a line torn by a crash (no
 * trailing newline, or not valid JSON) is ignored when the log is read, and the next append
 * starts on a fresh line. Records:
 *
 * - `{"event":"start", path, size, mtime, sha512, chunks, chunkSize, at}`: an upload of this
 *   version of the file began.
 * - `{"event":"acked", path, sha512, acked: [chunk indexes]}`: these chunks were acknowledged.
 * - `{"event":"done", path, size, mtime, sha512, chunks, chunkSize, at}`: every chunk acknowledged.
 * - `{"event":"empty", path, size: 0, mtime, at}`: an empty file, skipped (nothing sent).
 *
 * @module
 */

import { dirname, isAbsolute, join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { ConfigError } from "../config/config_error.ts";
import { uploadLogName, uploadStateDir } from "../files/layout.ts";
import { UploadedIndex } from "./uploaded_index.ts";
import { joinBytes, readLineAt } from "../registry/json_lines.ts";

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

/** How environment variables are read (default `Deno.env.get`). */
export type EnvLookup = (name: string) => string | undefined;

function processEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      return undefined;
    }
    throw error;
  }
}

/**
 * The per-user folder Ferry keeps state in: `$XDG_STATE_HOME` when it is an absolute path (the
 * XDG base directory rule), otherwise `$HOME/.local/state`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { userStateHome } from "./upload_log.ts";
 *
 * const env = (vars: Record<string, string>) => (name: string) => vars[name];
 * assert.equal(userStateHome(env({ HOME: "/home/me" })), "/home/me/.local/state");
 * assert.equal(userStateHome(env({ HOME: "/home/me", XDG_STATE_HOME: "/s" })), "/s");
 * const relative = env({ HOME: "/home/me", XDG_STATE_HOME: "rel" });
 * assert.equal(userStateHome(relative), "/home/me/.local/state");
 * assert.throws(() => userStateHome(env({})), /--upload-log-dir/);
 * ```
 *
 * @param env How environment variables are read.
 * @returns The absolute path of the state home.
 * @throws {ConfigError} when neither variable is usable (or readable).
 */
export function userStateHome(env: EnvLookup = processEnv): string {
  const xdg = env("XDG_STATE_HOME");
  if (xdg !== undefined && isAbsolute(xdg)) return xdg;
  const home = env("HOME") ?? env("USERPROFILE");
  if (home !== undefined && isAbsolute(home)) return join(home, ".local", "state");
  throw new ConfigError(
    "Cannot tell where Ferry keeps its state (upload logs, record processors' group slots): " +
      "neither XDG_STATE_HOME nor HOME is set to an absolute path (or readable: run Deno with " +
      "--allow-env). Set one (or give an upload --upload-log-dir).",
  );
}

/**
 * The default upload log of the folder `root` (absolute) and `topic`, in the per-user state
 * folder: `<state home>/ferry/uploads/<hash of root>/upload_to_<topic>.jsonl`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultUploadLogPath } from "./upload_log.ts";
 *
 * assert.match(
 *   defaultUploadLogPath("/data/run1", "raw", "/home/me/.local/state"),
 *   /^\/home\/me\/\.local\/state\/ferry\/uploads\/[0-9a-f]{32}\/upload_to_raw\.jsonl$/,
 * );
 * ```
 *
 * @param root The uploaded folder (for a single file, its folder), absolute.
 * @param topic The topic.
 * @param stateHome The state home; default {@linkcode userStateHome}.
 * @returns The path of the log.
 */
export function defaultUploadLogPath(
  root: string,
  topic: string,
  stateHome: string = userStateHome(),
): string {
  return join(uploadStateDir(stateHome, root), uploadLogName(topic));
}

/** What an upload log records, as {@linkcode readUploadLog} returns it. */
export interface UploadLogContents {
  /** The log file. */
  path: string;
  /** File versions fully acknowledged (or skipped as empty), by path. */
  uploaded: Map<string, UploadedRecord>;
  /** Uploads begun and not finished, by path. */
  partial: Map<string, PartialRecord>;
  /** Unreadable lines, and a torn last line, that were ignored. */
  ignoredLines: number;
}

/**
 * Splits a log's bytes, fed in pieces, into its records (JSON objects) with the byte offset
 * and length of each line; unreadable lines are counted, and warned about, and skipped.
 */
class RecordSplitter {
  readonly #path: string;
  readonly #onRecord: (record: Record<string, unknown>, offset: number, length: number) => void;
  readonly #decoder = new TextDecoder();
  /** Bytes of the line not ended yet, and where it begins. */
  #carry: Uint8Array = new Uint8Array(0);
  #carryOffset = 0;
  /** Bytes fed so far. */
  #fed = 0;
  #lineNumber = 0;
  /** Unreadable lines, and a torn last line, ignored. */
  ignoredLines = 0;

  constructor(
    path: string,
    onRecord: (record: Record<string, unknown>, offset: number, length: number) => void,
  ) {
    this.#path = path;
    this.#onRecord = onRecord;
  }

  /** Bytes fed so far. */
  get bytes(): number {
    return this.#fed;
  }

  /** Whether the bytes fed so far end in the middle of a line. */
  get torn(): boolean {
    return this.#carry.length > 0;
  }

  push(chunk: Uint8Array): void {
    let start = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, newline);
      if (this.#carry.length === 0) this.#line(piece, this.#fed + start);
      else this.#line(joinBytes([this.#carry, piece]), this.#carryOffset);
      this.#carry = new Uint8Array(0);
      start = newline + 1;
    }
    if (start < chunk.length) {
      if (this.#carry.length === 0) this.#carryOffset = this.#fed + start;
      this.#carry = joinBytes([this.#carry, chunk.subarray(start)]);
    }
    this.#fed += chunk.length;
  }

  /** The end of the log: a torn last line (no newline after it) is ignored. */
  end(): void {
    if (this.#carry.length > 0 && this.#decoder.decode(this.#carry).trim() !== "") {
      this.ignoredLines++;
      logger.warn("Ignoring the torn last line of {path} (left by an interrupted write).", {
        path: this.#path,
      });
    }
  }

  #line(bytes: Uint8Array, offset: number): void {
    this.#lineNumber++;
    const line = this.#decoder.decode(bytes).trim();
    if (line === "") return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      this.ignoredLines++;
      logger.warn("Ignoring unreadable line {line} of {path}: {error}", {
        line: this.#lineNumber,
        path: this.#path,
        error: String(error),
      });
      return;
    }
    if (record !== null && typeof record === "object") {
      this.#onRecord(record as Record<string, unknown>, offset, bytes.length);
    }
  }
}

/**
 * Reads what an upload log's text records (the log itself is not touched).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseUploadLog } from "./upload_log.ts";
 *
 * const log = parseUploadLog(
 *   '{"event":"done","path":"a","size":1,"mtime":1,"sha512":"ab","chunks":1,"chunkSize":9}\n' +
 *     '{"event":"start","path":"b","sha512":"cd","chunks":2,"chunkSize":9}\n{"event":"ac',
 *   "log.jsonl",
 * );
 * assert.deepEqual([...log.uploaded.keys()], ["a"]);
 * assert.deepEqual([...log.partial.keys()], ["b"]);
 * assert.equal(log.ignoredLines, 1);
 * ```
 *
 * @param text The log's text.
 * @param path The log's path, for warnings.
 * @returns What it records.
 */
export function parseUploadLog(text: string, path: string): UploadLogContents {
  return parseUploadLogBytes(encoder.encode(text), path);
}

function parseUploadLogBytes(bytes: Uint8Array, path: string): UploadLogContents {
  const uploaded = new Map<string, UploadedRecord>();
  const partial = new Map<string, PartialRecord>();
  const splitter = new RecordSplitter(path, (record) => {
    const done = applyRecord(partial, record);
    if (done) uploaded.set(done.path, done);
  });
  splitter.push(bytes);
  splitter.end();
  return { path, uploaded, partial, ignoredLines: splitter.ignoredLines };
}

/**
 * Applies one record to the unfinished uploads (`partial`); returns the uploaded version a
 * `done` or `empty` record says.
 */
function applyRecord(
  partial: Map<string, PartialRecord>,
  record: Record<string, unknown>,
): UploadedRecord | undefined {
  const path = typeof record.path === "string" ? record.path : undefined;
  if (path === undefined) return undefined;
  switch (record.event) {
    case "start": {
      partial.set(path, {
        path,
        sha512: String(record.sha512),
        chunks: Number(record.chunks),
        chunkSize: Number(record.chunkSize),
        acked: new Set(),
      });
      return undefined;
    }
    case "acked": {
      const progress = partial.get(path);
      if (progress && progress.sha512 === record.sha512 && Array.isArray(record.acked)) {
        for (const index of record.acked) {
          if (typeof index === "number") progress.acked.add(index);
        }
      }
      return undefined;
    }
    case "done":
    case "empty": {
      partial.delete(path);
      return uploadedRecord(path, record);
    }
  }
  return undefined;
}

/** The uploaded version a `done` or `empty` record of `path` says. */
function uploadedRecord(path: string, record: Record<string, unknown>): UploadedRecord {
  return {
    path,
    size: Number(record.size),
    mtime: typeof record.mtime === "number" ? record.mtime : null,
    sha512: typeof record.sha512 === "string" ? record.sha512 : "",
    chunks: Number(record.chunks ?? 0),
    chunkSize: Number(record.chunkSize ?? 0),
    empty: record.event === "empty",
  };
}

/**
 * Reads an upload log without opening it for writing (`ferry status`); `undefined` when there is
 * no such file.
 *
 * @param path The log file.
 * @returns What it records, or `undefined`.
 */
export async function readUploadLog(path: string): Promise<UploadLogContents | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  return parseUploadLogBytes(bytes, path);
}

/** Options of {@linkcode UploadLog.open}. */
export interface UploadLogOpenOptions {
  /**
   * A log an earlier version of Ferry kept elsewhere (`<root>/.ferry/upload_to_<topic>.jsonl`):
   * when `path` does not exist yet and this file does, its records are copied into `path` first
   * (the old file is left as it is), and the copy is logged once.
   */
  legacyPath?: string;
}

/** Bytes read at a time when an upload log is opened. */
const READ_CHUNK = 1 << 20;

/**
 * The upload log of one root directory and topic. Open it with {@linkcode UploadLog.open}.
 *
 * Memory: what it keeps per uploaded file is an {@linkcode UploadedIndex} entry (about 40 bytes,
 * no object); the full record of a file ({@linkcode UploadLog.uploaded}) is read back from the
 * file when asked for. Unfinished uploads are kept whole (few: those under way, and those a
 * crash or a failure interrupted).
 */
export class UploadLog implements AsyncDisposable {
  /** Where the log is. */
  readonly path: string;
  /** The earlier log whose records this one started from, when it was copied on this open. */
  readonly copiedFrom: string | undefined;
  readonly #file: Deno.FsFile;
  /** The same file, read from by {@linkcode UploadLog.uploaded}. */
  readonly #reader: Deno.FsFile;
  readonly #index = new UploadedIndex();
  readonly #partial = new Map<string, PartialRecord>();
  /** Uploaded records whose line is not written yet (the index already points past the end). */
  readonly #unwritten = new Map<string, UploadedRecord>();
  /** The length of the log once every write asked for is done. */
  #end = 0;
  #pendingAcks = new Map<string, { sha512: string; acked: number[] }>();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(
    path: string,
    file: Deno.FsFile,
    reader: Deno.FsFile,
    copiedFrom: string | undefined,
  ) {
    this.path = path;
    this.#file = file;
    this.#reader = reader;
    this.copiedFrom = copiedFrom;
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
   * @param options An earlier log to start from.
   * @returns The open log.
   */
  static async open(path: string, options: UploadLogOpenOptions = {}): Promise<UploadLog> {
    let exists = true;
    try {
      await Deno.stat(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      exists = false;
    }
    let legacy: string | undefined;
    if (!exists && options.legacyPath !== undefined && options.legacyPath !== path) {
      try {
        legacy = await Deno.readTextFile(options.legacyPath);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    await Deno.mkdir(dirname(path), { recursive: true });
    const file = await Deno.open(path, { append: true, create: true });
    if (legacy !== undefined) {
      // The earlier records, a torn last line included (it is ignored on every read).
      await writeAll(
        file,
        encoder.encode(legacy.endsWith("\n") || legacy === "" ? legacy : `${legacy}\n`),
      );
      await file.syncData();
    }
    const reader = await Deno.open(path, { read: true });
    const log = new UploadLog(
      path,
      file,
      reader,
      legacy === undefined ? undefined : options.legacyPath,
    );
    try {
      await log.#load();
    } catch (error) {
      file.close();
      reader.close();
      throw error;
    }
    if (log.copiedFrom !== undefined) {
      logger.info(
        "Read the upload log {legacy} that an earlier Ferry kept in the uploaded folder: its " +
          "{count} uploaded file(s) are now recorded in {path}, where the upload state is kept " +
          "from now on (the old file is no longer read, and can be deleted).",
        { legacy: log.copiedFrom, path, count: log.#index.count },
      );
    }
    return log;
  }

  /** Reads the log through, indexing what it records. */
  async #load(): Promise<void> {
    const splitter = new RecordSplitter(this.path, (record, offset, length) => {
      const done = applyRecord(this.#partial, record);
      if (done) this.#index.set(done.path, { size: done.size, mtime: done.mtime, offset, length });
    });
    const buffer = new Uint8Array(READ_CHUNK);
    for (;;) {
      const n = await this.#reader.read(buffer);
      if (n === null) break;
      splitter.push(buffer.subarray(0, n));
    }
    splitter.end();
    this.#end = splitter.bytes;
    if (splitter.torn) {
      // A torn last line: start the next record on a line of its own.
      await this.#write(encoder.encode("\n"));
    }
  }

  /**
   * The last fully acknowledged (or skipped empty) version of `path`, if any: read back from the
   * log file (a few hundred bytes).
   */
  uploaded(path: string): UploadedRecord | undefined {
    const unwritten = this.#unwritten.get(path);
    if (unwritten) return unwritten;
    const at = this.#index.get(path);
    if (at === undefined) return undefined;
    // Undefined when not JSON: said below.
    const record = readLineAt<Record<string, unknown> | null>(this.#reader, at) ?? undefined;
    if (
      record?.path === path && (record.event === "done" || record.event === "empty") &&
      Number(record.size) === at.size
    ) {
      return uploadedRecord(path, record);
    }
    if (record === undefined || record.path === path) {
      // Not what was indexed: the file was changed by something else meanwhile.
      logger.warn(
        "The upload log {log} no longer holds the record of {path} at byte {offset}: it was " +
          "changed by something else; the file is treated as not uploaded.",
        { log: this.path, path, offset: at.offset },
      );
    }
    // Else another path with the same hash: this one was never recorded.
    return undefined;
  }

  /**
   * Whether the last fully acknowledged (or skipped empty) version of `path` has this size and
   * mtime (never, when the mtime is unknown), from memory alone.
   */
  hasUploaded(path: string, size: number, mtime: number | null): boolean {
    return this.#index.has(path, size, mtime);
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
    if (this.#closed) throw new Error(`Upload log "${this.path}" is closed.`);
    this.#pendingAcks.delete(record.path);
    this.#partial.delete(record.path);
    const { empty, ...fields } = record;
    const line = encoder.encode(
      JSON.stringify({ event: empty ? "empty" : "done", ...fields, at: new Date().toISOString() }) +
        "\n",
    );
    const { path, size, mtime } = record;
    this.#index.set(path, { size, mtime, offset: this.#end, length: line.length - 1 });
    this.#unwritten.set(path, record);
    try {
      await this.#write(line);
    } finally {
      if (this.#unwritten.get(path) === record) this.#unwritten.delete(path);
    }
    await this.#writing.then(() => this.#file.syncData());
  }

  #append(records: object[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`Upload log "${this.path}" is closed.`));
    return this.#write(encoder.encode(records.map((r) => JSON.stringify(r) + "\n").join("")));
  }

  /** Appends `bytes` after every write asked for before. */
  #write(bytes: Uint8Array): Promise<void> {
    this.#end += bytes.length;
    this.#writing = this.#writing.then(() => writeAll(this.#file, bytes));
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
    this.#reader.close();
  }

  /** Closes the log. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}
