/**
 * Uploading one file as OpenMSIStream chunk messages, safely:
 *
 * 1. `stat` the file; an empty file is skipped (OpenMSIStream sends no chunk for it either), a
 *    file the upload log records with the same size and mtime is skipped without reading it.
 * 2. First pass: read it chunk by chunk and compute the whole-file SHA-512 (every chunk message
 *    carries it, so it must be known before the first chunk is sent) on a background thread
 *    (`backgroundSha512`) while this thread reads on, and a CRC-32 of each chunk.
 *    Small files (up to {@linkcode IN_MEMORY_CHUNKS} chunks) are kept in memory, their chunk
 *    hashes computed at the same time on other threads, and not read again.
 * 3. Second pass: read each chunk not yet acknowledged, check its CRC-32 against the first read
 *    (a file that changed since is never sent as a torn mix: the file hash sent is that of the
 *    first read), compute its SHA-512 on a background thread, encode it, and hand it to the
 *    producer, reading and hashing a few chunks ahead and keeping at most a window of bytes in
 *    flight. The chunk hashes are computed here rather than in the first pass so that the file
 *    hash alone stands between reading a large file and sending it, and they run while earlier
 *    chunks travel: each byte is hashed twice (as the format requires), each pass on its own
 *    thread. Once every chunk is handed over the file is closed and the caller is told
 *    (`allSent`), so that it can start on the next file while acknowledgements arrive.
 * 4. Wait for every acknowledgement, `stat` again: a file whose size or mtime moved is uploaded
 *    again (its new version, with its new hash); otherwise it is recorded as done.
 *
 * The first pass is in `first_pass.ts`, the second pass's reading ahead in `second_pass.ts`, the
 * reading of the file in `file_reads.ts`, the reuse of one-chunk message buffers in
 * `spare_messages.ts`, and how a failure is told and named in `file_failures.ts`.
 *
 * @module
 */

import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import type { DataFileChunk } from "../chunks/chunk.ts";
import { type ChunkHeaderFields, chunkLayout, encodeChunk } from "../chunks/encode.ts";
import { hashHex } from "../hash/sha512.ts";
import { chunkKey } from "../chunks/key.ts";
import { ErrorCode, KafkaError, type Producer } from "../kafka/mod.ts";
import type { ByteWindow } from "./byte_window.ts";
import { UploadError } from "./errors.ts";
import { describe, FileChanged, toUploadError } from "./file_failures.ts";
import { mtimeOf, openFile, readKept, statFile } from "./file_reads.ts";
import { firstPass, hashKept, IN_MEMORY_CHUNKS, readSingle } from "./first_pass.ts";
import { type ReadyChunk, sendChunks } from "./second_pass.ts";
import { giveBackMessage } from "./spare_messages.ts";
import type { UploadLog } from "./upload_log.ts";

export { IN_MEMORY_CHUNKS } from "./first_pass.ts";

/** What happened to one file. */
export type FileOutcome =
  | {
    /** Every chunk was acknowledged by the broker. */
    status: "uploaded";
    /** Relative POSIX path. */
    path: string;
    /** Size in bytes. */
    size: number;
    /** Number of chunks of the file. */
    chunks: number;
    /** Chunks sent in this run (fewer than `chunks` when resuming). */
    sentChunks: number;
    /** Lowercase hex SHA-512. */
    sha512: string;
    /** The partition used, or undefined with the default partitioner. */
    partition: number | undefined;
  }
  | {
    /** Nothing was sent. */
    status: "skipped";
    /** `already_uploaded`: the upload log has this version; `empty`: a file of 0 bytes. */
    reason: "already_uploaded" | "empty";
    /** Relative POSIX path. */
    path: string;
    /** Size in bytes. */
    size: number;
  }
  | {
    /** The file was not (fully) uploaded. */
    status: "failed";
    /** Relative POSIX path. */
    path: string;
    /** Why, naming the file. */
    error: UploadError;
  };

/** Callbacks for progress; all optional and called synchronously. */
export interface UploadEvents {
  /** A chunk was handed to the producer. */
  chunkSent?(info: { path: string; chunkIndex: number; totalChunks: number; bytes: number }): void;
  /** A chunk was acknowledged; `bytes` is its data length. */
  chunkAcked?(info: { path: string; chunkIndex: number; bytes: number }): void;
  /**
   * Every chunk still to send was handed to the producer and the file is closed; only the
   * acknowledgements are awaited now (the uploader starts reading the next file).
   */
  allSent?(info: { path: string }): void;
  /** A file is finished, whatever the outcome. */
  fileDone?(outcome: FileOutcome): void;
}

/** Everything {@linkcode uploadFile} needs besides the file. */
export interface FileUploadContext {
  /** The producer (shared by all files). */
  producer: Producer;
  /** The topic. */
  topic: string;
  /** Chunk size in bytes. */
  chunkSize: number;
  /** The partition for a relative path, or undefined to let the producer's partitioner choose. */
  partitionFor(relativePath: string): number | undefined;
  /**
   * Without a partition for the file: the partition the producer's partitioner would give a
   * chunk's key, when it can be computed (it is then sent there explicitly, which lets the
   * producer bound what it holds per partition), or undefined.
   */
  chunkPartitionFor?(key: string): number | undefined;
  /** Limits unacknowledged bytes. */
  window: ByteWindow;
  /** The upload log, if one is kept. */
  log?: UploadLog;
  /** Progress callbacks. */
  events?: UploadEvents;
  /** Attempts when the file keeps changing during upload; default 3. */
  maxAttempts?: number;
  /** How long a changed file must stay unchanged before the next attempt; default 1000 ms. */
  settleMs?: number;
  /** Stops waiting and fails the file when aborted. */
  signal?: AbortSignal;
}

const logger = getLogger(["ferry", "upload"]);

/**
 * Uploads the file at `relativePath` under `root` (never throws: failures are returned, with an
 * error naming the file).
 *
 * @example
 * ```ts ignore
 * import { ByteWindow } from "./byte_window.ts";
 * import { uploadFile } from "./file_uploader.ts";
 * import { Producer } from "../kafka/mod.ts";
 *
 * await using producer = new Producer({ "bootstrap.servers": "127.0.0.1:19092" });
 * const outcome = await uploadFile("/data", "run1/scan.tif", {
 *   producer,
 *   topic: "raw-data",
 *   chunkSize: 524288,
 *   partitionFor: () => undefined,
 *   window: new ByteWindow(32 * 1024 * 1024),
 * });
 * console.log(outcome.status);
 * ```
 *
 * @param root The uploaded root folder.
 * @param relativePath The file's POSIX path under `root`; its folder becomes the chunks' subdir.
 * @param context Producer, topic, chunk size, partitioner, window, log, callbacks.
 * @returns The outcome.
 */
export async function uploadFile(
  root: string,
  relativePath: string,
  context: FileUploadContext,
): Promise<FileOutcome> {
  const maxAttempts = context.maxAttempts ?? 3;
  let outcome: FileOutcome;
  for (let attempt = 1;; attempt++) {
    try {
      outcome = await attemptUpload(root, relativePath, context);
      break;
    } catch (error) {
      if (error instanceof FileChanged && attempt < maxAttempts) {
        logger.warn(
          "File {path} changed while it was uploaded; uploading its new version " +
            "(attempt {next} of {max}).",
          { path: relativePath, next: attempt + 1, max: maxAttempts },
        );
        try {
          await waitUntilSettled(join(root, ...relativePath.split("/")), context);
        } catch (settleError) {
          outcome = {
            status: "failed",
            path: relativePath,
            error: toUploadError(settleError, relativePath),
          };
          break;
        }
        continue;
      }
      outcome = { status: "failed", path: relativePath, error: toUploadError(error, relativePath) };
      break;
    }
  }
  if (outcome.status === "failed") {
    logger.error("{message}", { message: outcome.error.message, path: relativePath });
  } else if (outcome.status === "skipped") {
    logger.info(
      outcome.reason === "empty"
        ? "Skipped {path}: the file is empty (OpenMSIStream sends no chunk for an empty file)."
        : "Skipped {path}: already uploaded (same size and content as in the upload log).",
      { path: relativePath },
    );
  } else {
    logger.info("Uploaded {path}: {size} bytes in {chunks} chunk(s), all acknowledged.", {
      path: relativePath,
      size: outcome.size,
      chunks: outcome.chunks,
    });
  }
  context.events?.fileDone?.(outcome);
  return outcome;
}

/** Waits until the file's size and mtime stay the same for the settle time. */
async function waitUntilSettled(full: string, context: FileUploadContext): Promise<void> {
  const settleMs = context.settleMs ?? 1000;
  let last = "";
  let since = Date.now();
  for (;;) {
    context.signal?.throwIfAborted();
    const info = await Deno.stat(full);
    const now = `${info.size}:${mtimeOf(info)}`;
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= settleMs) return;
    await new Promise((resolve) => setTimeout(resolve, Math.min(200, Math.max(10, settleMs / 5))));
  }
}

async function attemptUpload(
  root: string,
  path: string,
  context: FileUploadContext,
): Promise<FileOutcome> {
  const { chunkSize, log } = context;
  const full = join(root, ...path.split("/"));
  const before = statFile(full, path);
  const size = before.size;
  const mtime = mtimeOf(before);
  if (size === 0) {
    if (log?.hasUploaded(path, 0, mtime)) {
      return { status: "skipped", reason: "empty", path, size };
    }
    await log?.recordDone({
      path,
      size: 0,
      mtime,
      sha512: "",
      chunks: 0,
      chunkSize,
      empty: true,
    });
    return { status: "skipped", reason: "empty", path, size: 0 };
  }
  if (log?.hasUploaded(path, size, mtime)) {
    return { status: "skipped", reason: "already_uploaded", path, size };
  }
  // Another version was uploaded before (read back from the log): the same content?
  const done = log?.uploaded(path);

  const total = Math.ceil(size / chunkSize);
  const file = total > IN_MEMORY_CHUNKS ? await openFile(full, path) : undefined;
  const sends: Promise<void>[] = [];
  let open = file !== undefined;
  const closeFile = () => {
    if (open) file?.close();
    open = false;
  };
  const slash = path.lastIndexOf("/");
  const subdir = slash === -1 ? "" : path.slice(0, slash);
  const filename = path.slice(slash + 1);
  const fields = (index: number): ChunkHeaderFields => ({
    filename,
    chunkOffset: (index - 1) * chunkSize,
    chunkIndex: index,
    totalChunks: total,
    subdir,
    filenameAppend: "",
  });
  const layout = (index: number, dataLength: number) => chunkLayout(fields(index), dataLength);
  try {
    // ---- First pass: the whole-file hash and each chunk's CRC-32 (or the chunks and their hashes).
    const first = file
      ? await firstPass(file, size, chunkSize)
      : total === 1
      ? await readSingle(full, path, size, layout(1, size))
      : await hashKept(readKept(full, path, size), chunkSize);
    const fileHash = first.fileHash;
    const hex = hashHex(fileHash);
    if (done && !done.empty && done.sha512 === hex && done.size === size) {
      // Same content as uploaded before (only its mtime moved): remember the new mtime.
      await log?.recordDone({ ...done, mtime });
      return { status: "skipped", reason: "already_uploaded", path, size };
    }
    const partial = log?.partial(path);
    const acked = partial && partial.sha512 === hex && partial.chunkSize === chunkSize &&
        partial.chunks === total
      ? new Set(partial.acked)
      : new Set<number>();
    if (acked.size > 0) {
      logger.info("Resuming {path}: {acked} of {total} chunks were already acknowledged.", {
        path,
        acked: acked.size,
        total,
      });
    }
    await log?.recordStart({ path, size, mtime, sha512: hex, chunks: total }, chunkSize);

    // ---- Second pass: send every chunk not yet acknowledged.
    const partition = context.partitionFor(path);
    let failure: unknown;
    let sent = 0;
    let message: Uint8Array<ArrayBuffer> | undefined;
    const indexes: number[] = [];
    for (let index = 1; index <= total; index++) if (!acked.has(index)) indexes.push(index);
    const handle = async ({ index, data, hash, message: place }: ReadyChunk) => {
      if (failure !== undefined) return false;
      context.signal?.throwIfAborted();
      const chunk: DataFileChunk = { ...fields(index), fileHash, chunkHash: hash, data };
      // Data read into its message buffer is encoded in place; other chunks go into one message
      // buffer per file, reused: the producer copies each message (MSG_F_COPY).
      const value = encodeChunk(chunk, { into: place ?? message });
      if (place === undefined) message = value.buffer === message?.buffer ? message : value;
      await context.window.acquire(value.length);
      let pending;
      try {
        const key = chunkKey(chunk);
        pending = await context.producer.send({
          topic: context.topic,
          key,
          value,
          partition: partition ?? context.chunkPartitionFor?.(key),
        });
      } catch (error) {
        context.window.release(value.length);
        throw error;
      }
      sent++;
      const length = data.length;
      context.events?.chunkSent?.({ path, chunkIndex: index, totalChunks: total, bytes: length });
      // Only the size is kept: librdkafka holds its own copy of the message.
      const bytes = value.length;
      sends.push(
        pending.delivered.then(
          () => {
            log?.recordAck(path, hex, index);
            context.events?.chunkAcked?.({ path, chunkIndex: index, bytes: length });
          },
          (error) => {
            failure ??= error;
          },
        ).finally(() => context.window.release(bytes)),
      );
      return true;
    };
    await sendChunks(file, size, chunkSize, first, indexes, layout, handle);
    if (first.kept?.message) giveBackMessage(first.kept.message); // copied by the producer
    // Only acknowledgements are awaited from here: the file is no longer read.
    closeFile();
    context.events?.allSent?.({ path });
    await Promise.all(sends);
    sends.length = 0;
    if (failure !== undefined) {
      const reason = failure instanceof KafkaError && failure.code === ErrorCode.MSG_TIMED_OUT
        ? "the broker did not acknowledge it in time (message.timeout.ms)"
        : describe(failure);
      throw new UploadError(
        "delivery",
        path,
        `File "${path}" was not fully acknowledged by the broker: ${reason}`,
        { cause: failure },
      );
    }
    let after: Deno.FileInfo;
    try {
      after = Deno.statSync(full);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw new FileChanged();
      throw error;
    }
    if (after.size !== size || mtimeOf(after) !== mtime) throw new FileChanged();
    await log?.recordDone({
      path,
      size,
      mtime,
      sha512: hex,
      chunks: total,
      chunkSize,
      empty: false,
    });
    return {
      status: "uploaded",
      path,
      size,
      chunks: total,
      sentChunks: sent,
      sha512: hex,
      partition,
    };
  } finally {
    // Chunks already handed over must settle before the window and log are trusted again.
    await Promise.allSettled(sends);
    closeFile();
  }
}
