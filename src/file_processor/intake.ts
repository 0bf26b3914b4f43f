/**
 * A file processor's intake: every consumed message is decoded into its chunk (or skipped as
 * malformed, with its reason), filtered, checked against the registry (files processed or failed
 * before settle at once), added to its file in the assembler (its bytes to the file-hash lane),
 * and a complete file is handed to {@linkcode FileOutcomes}. Files in progress are kept within
 * their limits (spilled to disk, the least recently active abandoned).
 *
 * Each byte is hashed once: a chunk's own SHA-512 is not checked on arrival (only its structure
 * is), since the whole file's SHA-512, which {@linkcode FileOutcomes} checks before anything
 * reaches `process` or the output directory, covers every byte; the chunk hashes are checked
 * only to name the damaged chunks of a file whose hash failed. With `checkChunks`
 * (`--check-chunks`) every chunk's hash is checked on arrival too, and a chunk that fails it is
 * skipped as malformed.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { errorText } from "../processor/errors.ts";
import { decodeChunk } from "../chunks/decode.ts";
import { ChunkFormatError, type ChunkFormatReason } from "../chunks/format_error.ts";
import { outputPath, relativePath as chunkRelativePath } from "../chunks/chunk.ts";
import { hashesEqual, hashHex } from "../hash/sha512.ts";
import { type ChunkSource, DEFAULT_MAX_PARTIAL_FILES } from "../files/reassembly.ts";
import type { ConsumedMessage } from "../kafka/mod.ts";
import type { FileOutcomes } from "./outcomes.ts";
import type { RunningFile, RunState } from "./run_state.ts";

const logger = getLogger(["ferry", "file-processor"]);

/**
 * Why a message was skipped, for counting its log lines: `not-a-chunk` (no value, or not a
 * msgpack array: a record of another kind), the {@linkcode ChunkFormatReason} of a malformed
 * chunk, `conflict` (a chunk that contradicts its file's other chunks), `other`.
 */
export type SkipKind =
  | "not-a-chunk"
  | Exclude<ChunkFormatReason, "not_array">
  | "conflict"
  | "other";

/**
 * Skipped messages of one kind logged at warning level; the rest of that kind are logged at
 * debug and counted, and a line says how many (see {@linkcode ChunkIntake.reportQuiet}). Of
 * messages that are not chunks at all only the first gets a warning, saying what to do.
 */
export const WARNINGS_PER_KIND = 5;

/** What the "… and N more" line says a kind of skipped message had. */
const KIND_TEXT: Readonly<Record<Exclude<SkipKind, "not-a-chunk">, string>> = {
  array_length: "an array of the wrong length",
  truncated: "a truncated chunk",
  type: "a field of the wrong type",
  length: "a hash of the wrong length",
  range: "a number out of range",
  utf8: "text that is not UTF-8",
  unsafe_path: "an unsafe path",
  hash_mismatch: "a chunk whose SHA-512 does not match",
  trailing_bytes: "bytes after the chunk",
  conflict: "a chunk that contradicts its file's other chunks",
  other: "a chunk that could not be read",
};

/** How many messages of one kind were skipped: with a warning, at debug, said so far. */
interface SkipCount {
  warned: number;
  quiet: number;
  reported: number;
}

/** Turns consumed messages into files (see the module's description). */
export class ChunkIntake {
  readonly #run: RunState;
  readonly #outcomes: FileOutcomes;
  readonly #skips = new Map<SkipKind, SkipCount>();

  constructor(run: RunState, outcomes: FileOutcomes) {
    this.#run = run;
    this.#outcomes = outcomes;
  }

  /**
   * Skips a message that is not a usable chunk: counted; logged with its place and reason, at
   * warning level for the first {@linkcode WARNINGS_PER_KIND} of its kind (the first only for
   * messages that are not chunks at all, with what to do), at debug for the rest.
   */
  #skip(message: ConsumedMessage, reason: string, kind: SkipKind): void {
    const status = this.#run.status;
    status.malformed++;
    if (kind === "not-a-chunk") {
      status.notChunks++;
      reason = `not a file chunk (${reason.replace(/\.$/, "")})`;
    }
    let count = this.#skips.get(kind);
    if (count === undefined) this.#skips.set(kind, count = { warned: 0, quiet: 0, reported: 0 });
    const where = { topic: message.topic, partition: message.partition, offset: message.offset };
    const line = "Skipping message at {topic} partition {partition} offset {offset}: {reason}";
    if (kind === "not-a-chunk" && count.warned === 0) {
      count.warned++;
      logger.warn(
        `${line}. A file processor reads files sent in chunks by ferry upload or ` +
          "OpenMSIStream; for a topic of other records, write a record processor " +
          "(defineRecordProcessor), or check --topic. Further messages that are not chunks " +
          "are counted in the summary (each logged at --log-level debug).",
        { ...where, reason },
      );
    } else if (kind !== "not-a-chunk" && count.warned < WARNINGS_PER_KIND) {
      count.warned++;
      logger.warn(line, { ...where, reason });
    } else {
      count.quiet++;
      logger.debug(line, { ...where, reason });
    }
    this.#run.settle(message);
  }

  /**
   * Says how many malformed messages of each kind were skipped at debug level since the last
   * call: `… and 17 more messages skipped for an unsafe path (each logged at --log-level
   * debug).` Called with each status report and at the end. Messages that are not chunks at
   * all are counted in the summary instead.
   */
  reportQuiet(): void {
    for (const [kind, count] of this.#skips) {
      if (kind === "not-a-chunk" || count.quiet === count.reported) continue;
      logger.warn(
        "… and {count} more messages skipped for {what} (each logged at --log-level debug).",
        { count: count.quiet - count.reported, what: KIND_TEXT[kind], kind },
      );
      count.reported = count.quiet;
    }
  }

  /**
   * Takes one message: decodes its chunk, skips or settles what needs no work, adds the chunk
   * to its file, and hands a complete file to the outcomes. `borrowed`: the message's value is
   * lent by the consumer (freed at its next poll): nothing keeps a view of it.
   */
  async handle(message: ConsumedMessage, receivedAt: number, borrowed = false): Promise<void> {
    const s = this.#run.settings;
    this.#run.tracker.add(message, message.offset);
    if (message.value === null || message.value.length === 0) {
      return this.#skip(message, "the message has no value", "not-a-chunk");
    }
    let chunk;
    try {
      chunk = decodeChunk(message.value, { verifyChunkHash: s.checkChunks === true });
    } catch (error) {
      const kind: SkipKind = !(error instanceof ChunkFormatError)
        ? "other"
        : error.reason === "not_array"
        ? "not-a-chunk"
        : error.reason;
      return this.#skip(message, errorText(error), kind);
    }
    this.#run.status.bytes += chunk.data.length;
    const path = chunkRelativePath(chunk);
    if (s.downloadRegex && !s.downloadRegex.test(path)) {
      this.#run.status.filtered++;
      return this.#run.settle(message);
    }
    const sha = hashHex(chunk.fileHash);
    const key = `${sha}:${path}`;
    // Where the chunk came from, without the message: a source kept with its file must not
    // keep the message's value (the chunk's bytes) alive until the file is settled.
    const source: ChunkSource = { partition: message.partition, offset: message.offset };
    const running = this.#run.running.get(key);
    if (running) {
      // A repeat of a chunk of a file being processed: settles with it.
      running.sources.push(source);
      return;
    }
    // The registry knows files by the path they were written to (filename_append applied).
    const written = chunk.filenameAppend === "" ? path : outputPath(chunk);
    if (this.#settledBefore(written, sha)) {
      if (chunk.chunkIndex === 1) this.#run.status.skipped++;
      this.#run.results?.reread({ path, sha512: sha }, this.#run.registry, source);
      return this.#run.settle(message);
    }
    let result;
    try {
      result = await this.#run.assembler.add(chunk, source, borrowed);
    } catch (error) {
      this.#run.fail(new Error(`Could not write a chunk of "${path}": ${errorText(error)}`));
      return;
    }
    if (result.kind === "conflict") return this.#skip(message, result.reason, "conflict");
    if (result.kind === "duplicate") return this.#run.settle(message);
    if (result.kind === "invalid") {
      const sources = [...result.assembly.sources];
      return await this.#outcomes.recordInvalid(
        { assembly: result.assembly, sources },
        result.reason,
      );
    }
    const assembly = result.assembly;
    // One chunk from byte 0 whose hash, checked on arrival (--check-chunks), is the file's
    // hash: the file is checked already. Without --check-chunks nothing is checked yet.
    const checked = s.checkChunks === true && chunk.totalChunks === 1 &&
      chunk.chunkOffset === 0 && hashesEqual(chunk.chunkHash, chunk.fileHash);
    // The file's hash is computed on the lane while its chunks arrive, unless it is computed
    // from the file's buffer (`ownHash`). A file of one chunk goes there only when its
    // message's buffer can be handed over (written to disk: no copy); one held in memory is
    // hashed where it is when complete (see FileOutcomes).
    if (!checked && !assembly.ownHash && (chunk.totalChunks > 1 || result.released)) {
      // A chunk written to disk or copied into its file's buffer is no longer needed here:
      // its message's buffer is handed over (no copy), and freed once hashed. A lent value is
      // never handed over: the lane gets a copy of the chunk's data (its own, handed over).
      this.#run.hashes.add(
        key,
        chunk.chunkOffset,
        borrowed ? chunk.data.slice() : chunk.data,
        assembly.receivedChunks === 1,
        borrowed || result.released,
      );
    }
    await this.#enforceLimits();
    if (assembly.receivedChunks === 1) {
      this.#run.registry.recordStarted({
        time: new Date().toISOString(),
        path,
        sha512: sha,
        ...(assembly.mtime === undefined ? {} : { mtime: assembly.mtime }),
      }).catch(
        (error) => logger.warn("Could not note {path} as started: {error}", { path, error }),
      );
    }
    if (assembly.complete) {
      this.#run.assembler.remove(assembly);
      const entry: RunningFile = { assembly, sources: [...assembly.sources], receivedAt, checked };
      this.#outcomes.start(key, entry);
    }
  }

  /** Keeps files in progress within their limits; abandoned files' messages are skipped. */
  async #enforceLimits(): Promise<void> {
    let limits;
    try {
      limits = await this.#run.assembler.enforceLimits();
    } catch (error) {
      this.#run.fail(new Error(`Could not spill files in progress to disk: ${errorText(error)}`));
      return;
    }
    for (const assembly of limits.spilled) {
      logger.debug("Moved {path} ({bytes} bytes so far) from memory to disk.", {
        path: assembly.relativePath,
        bytes: assembly.receivedBytes,
      });
    }
    for (const assembly of limits.abandoned) {
      this.#run.status.abandoned++;
      const ranges = assembly.partitionRanges()
        .map((r) => `partition ${r.partition} offsets ${r.firstOffset}-${r.lastOffset}`)
        .join(", ");
      logger.warn(
        "Abandoning incomplete {path} ({received} of {total} chunks, {ranges} of {topic}): " +
          "more than {max} files in progress and it is the least recently active; its " +
          "messages are skipped.",
        {
          path: assembly.relativePath,
          received: assembly.receivedChunks,
          total: assembly.totalChunks,
          ranges,
          topic: this.#run.settings.topic,
          max: this.#run.settings.maxPartialFiles ?? DEFAULT_MAX_PARTIAL_FILES,
        },
      );
      for (const source of assembly.sources) this.#run.settle(source);
    }
  }

  /**
   * Whether this generation needs nothing more from its messages: processed; its failure
   * retired; or failed with its data kept (retried from there) or its attempts used up. A
   * failure with nothing kept and attempts left (memory mode) is rebuilt again for its retry.
   */
  #settledBefore(path: string, sha: string): boolean {
    const registry = this.#run.registry;
    if (registry.isProcessed(path, sha) || registry.isRetired(path, sha)) return true;
    const failed = registry.failedRecord(path, sha);
    return failed !== undefined &&
      (failed.kept !== "" || failed.attempt >= this.#run.settings.maxAttempts);
  }
}
