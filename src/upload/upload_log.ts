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
  const contents: UploadLogContents = {
    path,
    uploaded: new Map(),
    partial: new Map(),
    ignoredLines: 0,
  };
  const lines = text.split("\n");
  // The last element is "" (text ends with a newline) or a torn line: ignored either way.
  for (let i = 0; i < lines.length - 1; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line);
    } catch (error) {
      contents.ignoredLines++;
      logger.warn("Ignoring unreadable line {line} of {path}: {error}", {
        line: i + 1,
        path,
        error: String(error),
      });
      continue;
    }
    if (record !== null && typeof record === "object") applyRecord(contents, record);
  }
  if (!text.endsWith("\n") && lines[lines.length - 1].trim() !== "") {
    contents.ignoredLines++;
    logger.warn("Ignoring the torn last line of {path} (left by an interrupted write).", { path });
  }
  return contents;
}

function applyRecord(contents: UploadLogContents, record: Record<string, unknown>): void {
  const path = typeof record.path === "string" ? record.path : undefined;
  if (path === undefined) return;
  switch (record.event) {
    case "start": {
      contents.partial.set(path, {
        path,
        sha512: String(record.sha512),
        chunks: Number(record.chunks),
        chunkSize: Number(record.chunkSize),
        acked: new Set(),
      });
      break;
    }
    case "acked": {
      const partial = contents.partial.get(path);
      if (partial && partial.sha512 === record.sha512 && Array.isArray(record.acked)) {
        for (const index of record.acked) {
          if (typeof index === "number") partial.acked.add(index);
        }
      }
      break;
    }
    case "done":
    case "empty": {
      contents.partial.delete(path);
      contents.uploaded.set(path, {
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

/**
 * Reads an upload log without opening it for writing (`ferry status`); `undefined` when there is
 * no such file.
 *
 * @param path The log file.
 * @returns What it records, or `undefined`.
 */
export async function readUploadLog(path: string): Promise<UploadLogContents | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  return parseUploadLog(text, path);
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

/** The upload log of one root directory and topic. Open it with {@linkcode UploadLog.open}. */
export class UploadLog implements AsyncDisposable {
  /** Where the log is. */
  readonly path: string;
  /** The earlier log whose records this one started from, when it was copied on this open. */
  readonly copiedFrom: string | undefined;
  readonly #file: Deno.FsFile;
  readonly #uploaded: Map<string, UploadedRecord>;
  readonly #partial: Map<string, PartialRecord>;
  #pendingAcks = new Map<string, { sha512: string; acked: number[] }>();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(
    path: string,
    file: Deno.FsFile,
    contents: UploadLogContents,
    copiedFrom: string | undefined,
  ) {
    this.path = path;
    this.#file = file;
    this.#uploaded = contents.uploaded;
    this.#partial = contents.partial;
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
    let text: string | undefined;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    let copiedFrom: string | undefined;
    if (text === undefined && options.legacyPath !== undefined && options.legacyPath !== path) {
      try {
        text = await Deno.readTextFile(options.legacyPath);
        copiedFrom = options.legacyPath;
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    text ??= "";
    await Deno.mkdir(dirname(path), { recursive: true });
    const file = await Deno.open(path, { append: true, create: true });
    const log = new UploadLog(path, file, parseUploadLog(text, path), copiedFrom);
    if (copiedFrom !== undefined) {
      // The earlier records, a torn last line included (it is ignored on every read).
      await log.#append([text.endsWith("\n") || text === "" ? text : `${text}\n`]);
      await log.#writing.then(() => file.syncData());
      logger.info(
        "Read the upload log {legacy} that an earlier Ferry kept in the uploaded folder: its " +
          "{count} uploaded file(s) are now recorded in {path}, where the upload state is kept " +
          "from now on (the old file is no longer read, and can be deleted).",
        { legacy: copiedFrom, path, count: log.#uploaded.size },
      );
    } else if (text.length > 0 && !text.endsWith("\n")) {
      // A torn last line: start the next record on a line of its own.
      await file.write(encoder.encode("\n"));
    }
    return log;
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

  #append(records: (object | string)[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`Upload log "${this.path}" is closed.`));
    const text = records.map((r) => typeof r === "string" ? r : JSON.stringify(r) + "\n");
    const bytes = encoder.encode(text.join(""));
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
