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
 * @module
 */

import type { StoredResult } from "../processor/results.ts";
import { getLogger } from "@logtape/logtape";
import { JsonLinesWriter, readJsonLines } from "./json_lines.ts";
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
  /** Where the file's data is kept, relative to the output directory. */
  kept: string;
}

/** A file being rebuilt or processed. */
export interface StartedRecord {
  /** When it was recorded (ISO 8601). */
  time: string;
  /** The file's relative path in the output directory. */
  path: string;
  /** SHA-512 of the file's content, hex. */
  sha512: string;
}

/** What the logs say, after compaction. */
export interface RegistrySnapshot {
  /** Processed files, oldest first. */
  processed: ProcessedRecord[];
  /** Files whose latest attempt failed and that were not processed since. */
  failed: FailedRecord[];
  /** Files started and neither processed nor failed yet. */
  inProgress: StartedRecord[];
}

function fileKey(record: { path: string; sha512: string }): string {
  return `${record.sha512}:${record.path}`;
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

function compact(
  processedLines: ProcessedRecord[],
  failedLines: FailedRecord[],
  startedLines: StartedRecord[],
): RegistrySnapshot {
  const processed = new Map<string, ProcessedRecord>();
  for (const record of processedLines) {
    if (!processed.has(fileKey(record))) processed.set(fileKey(record), record);
  }
  const failed = new Map<string, FailedRecord>();
  for (const record of failedLines) {
    if (!processed.has(fileKey(record))) failed.set(fileKey(record), record);
  }
  const inProgress = new Map<string, StartedRecord>();
  for (const record of startedLines) {
    const key = fileKey(record);
    if (!processed.has(key) && !failed.has(key)) inProgress.set(key, record);
  }
  return {
    processed: [...processed.values()],
    failed: [...failed.values()],
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
  readonly #processed = new Set<string>();
  /** The results of processed files that produced some, by file key. */
  readonly #produced = new Map<string, ProducedResults>();
  readonly #failed = new Map<string, FailedRecord>();
  readonly #processedLog: JsonLinesWriter;
  readonly #failedLog: JsonLinesWriter;
  readonly #startedLog: JsonLinesWriter;

  private constructor(
    dir: string,
    snapshot: RegistrySnapshot,
    logs: [JsonLinesWriter, JsonLinesWriter, JsonLinesWriter],
  ) {
    this.dir = dir;
    for (const record of snapshot.processed) {
      this.#processed.add(fileKey(record));
      if (record.produced) this.#produced.set(fileKey(record), record.produced);
    }
    for (const record of snapshot.failed) this.#failed.set(fileKey(record), record);
    [this.#processedLog, this.#failedLog, this.#startedLog] = logs;
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
    const logs: [JsonLinesWriter, JsonLinesWriter, JsonLinesWriter] = [
      await JsonLinesWriter.rewrite(`${dir}/${names.processed}`, snapshot.processed),
      await JsonLinesWriter.rewrite(`${dir}/${names.failed}`, snapshot.failed),
      await JsonLinesWriter.rewrite(`${dir}/${names.inProgress}`, snapshot.inProgress),
    ];
    logger.debug("Registry in {dir}: {processed} processed, {failed} failed.", {
      dir,
      processed: snapshot.processed.length,
      failed: snapshot.failed.length,
    });
    return new FileRegistry(dir, snapshot, logs);
  }

  /** Whether this content at this path was processed already. */
  isProcessed(path: string, sha512: string): boolean {
    return this.#processed.has(fileKey({ path, sha512 }));
  }

  /** The results a processed file gave (see {@linkcode ProducedResults}), if any. */
  produced(path: string, sha512: string): ProducedResults | undefined {
    return this.#produced.get(fileKey({ path, sha512 }));
  }

  /** The files whose latest attempt failed, not processed since. */
  failedFiles(): FailedRecord[] {
    return [...this.#failed.values()];
  }

  /** Number of distinct files processed. */
  get processedCount(): number {
    return this.#processed.size;
  }

  /**
   * Notes that a file is being rebuilt or processed (informational: not synced before offset
   * commits, only on `close`).
   */
  recordStarted(record: StartedRecord): Promise<void> {
    return this.#startedLog.append(record);
  }

  /**
   * Records a processed file; resolves once its line is written (it survives the process being
   * killed). It is durable against a power loss after the next {@linkcode FileRegistry.sync}.
   */
  async recordProcessed(record: ProcessedRecord): Promise<void> {
    await this.#processedLog.append(record);
    this.#processed.add(fileKey(record));
    if (record.produced) this.#produced.set(fileKey(record), record.produced);
    this.#failed.delete(fileKey(record));
  }

  /**
   * Records a failed file; resolves once its line is written (it survives the process being
   * killed). It is durable against a power loss after the next {@linkcode FileRegistry.sync}.
   */
  async recordFailed(record: FailedRecord): Promise<void> {
    await this.#failedLog.append(record);
    this.#failed.set(fileKey(record), record);
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
    await Promise.all([
      this.#processedLog.close(),
      this.#failedLog.close(),
      this.#startedLog.close(),
    ]);
  }
}
