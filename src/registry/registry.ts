/**
 * The file-backed logs of processed, failed and in-progress files, kept in the output
 * directory's `.ferry/` folder. They are human-readable JSON lines, append-only, written so
 * that a crash at any byte leaves them readable (a torn last line is ignored), and compacted
 * when a run starts.
 *
 * Durability (group commit): each record is written to its log, with the records appended in
 * the same turn, by one `write` before `recordProcessed` / `recordFailed` resolves, so it
 * survives the process being killed (`kill -9`) at any later moment. It survives the machine
 * stopping (power loss, kernel crash) once {@linkcode FileRegistry.sync} has run after it:
 * one `fdatasync` of each log written since the last one, however many records it covers. The
 * processor calls `sync` before every offset commit (and the logs are synced on `close`), so a
 * committed offset never passes a file whose record is not on disk; a record not yet synced
 * that a power loss takes is a file whose offsets were not committed either, read and processed
 * again on restart. In-progress lines are informational: written, never waited for by a sync.
 *
 * Memory: a processor runs for months, so no string or object is kept per processed file. The
 * processed files are indexed in typed arrays (a `HashTable` keyed by the path's 64-bit hash
 * and the first 64 bits of the SHA-512, about 100 bytes a file), with where each one's line is
 * in the processed log: its record (its results for `--exactly-once`, the generations of its
 * path) is read back from there when needed. Failed and retired files stay in memory.
 *
 * @module
 */

import type { StoredResult } from "../processor/results.ts";
import { getLogger } from "@logtape/logtape";
import { JsonLinesWriter, type LineAt, readJsonLines, readLineAt } from "./json_lines.ts";
import { HashTable, stringHash } from "../hash/hash_table.ts";
import { FERRY_DIR, registryFileNames } from "../files/layout.ts";

const logger = getLogger(["ferry", "registry"]);

/** A file whose processing succeeded. */
export interface ProcessedRecord {
  /** When it was recorded (ISO 8601). */
  time: string;
  /** The file's relative path in the output directory. */
  path: string;
  /** SHA-512 of the file's content, hex. */
  sha512: string;
  /** Size in bytes. */
  size: number;
  /** The partitions its chunks came from. */
  partitions: number[];
  /** How long `process` took, in milliseconds. */
  ms: number;
  /** Which attempt succeeded (1 for the first). */
  attempt: number;
  /** The generation's modification time at upload (ms since the epoch), when the uploader sent one. */
  mtime?: number;
  /** What `process` returned for the output topic, when it returned results. */
  produced?: ProducedResults;
}

/**
 * The results a processed file gave and the chunks it was rebuilt from: with `--exactly-once`,
 * a chunk read again from these ranges (its offset was not committed, so neither were the
 * results) has the results produced again, from here.
 */
export interface ProducedResults {
  /** The output topic. */
  topic: string;
  /** Where the file's chunks were, per partition. */
  ranges: { partition: number; firstOffset: number; lastOffset: number }[];
  /** The results. */
  results: StoredResult[];
}

/** A file whose processing failed. */
export interface FailedRecord {
  /** When it was recorded (ISO 8601). */
  time: string;
  /** The file's relative path in the output directory. */
  path: string;
  /** SHA-512 of the file's content, hex. */
  sha512: string;
  /** Size in bytes. */
  size: number;
  /** The partitions its chunks came from. */
  partitions: number[];
  /** The error, as text. */
  error: string;
  /** How many attempts failed so far. */
  attempt: number;
  /**
   * The processor's `--max-attempts` when this was recorded: once `attempt` reaches it the file
   * has used up its attempts and is not retried (until `ferry retry`).
   */
  maxAttempts?: number;
  /** Where the file's data is kept, relative to the output directory. */
  kept: string;
  /** The generation's modification time at upload (ms since the epoch), when the uploader sent one. */
  mtime?: number;
  /**
   * Set when the failure is retired: the SHA-512 of a newer generation of the same path that
   * was processed. A retired failure is not retried and does not count as a failed file.
   */
  retiredBy?: string;
  /** Set by `ferry retry`: when a retry was asked for (its attempts were reset to 0). */
  retryRequested?: string;
}

/** A file being rebuilt or processed. */
export interface StartedRecord {
  /** When it was recorded (ISO 8601). */
  time: string;
  /** The file's relative path in the output directory. */
  path: string;
  /** SHA-512 of the file's content, hex. */
  sha512: string;
  /** The generation's modification time at upload (ms since the epoch), when the uploader sent one. */
  mtime?: number;
}

/** What the logs say, after compaction. */
export interface RegistrySnapshot {
  /** Processed files, oldest first. */
  processed: ProcessedRecord[];
  /** Files whose latest attempt failed and that were not processed (nor retired) since. */
  failed: FailedRecord[];
  /**
   * Failed generations retired because a newer generation of the same path was processed
   * (see {@linkcode supersedes}); each has `retiredBy`.
   */
  retired: FailedRecord[];
  /** Files started and neither processed nor failed yet. */
  inProgress: StartedRecord[];
}

function fileKey(record: { path: string; sha512: string }): string {
  return `${record.sha512}:${record.path}`;
}

/** Columns of {@linkcode FileRegistry}'s processed index. */
const LINE_OFFSET = 0;
const LINE_LENGTH = 1;
const PREVIOUS = 2;

/**
 * A processed file's key in memory: its path's 64-bit hash and the first 64 bits of its
 * SHA-512 (a wrong "processed" needs both to collide with another file's: one chance in 2^64
 * for another content of the same path, and a path hash collision as well for another path).
 * A SHA-512 that is not hex (never from a checked file) is hashed as a string instead.
 */
function processedKey(path: string, sha512: string): number[] {
  const [p1, p2] = stringHash(path);
  let s1 = Number.parseInt(sha512.slice(0, 8), 16);
  let s2 = Number.parseInt(sha512.slice(8, 16), 16);
  if (!/^[0-9a-f]{16}/.test(sha512)) [s1, s2] = stringHash(sha512);
  return [p1, p2, s1 >>> 0, s2 >>> 0];
}

/** Reads and compacts the logs in memory, without changing them on disk. */
export async function readRegistry(
  dir: string,
  topic: string,
  group: string,
): Promise<RegistrySnapshot> {
  const names = registryFileNames(topic, group);
  const processedLines = await readJsonLines<ProcessedRecord>(`${dir}/${names.processed}`);
  const failedLines = await readJsonLines<FailedRecord>(`${dir}/${names.failed}`);
  const startedLines = await readJsonLines<StartedRecord>(`${dir}/${names.inProgress}`);
  return compact(processedLines, failedLines, startedLines);
}

/**
 * Whether the processed generation `processed` supersedes the failed generation `failed` of a
 * path: same path, other content, and newer: by `file_mtime` when both have one, else by
 * arrival (the processed one was recorded after the failure was first... last recorded).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { supersedes } from "./registry.ts";
 *
 * const failed = { path: "a.csv", sha512: "11", time: "2026-01-01T00:00:00Z", mtime: 1000 };
 * assert.ok(supersedes({ path: "a.csv", sha512: "22", time: "2026-01-01T00:00:01Z" }, failed));
 * assert.ok(!supersedes({ path: "a.csv", sha512: "22", time: "2026-01-01T00:00:01Z", mtime: 500 }, failed));
 * assert.ok(!supersedes({ path: "b.csv", sha512: "22", time: "2026-01-01T00:00:01Z" }, failed));
 * ```
 *
 * @param processed A processed generation.
 * @param failed A failed generation.
 * @returns Whether the failure is to be retired.
 */
export function supersedes(
  processed: Pick<ProcessedRecord, "path" | "sha512" | "time" | "mtime">,
  failed: Pick<FailedRecord, "path" | "sha512" | "time" | "mtime">,
): boolean {
  if (processed.path !== failed.path || processed.sha512 === failed.sha512) return false;
  if (processed.mtime !== undefined && failed.mtime !== undefined) {
    return processed.mtime > failed.mtime;
  }
  return processed.time >= failed.time;
}

function compact(
  processedLines: ProcessedRecord[],
  failedLines: FailedRecord[],
  startedLines: StartedRecord[],
): RegistrySnapshot {
  const processed = new Map<string, ProcessedRecord>();
  const processedByPath = new Map<string, ProcessedRecord[]>();
  for (const record of processedLines) {
    if (processed.has(fileKey(record))) continue;
    processed.set(fileKey(record), record);
    const same = processedByPath.get(record.path);
    if (same) same.push(record);
    else processedByPath.set(record.path, [record]);
  }
  const failed = new Map<string, FailedRecord>();
  const retired = new Map<string, FailedRecord>();
  for (const record of failedLines) {
    const key = fileKey(record);
    if (processed.has(key)) continue;
    // The latest line of a generation wins; once retired, a generation stays retired.
    if (retired.has(key)) continue;
    const newer = record.retiredBy === undefined
      ? processedByPath.get(record.path)?.find((p) => supersedes(p, record))
      : undefined;
    if (record.retiredBy !== undefined || newer !== undefined) {
      failed.delete(key);
      retired.set(key, newer ? { ...record, retiredBy: newer.sha512 } : record);
    } else failed.set(key, record);
  }
  const inProgress = new Map<string, StartedRecord>();
  for (const record of startedLines) {
    const key = fileKey(record);
    if (!processed.has(key) && !failed.has(key) && !retired.has(key)) {
      inProgress.set(key, record);
    }
  }
  return {
    processed: [...processed.values()],
    failed: [...failed.values()],
    retired: [...retired.values()],
    inProgress: [...inProgress.values()],
  };
}

/**
 * The registry of one processor (topic and consumer group) in one output directory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileRegistry } from "./registry.ts";
 * const dir = await Deno.makeTempDir();
 * const registry = await FileRegistry.open(dir, "raw", "checksum");
 * await registry.recordProcessed({
 *   time: new Date().toISOString(), path: "a.csv", sha512: "00", size: 1,
 *   partitions: [0], ms: 1, attempt: 1,
 * });
 * assert.ok(registry.isProcessed("a.csv", "00"));
 * await registry.sync(); // durable on disk: offsets past "a.csv" may be committed now
 * await registry.close();
 * ```
 */
export class FileRegistry {
  /** The folder holding the logs. */
  readonly dir: string;
  /**
   * The processed files, keyed by their path's 64-bit hash and the first 64 bits of their
   * SHA-512 (see {@linkcode processedKey}): where their line is in the processed log (columns
   * {@linkcode LINE_OFFSET}, {@linkcode LINE_LENGTH}), and the entry of the previous processed
   * generation of the same path ({@linkcode PREVIOUS}, -1 for none). No string or object is
   * kept per processed file: records are read back from the log when needed.
   */
  readonly #processed = new HashTable(4, 3);
  /** Per path hash: the entry in `#processed` of its newest processed generation. */
  readonly #newestOfPath = new HashTable(2, 1);
  /** The processed log, read from by {@linkcode FileRegistry.processedGenerations}. */
  readonly #reader: Deno.FsFile;
  readonly #failed = new Map<string, FailedRecord>();
  readonly #retired = new Map<string, FailedRecord>();
  readonly #processedLog: JsonLinesWriter;
  readonly #failedLog: JsonLinesWriter;
  readonly #startedLog: JsonLinesWriter;

  private constructor(
    dir: string,
    snapshot: RegistrySnapshot,
    processedAt: LineAt[],
    logs: [JsonLinesWriter, JsonLinesWriter, JsonLinesWriter],
    reader: Deno.FsFile,
  ) {
    this.dir = dir;
    snapshot.processed.forEach((record, i) => this.#noteProcessed(record, processedAt[i]));
    for (const record of snapshot.failed) this.#failed.set(fileKey(record), record);
    for (const record of snapshot.retired) this.#retired.set(fileKey(record), record);
    [this.#processedLog, this.#failedLog, this.#startedLog] = logs;
    this.#reader = reader;
  }

  /**
   * Opens (creating) the logs in `<outputDir>/.ferry/`, compacting them: duplicate lines,
   * failures later processed, and finished in-progress entries are dropped.
   */
  static async open(outputDir: string, topic: string, group: string): Promise<FileRegistry> {
    const dir = `${outputDir}/${FERRY_DIR}`;
    await Deno.mkdir(dir, { recursive: true });
    const snapshot = await readRegistry(dir, topic, group);
    const names = registryFileNames(topic, group);
    const processedAt: LineAt[] = [];
    const logs: [JsonLinesWriter, JsonLinesWriter, JsonLinesWriter] = [
      await JsonLinesWriter.rewrite(
        `${dir}/${names.processed}`,
        snapshot.processed,
        (i, at) => processedAt[i] = at,
      ),
      await JsonLinesWriter.rewrite(`${dir}/${names.failed}`, [
        ...snapshot.retired,
        ...snapshot.failed,
      ]),
      await JsonLinesWriter.rewrite(`${dir}/${names.inProgress}`, snapshot.inProgress),
    ];
    logger.debug("Registry in {dir}: {processed} processed, {failed} failed, {retired} retired.", {
      dir,
      processed: snapshot.processed.length,
      failed: snapshot.failed.length,
      retired: snapshot.retired.length,
    });
    const reader = await Deno.open(`${dir}/${names.processed}`, { read: true });
    return new FileRegistry(dir, snapshot, processedAt, logs, reader);
  }

  /**
   * Whether this content at this path was processed already. Answered from memory when not;
   * when the index says so, its record is read back to check it is this file (a hash
   * collision with another file then answers "not processed": processed twice, never lost).
   */
  isProcessed(path: string, sha512: string): boolean {
    const entry = this.#processed.find(processedKey(path, sha512));
    if (entry < 0) return false;
    const record = this.#processedRecord(entry);
    // Unreadable (the log was changed by something else, said): the index's word stands.
    return record === undefined || (record.path === path && record.sha512 === sha512);
  }

  /**
   * The record of a processed file, read back from the processed log (undefined when it was
   * not processed).
   */
  #processedRecord(entry: number): ProcessedRecord | undefined {
    const offset = this.#processed.get(entry, LINE_OFFSET);
    const record = readLineAt<ProcessedRecord>(this.#reader, {
      offset,
      length: this.#processed.get(entry, LINE_LENGTH),
    });
    if (record === undefined) {
      logger.warn(
        "The processed log in {dir} no longer holds a record at byte {offset}: it was changed " +
          "by something else while the processor ran.",
        { dir: this.dir, offset },
      );
    }
    return record;
  }

  /** The results a processed file gave (see {@linkcode ProducedResults}), if any. */
  produced(path: string, sha512: string): ProducedResults | undefined {
    const entry = this.#processed.find(processedKey(path, sha512));
    if (entry < 0) return undefined;
    const record = this.#processedRecord(entry);
    return record?.path === path && record.sha512 === sha512 ? record.produced : undefined;
  }

  /** The files whose latest attempt failed, not processed (nor retired) since. */
  failedFiles(): FailedRecord[] {
    return [...this.#failed.values()];
  }

  /** The failure of this generation, when its latest attempt failed (not retired). */
  failedRecord(path: string, sha512: string): FailedRecord | undefined {
    return this.#failed.get(fileKey({ path, sha512 }));
  }

  /** Whether this generation's failure was retired (a newer generation was processed). */
  isRetired(path: string, sha512: string): boolean {
    return this.#retired.has(fileKey({ path, sha512 }));
  }

  /**
   * The processed generations of a path, oldest first: read back from the processed log (a
   * few hundred bytes each; nothing is read for a path never processed).
   */
  processedGenerations(path: string): ProcessedRecord[] {
    const generations: ProcessedRecord[] = [];
    const head = this.#newestOfPath.find(stringHash(path));
    if (head < 0) return generations;
    for (
      let entry = this.#newestOfPath.get(head, 0);
      entry >= 0;
      entry = this.#processed.get(entry, PREVIOUS)
    ) {
      const record = this.#processedRecord(entry);
      // Another path with the same hash is not one of its generations.
      if (record?.path === path) generations.push(record);
    }
    return generations.reverse();
  }

  /** Whether no file was ever recorded (processed, failed or retired) in these logs. */
  get empty(): boolean {
    return this.#processed.count === 0 && this.#failed.size === 0 && this.#retired.size === 0;
  }

  #noteProcessed(record: ProcessedRecord, at: LineAt): void {
    const key = processedKey(record.path, record.sha512);
    let entry = this.#processed.find(key);
    if (entry >= 0) {
      // Processed again: its latest results are the ones given back by `produced`.
      if (record.produced) {
        this.#processed.set(entry, LINE_OFFSET, at.offset);
        this.#processed.set(entry, LINE_LENGTH, at.length);
      }
      return;
    }
    entry = this.#processed.add(key);
    this.#processed.set(entry, LINE_OFFSET, at.offset);
    this.#processed.set(entry, LINE_LENGTH, at.length);
    const pathKey = stringHash(record.path);
    let head = this.#newestOfPath.find(pathKey);
    if (head < 0) {
      head = this.#newestOfPath.add(pathKey);
      this.#processed.set(entry, PREVIOUS, -1);
    } else this.#processed.set(entry, PREVIOUS, this.#newestOfPath.get(head, 0));
    this.#newestOfPath.set(head, 0, entry);
  }

  /** Number of distinct files processed. */
  get processedCount(): number {
    return this.#processed.count;
  }

  /**
   * Notes that a file is being rebuilt or processed (informational: not synced before offset
   * commits, only on `close`).
   */
  async recordStarted(record: StartedRecord): Promise<void> {
    await this.#startedLog.append(record);
  }

  /**
   * Records a processed file; resolves once its line is written (it survives the process being
   * killed). It is durable against a power loss after the next {@linkcode FileRegistry.sync}.
   */
  async recordProcessed(record: ProcessedRecord): Promise<void> {
    const at = await this.#processedLog.append(record);
    this.#noteProcessed(record, at);
    this.#failed.delete(fileKey(record));
  }

  /**
   * Retires the failed generations of `record`'s path that it supersedes (see
   * {@linkcode supersedes}): a line with `retiredBy` is appended to the failed log for each, and
   * they are no longer failed files. Resolves with the retired records.
   */
  async retireSuperseded(record: ProcessedRecord): Promise<FailedRecord[]> {
    const retired: FailedRecord[] = [];
    for (const failed of this.#failed.values()) {
      if (!supersedes(record, failed)) continue;
      const line: FailedRecord = { ...failed, retiredBy: record.sha512 };
      await this.#failedLog.append(line);
      this.#failed.delete(fileKey(failed));
      this.#retired.set(fileKey(failed), line);
      retired.push(line);
    }
    return retired;
  }

  /**
   * Records a failed file; resolves once its line is written (it survives the process being
   * killed), with the record as written: with `retiredBy` when the generation was retired
   * already or a processed generation supersedes it. It is durable against a power loss after
   * the next {@linkcode FileRegistry.sync}.
   */
  async recordFailed(record: FailedRecord): Promise<FailedRecord> {
    const key = fileKey(record);
    if (record.retiredBy === undefined) {
      // A generation retired already, or superseded by one processed meanwhile (its retry
      // ran while the newer generation was processed), stays retired.
      const by = this.#retired.get(key)?.retiredBy ??
        this.processedGenerations(record.path).find((p) => supersedes(p, record))?.sha512;
      if (by !== undefined) record = { ...record, retiredBy: by };
    }
    await this.#failedLog.append(record);
    if (record.retiredBy !== undefined) {
      this.#failed.delete(key);
      this.#retired.set(key, record);
    } else this.#failed.set(key, record);
    return record;
  }

  /**
   * Makes every processed and failed record appended before this call durable on disk: one
   * `fdatasync` per log written since its last sync (none when nothing was). Call it before
   * committing offsets past the files recorded.
   */
  async sync(): Promise<void> {
    await Promise.all([this.#processedLog.sync(), this.#failedLog.sync()]);
  }

  /** Waits for pending writes, syncs them to disk and closes the logs. */
  async close(): Promise<void> {
    try {
      await Promise.all([
        this.#processedLog.close(),
        this.#failedLog.close(),
        this.#startedLog.close(),
      ]);
    } finally {
      this.#reader.close();
    }
  }
}

/**
 * A generation as people read it: its `file_mtime` (UTC, ISO 8601) when the uploader sent one,
 * else the first 12 hex digits of its SHA-512.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generationLabel } from "./registry.ts";
 * assert.equal(generationLabel({ sha512: "0123456789abcdef", mtime: 0 }), "1970-01-01T00:00:00.000Z");
 * assert.equal(generationLabel({ sha512: "0123456789abcdef" }), "sha512 0123456789ab");
 * ```
 *
 * @param generation Its SHA-512 and `file_mtime` (ms since the epoch).
 * @returns The label.
 */
export function generationLabel(generation: { sha512: string; mtime?: number }): string {
  return generation.mtime === undefined
    ? `sha512 ${generation.sha512.slice(0, 12)}`
    : new Date(generation.mtime).toISOString();
}
