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
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { errorText } from "../processor/errors.ts";
import type { DownloadedFile } from "../files/downloaded_file.ts";
import { FAILED_DIR } from "../files/layout.ts";
import type { FailedRecord } from "../registry/registry.ts";
import type { WorkerPool } from "../workers/pool.ts";
import { type FileJobMessage, hashMismatchResult, type JobResult } from "../workers/protocol.ts";
import type { RunningFile, RunState } from "./run_state.ts";

const logger = getLogger(["ferry", "file-processor"]);

/** The most damaged chunks named in an invalid file's reason (then "and N more"). */
const MAX_BAD_CHUNKS_NAMED = 10;

/** Runs complete files through `process` and records how each ended. */
export class FileOutcomes {
  readonly #run: RunState;
  readonly #pool: WorkerPool;
  /** Every file on its way (new or retried), until its outcome is recorded. */
  readonly jobs: Set<Promise<void>> = new Set();
  #nextJobId = 1;

  constructor(run: RunState, pool: WorkerPool) {
    this.#run = run;
    this.#pool = pool;
  }

  #track(job: Promise<void>): void {
    this.jobs.add(job);
    job.finally(() => this.jobs.delete(job));
  }

  /** Processes a complete file: `running` holds it (under `key`) until its result is recorded. */
  start(key: string, entry: RunningFile): void {
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
    // Hashed while its chunks arrived in order (or its one chunk was checked on arrival);
    // undefined: hashed now, from memory or from its partial file, before it goes anywhere.
    const hashed = entry.checked ? assembly.sha512 : await this.#run.hashes.finish(key, size);
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
    try {
      path = await assembler.finalize(assembly, size);
    } catch (error) {
      await assembler.discard(assembly);
      await this.recordInvalid(entry, errorText(error));
      return;
    }
    const file: Omit<DownloadedFile, "bytes"> = {
      relativePath: assembly.outputRelativePath,
      filename: assembly.outputRelativePath.split("/").at(-1)!,
      subdir: assembly.subdir,
      size,
      sha512: assembly.sha512,
      topic: s.topic,
      partitions: assembly.partitionRanges(),
      attempt: 1,
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
    await this.#recordResult(entry, file, result);
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
    return this.#pool.run(message, transfer);
  }

  async #recordResult(
    entry: RunningFile | undefined,
    file: Omit<DownloadedFile, "bytes">,
    result: JobResult,
    keptAt?: string,
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
    };
    try {
      if (result.outcome === "processed") {
        await this.#run.registry.recordProcessed({
          ...base,
          ms: Math.round(result.ms),
          attempt: file.attempt,
        });
        this.#run.status.processed++;
        logger.info("Processed {path} ({size} bytes) in {ms} ms.", {
          path: file.relativePath,
          size: file.size,
          ms: Math.round(result.ms),
        });
      } else if (result.outcome === "failed") {
        const kept = keptAt ?? this.#kept(file, result);
        await this.#run.registry.recordFailed({
          ...base,
          error: result.error?.message ?? "unknown error",
          attempt: file.attempt,
          kept,
        });
        this.#run.status.failed++;
        logger.error("Failed {path} ({size} bytes) in {ms} ms (attempt {attempt}): {error}", {
          path: file.relativePath,
          size: file.size,
          ms: Math.round(result.ms),
          attempt: file.attempt,
          error: result.error?.message ?? "unknown error",
        });
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
    if (entry) this.#run.settleFile(entry.sources);
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
    try {
      await this.#run.registry.recordFailed({
        time: new Date().toISOString(),
        path: assembly.outputRelativePath,
        sha512: assembly.sha512,
        size: assembly.receivedBytes,
        partitions: assembly.partitionRanges().map((p) => p.partition),
        error: reason,
        attempt: this.#run.settings.maxAttempts,
        kept: "",
      });
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
      ...(s.mode === "memory" ? {} : { path: keptPath }),
    };
    logger.info("Retrying {path} (attempt {attempt}).", {
      path: record.path,
      attempt: file.attempt,
    });
    const chunks = bytes ? [{ offset: 0, data: bytes }] : undefined;
    const result = await this.#runJob(file, chunks);
    await this.#recordResult(undefined, file, result, record.kept);
    if (result.outcome === "processed" && record.kept.startsWith(`${FAILED_DIR}/`)) {
      await Deno.remove(keptPath).catch(() => undefined);
    }
  }
}
