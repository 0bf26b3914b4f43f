/**
 * What happens to a complete file: its SHA-512 is checked (computed by the hash lane while its
 * chunks arrived in order; otherwise now, once, off the main thread when libcrypto is there),
 * then it is finalized (moved into place in disk mode), run through `process` in the worker
 * pool, and its outcome recorded in the registry (processed, failed with its data kept, or
 * invalid) before its chunks settle. Failed files kept by earlier runs are retried here too.
 *
 * No byte reaches `process` or its place in the output directory before the whole file's
 * SHA-512 matched. When it does not match, the chunks' own hashes are checked (only then) to
 * name the damaged chunks, in the log line and in the failure recorded in the registry.
 *
 * Failures: a file that failed is retried (from the data kept for it, on the next start) until
 * it used up `maxAttempts`; then the definition's `onFailure` runs once. In memory mode a file
 * whose data could not be kept (its worker died or timed out with the bytes, or the copy could
 * not be written) is recorded failed but its messages are not settled: they are not committed,
 * and the next start reads and retries it. Generations: each content (SHA-512) of a path is a
 * file of its own; a processed generation retires the failures of the older generations of its
 * path (see `supersedes` in the registry); in disk and both modes an older generation (by
 * `file_mtime`) arriving after a newer one was placed is processed from its partial file and
 * never moved over the newer one.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { errorText } from "../processor/errors.ts";
import type { DownloadedFile } from "../files/downloaded_file.ts";
import { failedCopyPath } from "../files/layout.ts";
import { removeKeptCopy } from "../files/failed_copies.ts";
import { resolveInside } from "../files/path.ts";
import { processorLogger } from "../processor/logger.ts";
import type { OptionSpecs, OptionValues } from "../processor/definition.ts";
import { type FailedRecord, generationLabel, type ProcessedRecord } from "../registry/registry.ts";
import type { WorkerPool } from "../workers/pool.ts";
import { type FileJobMessage, hashMismatchResult, type JobResult } from "../workers/protocol.ts";
import type { RunningFile, RunState } from "./run_state.ts";
import { HashTable, stringHash } from "../hash/hash_table.ts";

const logger = getLogger(["ferry", "file-processor"]);

/** The most damaged chunks named in an invalid file's reason (then "and N more"). */
const MAX_BAD_CHUNKS_NAMED = 10;

/** Runs complete files through `process` and records how each ended. */
export class FileOutcomes {
  readonly #run: RunState;
  readonly #pool: WorkerPool;
  /** Every file on its way (new or retried), until its outcome is recorded. */
  readonly jobs: Set<Promise<void>> = new Set();
  /** A moving average of `process` calls' durations (ms), `undefined` before the first. */
  #processMs: number | undefined;
  #nextJobId = 1;
  #started = 0;
  /**
   * The `file_mtime` of the generation this run moved into place (NaN: none sent), by path
   * hash (disk, both): typed arrays, no string kept per file.
   */
  readonly #placed = new HashTable(2, 1);
  /** The placement under way per output path (see `#onePlacementAtATime`). */
  readonly #placing = new Map<string, Promise<void>>();

  constructor(run: RunState, pool: WorkerPool) {
    this.#run = run;
    this.#pool = pool;
  }

  /**
   * How long a `process` call took lately (ms): a moving average over the calls that ran,
   * `undefined` before the first ended.
   */
  get processMs(): number | undefined {
    return this.#processMs;
  }

  #track(job: Promise<void>): void {
    this.jobs.add(job);
    job.finally(() => this.jobs.delete(job));
  }

  /** How many complete files {@linkcode FileOutcomes.start} was given so far. */
  get started(): number {
    return this.#started;
  }

  /** Processes a complete file: `running` holds it (under `key`) until its result is recorded. */
  start(key: string, entry: RunningFile): void {
    this.#started++;
    this.#run.running.set(key, entry);
    this.#track(this.#processAssembly(entry).finally(() => this.#run.running.delete(key)));
  }

  async #processAssembly(entry: RunningFile): Promise<void> {
    const { assembly } = entry;
    const s = this.#run.settings;
    const assembler = this.#run.assembler;
    const key = `${assembly.sha512}:${assembly.relativePath}`;
    let size: number;
    try {
      size = assembly.checkedSize();
    } catch (error) {
      this.#run.hashes.skip(key);
      await assembler.discard(assembly);
      await this.recordInvalid(entry, errorText(error));
      return;
    }
    // Hashed while its chunks arrived: here (from its buffer or chunks), or in order on the lane (or its one
    // chunk was checked on arrival); undefined: hashed now, from memory or from its partial
    // file, before it goes anywhere.
    const hashed = entry.checked
      ? assembly.sha512
      : (await assembly.ownDigest(size)) ?? await this.#run.hashes.finish(key, size);
    let chunks: { offset: number; data: Uint8Array }[] | undefined;
    let digest: string;
    try {
      // Memory mode: the data as the worker gets it (a spilled file is read back once here).
      if (s.mode === "memory") chunks = await assembler.completeData(assembly, undefined);
      else if (s.mode === "both" && assembly.dataInMemory) chunks = assembly.chunkData();
      digest = hashed ?? await assembler.digest(assembly, size, chunks);
    } catch (error) {
      this.#run.fail(
        new Error(`Could not read back "${assembly.relativePath}": ${errorText(error)}`),
      );
      return;
    }
    if (digest !== assembly.sha512) {
      await this.#recordMismatch(entry, digest, chunks);
      return;
    }
    let path: string | undefined;
    let older: boolean;
    try {
      // An older generation than the one in place (by file_mtime): processed from its partial
      // file, never moved over the newer one. The check and the move are one step per path, so
      // two generations completing together cannot both pass the check and move in either order.
      ({ path, older } = await this.#onePlacementAtATime(assembly.outputRelativePath, async () => {
        if (
          s.mode !== "memory" && this.#olderThanPlaced(assembly.outputRelativePath, assembly.mtime)
        ) {
          await Deno.truncate(assembly.partialPath, size);
          logger.info(
            "{path}: generation {generation} is older than the one in place; it is processed " +
              "from its partial file and not moved into place.",
            { path: assembly.outputRelativePath, generation: generationLabel(assembly) },
          );
          return { path: assembly.partialPath, older: true };
        }
        await this.#moveAsideFailedInPlace(assembly.outputRelativePath, assembly.sha512);
        const placed = await assembler.finalize(assembly, size);
        if (placed !== undefined) this.#notePlaced(assembly.outputRelativePath, assembly.mtime);
        return { path: placed, older: false };
      }));
    } catch (error) {
      await assembler.discard(assembly);
      await this.recordInvalid(entry, errorText(error));
      return;
    }
    const previous = this.#run.registry.failedRecord(assembly.outputRelativePath, assembly.sha512);
    const file: Omit<DownloadedFile, "bytes"> = {
      relativePath: assembly.outputRelativePath,
      filename: assembly.outputRelativePath.split("/").at(-1)!,
      subdir: assembly.subdir,
      size,
      sha512: assembly.sha512,
      topic: s.topic,
      partitions: assembly.partitionRanges(),
      // Read again after a failure that kept no data (memory mode): its next attempt.
      attempt: (previous?.attempt ?? 0) + 1,
      ...(entry.receivedAt === undefined ? {} : { receivedAt: entry.receivedAt }),
      ...(assembly.mtime === undefined ? {} : { mtime: assembly.mtime }),
      ...(path === undefined ? {} : { path }),
    };
    if (s.mode === "both" && chunks === undefined) {
      // Spilled to disk: its data is read back from where it now is.
      try {
        chunks = await assembler.completeData(assembly, path);
      } catch (error) {
        this.#run.fail(
          new Error(`Could not read back "${file.relativePath}": ${errorText(error)}`),
        );
        return;
      }
    }
    // Checked: the worker does not hash it again.
    const result = await this.#runJob(file, chunks, true);
    if (!older) return await this.#recordResult(entry, file, result);
    // The older generation's partial file: deleted once processed, kept aside if it failed.
    let keptAt: string | undefined;
    if (result.outcome === "failed") keptAt = await this.#keepAside(file, path!);
    await this.#recordResult(entry, file, result, keptAt);
    if (result.outcome !== "failed") await Deno.remove(path!).catch(() => undefined);
  }

  /** Runs `step` once any earlier placement of the same output path has ended. */
  async #onePlacementAtATime<T>(path: string, step: () => Promise<T>): Promise<T> {
    const before = this.#placing.get(path) ?? Promise.resolve();
    const run = before.then(step);
    const ended = run.then(() => undefined, () => undefined);
    this.#placing.set(path, ended);
    try {
      return await run;
    } finally {
      if (this.#placing.get(path) === ended) this.#placing.delete(path);
    }
  }

  /**
   * Whether a generation with this `mtime` is older than the one of `path` already in place:
   * moved there by this run, or processed by an earlier one (by `file_mtime`; without one, the
   * later arrival is the newer).
   */
  #olderThanPlaced(path: string, mtime: number | undefined): boolean {
    if (mtime === undefined) return false;
    const placed = this.#placed.find(stringHash(path));
    let newest = placed < 0 ? undefined : this.#placed.get(placed, 0);
    if (newest !== undefined && Number.isNaN(newest)) newest = undefined;
    if (placed < 0) {
      for (const record of this.#run.registry.processedGenerations(path)) {
        if (record.mtime !== undefined && (newest === undefined || record.mtime > newest)) {
          newest = record.mtime;
        }
      }
    }
    return newest !== undefined && newest > mtime;
  }

  /** Notes the `file_mtime` of the generation of `path` this run moved into place. */
  #notePlaced(path: string, mtime: number | undefined): void {
    const key = stringHash(path);
    let entry = this.#placed.find(key);
    if (entry < 0) entry = this.#placed.add(key);
    this.#placed.set(entry, 0, mtime ?? NaN);
  }

  /**
   * Before a generation is moved into place (disk, both): another generation of the path that
   * failed with its data kept in place is moved under `.ferry/failed/` first (its record says
   * so), so that its retry finds its own data.
   */
  async #moveAsideFailedInPlace(path: string, sha512: string): Promise<void> {
    const registry = this.#run.registry;
    for (const failed of registry.failedFiles()) {
      if (failed.path !== path || failed.sha512 === sha512 || failed.kept !== path) continue;
      const from = await resolveInside(this.#run.settings.outputDir, path);
      const kept = await this.#keepAside({ ...failed, filename: path.split("/").at(-1)! }, from);
      await registry.recordFailed({ ...failed, kept });
    }
  }

  /** Moves a failed older generation's partial file under `.ferry/failed/`; returns where. */
  async #keepAside(
    file: { sha512: string; filename: string; relativePath?: string; path?: string },
    from: string,
  ): Promise<string> {
    const relative = failedCopyPath(file.sha512, file.filename);
    try {
      const target = await resolveInside(this.#run.settings.outputDir, relative);
      await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
      await Deno.rename(from, target);
      return relative;
    } catch (error) {
      logger.error("Could not keep the failed {path}: {error}", {
        path: file.relativePath ?? file.path,
        error: errorText(error),
      });
      return "";
    }
  }

  /**
   * Records a complete file whose SHA-512 is `digest`, not the one its chunks carry, as
   * invalid: its chunks' own hashes are checked now to name the damaged ones (their data from
   * `chunks`, from memory, or from the partial file), and its partial file is deleted.
   */
  async #recordMismatch(
    entry: RunningFile,
    digest: string,
    chunks: { offset: number; data: Uint8Array }[] | undefined,
  ): Promise<void> {
    const { assembly } = entry;
    const assembler = this.#run.assembler;
    let reason = hashMismatchResult(0, assembly.outputRelativePath, digest, assembly.sha512)
      .error!.message;
    try {
      const bad = await assembler.badChunks(assembly, chunks);
      if (bad.length === 0) {
        reason += " Every chunk matches its own SHA-512: the file hash its chunks carry is wrong.";
      } else {
        const shown = bad.slice(0, MAX_BAD_CHUNKS_NAMED).map((c) =>
          `chunk ${c.index} of ${assembly.totalChunks} (bytes ${c.offset}-${
            c.offset + c.length - 1
          }, partition ${c.source.partition} offset ${c.source.offset})`
        );
        const more = bad.length - shown.length;
        reason += ` ${bad.length === 1 ? "A chunk does" : `${bad.length} chunks do`} not ` +
          `match ${bad.length === 1 ? "its" : "their"} own SHA-512: ${shown.join(", ")}` +
          `${more > 0 ? ` and ${more} more` : ""}.`;
      }
    } catch (error) {
      reason += ` Its chunks could not be checked: ${errorText(error)}.`;
    }
    try {
      await assembler.discard(assembly);
    } catch (error) {
      logger.warn("Could not delete the partial file of {path}: {error}", {
        path: assembly.relativePath,
        error: errorText(error),
      });
    }
    await this.recordInvalid(entry, reason);
  }

  #runJob(
    file: Omit<DownloadedFile, "bytes">,
    chunks: { offset: number; data: Uint8Array }[] | undefined,
    checked = false,
  ): Promise<JobResult> {
    const message: FileJobMessage = { type: "file", id: this.#nextJobId++, file };
    if (checked) message.checked = true;
    const transfer: Transferable[] = [];
    if (chunks) {
      // Each chunk's data lives in its own message buffer: transfer instead of copying.
      message.chunks = chunks;
      const seen = new Set<ArrayBufferLike>();
      for (const chunk of chunks) {
        const buffer = chunk.data.buffer;
        if (buffer instanceof ArrayBuffer && !seen.has(buffer)) {
          seen.add(buffer);
          transfer.push(buffer);
        }
      }
    }
    return this.#pool.run(message, transfer).then((result) => {
      if (result.outcome !== "stopped") {
        this.#processMs = this.#processMs === undefined
          ? result.ms
          : this.#processMs + (result.ms - this.#processMs) / 8;
      }
      return result;
    });
  }

  async #recordResult(
    entry: RunningFile | undefined,
    file: Omit<DownloadedFile, "bytes">,
    result: JobResult,
    keptAt?: string,
    onProcessed?: () => Promise<void>,
  ): Promise<void> {
    // Not run (or not to its end) because the run stops: nothing settles, it is read again.
    if (result.outcome === "stopped") return;
    const time = new Date().toISOString();
    const partitions = file.partitions.map((p) => p.partition);
    const base = {
      time,
      path: file.relativePath,
      sha512: file.sha512,
      size: file.size,
      partitions,
      ...(file.mtime === undefined ? {} : { mtime: file.mtime }),
    };
    const maxAttempts = this.#run.settings.maxAttempts;
    /** Whether the file's messages settle (a memory-mode failure with nothing kept does not). */
    let settle = true;
    let givenUp: FailedRecord | undefined;
    try {
      if (result.outcome === "processed" && result.results && !this.#run.results) {
        // Results with nowhere to go: the run stops, the file stays unsettled (read again).
        this.#run.fail(
          new Error(
            `process() returned results for "${file.relativePath}" but the processor has no ` +
              "output topic: give --output-topic.",
          ),
        );
        return;
      }
      if (result.outcome === "processed") {
        const results = result.results ?? [];
        const sink = this.#run.results;
        const source = { path: file.relativePath, sha512: file.sha512 };
        const chunks = entry?.sources ?? [];
        const processed: ProcessedRecord = {
          ...base,
          ms: Math.round(result.ms),
          attempt: file.attempt,
          ...(sink && results.length > 0
            ? { produced: sink.record(results, file.partitions) }
            : {}),
        };
        if (sink?.settings.exactlyOnce && entry === undefined && results.length > 0) {
          // A retried file has no offsets of its own: its registry line (and what follows it)
          // waits for the transaction of its results, so a crash before that retries it again.
          await sink.add(source, results, [], async () => {
            await this.#run.registry.recordProcessed(processed);
            this.#run.status.processed++;
            await this.#retireSuperseded(processed);
            await onProcessed?.();
          });
          logger.info("Processed {path} ({size} bytes) in {ms} ms; its results wait.", {
            path: file.relativePath,
            size: file.size,
            ms: Math.round(result.ms),
          });
          return;
        }
        // At least once: acknowledged before the file counts as processed.
        if (sink && !sink.settings.exactlyOnce) await sink.add(source, results, chunks);
        await this.#run.registry.recordProcessed(processed);
        // Exactly once: waits for the transaction that commits these chunks' offsets.
        if (sink?.settings.exactlyOnce) await sink.add(source, results, chunks);
        this.#run.status.processed++;
        await this.#retireSuperseded(processed);
        await onProcessed?.();
        logger.info("Processed {path} ({size} bytes) in {ms} ms.", {
          path: file.relativePath,
          size: file.size,
          ms: Math.round(result.ms),
        });
      } else if (result.outcome === "failed") {
        const kept = keptAt ?? this.#kept(file, result);
        const record: FailedRecord = {
          ...base,
          error: result.error?.message ?? "unknown error",
          attempt: file.attempt,
          maxAttempts,
          kept,
        };
        const written = await this.#run.registry.recordFailed(record);
        if (written.retiredBy !== undefined) {
          // An older generation whose newer one was processed meanwhile: not a failure.
          logger.info(
            "{path} generation {generation} failed again, but a newer generation was " +
              "processed: retired, not retried.",
            { path: file.relativePath, generation: generationLabel(written) },
          );
          await removeKeptCopy(this.#run.settings.outputDir, written.kept).catch(() => undefined);
          for (const source of entry?.sources ?? []) this.#run.settle(source);
          return;
        }
        this.#run.status.failed++;
        logger.error(
          "Failed {path} ({size} bytes) in {ms} ms (attempt {attempt} of {maxAttempts}): {error}",
          {
            path: file.relativePath,
            size: file.size,
            ms: Math.round(result.ms),
            attempt: file.attempt,
            maxAttempts,
            error: record.error,
          },
        );
        if (file.attempt >= maxAttempts) givenUp = record;
        else if (kept === "" && entry !== undefined) {
          // Nothing kept to retry from (memory mode): the messages stay uncommitted, and the
          // next start reads the file again for its next attempt.
          settle = false;
          logger.warn(
            "{path}: no copy of its data could be kept, so its messages are not committed: " +
              "the next start reads it again for attempt {next} of {maxAttempts} (until then " +
              "committed offsets of its partitions stay before it).",
            { path: file.relativePath, next: file.attempt + 1, maxAttempts },
          );
        }
      } else {
        if (file.path !== undefined) await Deno.remove(file.path).catch(() => undefined);
        if (entry) await this.recordInvalid(entry, result.error?.message ?? "invalid file");
        return;
      }
    } catch (error) {
      // The log could not be written (disk full, not writable): nothing is settled or
      // committed past this file, and the run stops.
      this.#run.fail(
        new Error(`Could not record the result of "${file.relativePath}": ${errorText(error)}`),
      );
      return;
    }
    if (settle && entry) this.#run.settleFile(entry.sources);
    if (givenUp) await this.#gaveUp(givenUp, result.error?.message ?? "unknown error");
  }

  /** Retires the failures of older generations that a processed one supersedes. */
  async #retireSuperseded(record: ProcessedRecord): Promise<void> {
    for (const retired of await this.#run.registry.retireSuperseded(record)) {
      this.#run.status.retired++;
      logger.info(
        "Retired the failure of {path} generation {old}: the newer generation {generation} " +
          "was processed; the old one is not retried.",
        {
          path: record.path,
          old: generationLabel(retired),
          generation: generationLabel(record),
        },
      );
      await removeKeptCopy(this.#run.settings.outputDir, retired.kept).catch((error) =>
        logger.warn("Could not delete {kept}: {error}", {
          kept: retired.kept,
          error: errorText(error),
        })
      );
    }
  }

  /**
   * A file used up its attempts: says so, and runs the definition's `onFailure` once (an error
   * it throws is logged).
   */
  async #gaveUp(record: FailedRecord, message: string): Promise<void> {
    const s = this.#run.settings;
    logger.error(
      "Giving up on {path} after {attempts} attempt(s): it stays failed until `ferry retry` " +
        "runs it again.",
      { path: record.path, attempts: record.attempt },
    );
    if (s.onFailure === undefined) return;
    const error = new Error(message);
    try {
      await s.onFailure(
        {
          relativePath: record.path,
          sha512: record.sha512,
          size: record.size,
          attempts: record.attempt,
          kept: record.kept,
          ...(record.mtime === undefined ? {} : { mtime: record.mtime }),
        },
        error,
        {
          name: s.name,
          outputDir: s.outputDir,
          topic: s.topic,
          options: s.options as OptionValues<OptionSpecs>,
          logger: processorLogger(s.name),
        },
      );
    } catch (hookError) {
      logger.error("onFailure threw for {path}: {error}", {
        path: record.path,
        error: errorText(hookError),
      });
    }
  }

  /**
   * Where a failed file's data is kept, relative to the output directory: in place in disk and
   * both modes; in memory mode the worker, which holds the bytes, wrote a copy under
   * `.ferry/failed/`.
   */
  #kept(file: Omit<DownloadedFile, "bytes">, result: JobResult): string {
    if (file.path !== undefined) return file.relativePath;
    return result.kept ?? "";
  }

  /** Records a file whose chunks or content are wrong (no retry) and settles its chunks. */
  async recordInvalid(entry: RunningFile, reason: string): Promise<void> {
    const { assembly } = entry;
    const record: FailedRecord = {
      time: new Date().toISOString(),
      path: assembly.outputRelativePath,
      sha512: assembly.sha512,
      size: assembly.receivedBytes,
      partitions: assembly.partitionRanges().map((p) => p.partition),
      error: reason,
      attempt: this.#run.settings.maxAttempts,
      maxAttempts: this.#run.settings.maxAttempts,
      kept: "",
      ...(assembly.mtime === undefined ? {} : { mtime: assembly.mtime }),
    };
    try {
      await this.#run.registry.recordFailed(record);
    } catch (error) {
      this.#run.fail(
        new Error(`Could not record "${assembly.relativePath}" as invalid: ${errorText(error)}`),
      );
      return;
    }
    this.#run.status.invalid++;
    logger.error("Invalid file {path} ({ranges} of {topic}): {reason}", {
      path: assembly.relativePath,
      ranges: assembly.partitionRanges()
        .map((r) => `partition ${r.partition} offsets ${r.firstOffset}-${r.lastOffset}`)
        .join(", "),
      topic: this.#run.settings.topic,
      reason,
    });
    this.#run.settleFile(entry.sources);
    await this.#gaveUp(record, reason);
  }

  /** Retries failed files kept from earlier runs (fewer attempts than the limit). */
  retryFailed(): void {
    for (const record of this.#run.registry.failedFiles()) {
      if (record.kept === "" || record.attempt >= this.#run.settings.maxAttempts) continue;
      this.#track(this.#retry(record));
    }
  }

  async #retry(record: FailedRecord): Promise<void> {
    const s = this.#run.settings;
    const keptPath = `${s.outputDir}/${record.kept}`;
    let bytes: Uint8Array | undefined;
    try {
      if (s.mode !== "disk") bytes = await Deno.readFile(keptPath);
      else await Deno.stat(keptPath);
    } catch (error) {
      logger.error("Cannot retry {path}: its kept data {kept} is unreadable: {error}", {
        path: record.path,
        kept: record.kept,
        error: errorText(error),
      });
      return;
    }
    const file: Omit<DownloadedFile, "bytes"> = {
      relativePath: record.path,
      filename: record.path.split("/").at(-1)!,
      subdir: record.path.includes("/") ? record.path.slice(0, record.path.lastIndexOf("/")) : "",
      size: record.size,
      sha512: record.sha512,
      topic: s.topic,
      partitions: record.partitions.map((p) => ({ partition: p, firstOffset: -1, lastOffset: -1 })),
      attempt: record.attempt + 1,
      ...(record.mtime === undefined ? {} : { mtime: record.mtime }),
      // Disk and both modes: the worker reads it where it is kept.
      ...(s.mode === "memory" ? {} : { path: keptPath }),
    };
    logger.info("Retrying {path} (attempt {attempt}).", {
      path: record.path,
      attempt: file.attempt,
    });
    const chunks = bytes ? [{ offset: 0, data: bytes }] : undefined;
    const result = await this.#runJob(file, chunks);
    // Once it is recorded processed, its kept copy (and its folder) goes.
    await this.#recordResult(undefined, file, result, record.kept, async () => {
      await removeKeptCopy(s.outputDir, record.kept).catch((error) =>
        logger.warn("Could not delete {kept}: {error}", {
          kept: record.kept,
          error: errorText(error),
        })
      );
    });
  }
}
