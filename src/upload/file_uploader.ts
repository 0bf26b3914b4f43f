/**
 * Uploading one file as OpenMSIStream chunk messages, safely:
 *
 * 1. `stat` the file; an empty file is skipped (OpenMSIStream sends no chunk for it either), a
 *    file the upload log records with the same size and mtime is skipped without reading it.
 * 2. First pass: read it chunk by chunk and compute the whole-file SHA-512 (every chunk message
 *    carries it, so it must be known before the first chunk is sent), each chunk's SHA-512 and a
 *    CRC-32 of each chunk. Both SHA-512s run on background threads
 *    ({@linkcode backgroundSha512}) while this thread reads on, so the file is hashed on one
 *    core and its chunks on another. Small files (up to {@linkcode IN_MEMORY_CHUNKS} chunks)
 *    keep their chunks in memory and are not read again.
 * 3. Second pass: read each chunk not yet acknowledged, check its CRC-32 against the first read
 *    (a file that changed since is never sent as a torn mix: the hashes sent are those of the
 *    first read), encode it, and hand it to the producer, keeping at most a window of bytes in
 *    flight. Once every chunk is handed over the file is closed and the caller is told
 *    (`allSent`), so that it can start on the next file while acknowledgements arrive.
 * 4. Wait for every acknowledgement, `stat` again: a file whose size or mtime moved is uploaded
 *    again (its new version, with its new hash); otherwise it is recorded as done.
 *
 * @module
 */

import { join } from "node:path";
import { crc32 } from "node:zlib";
import { getLogger } from "@logtape/logtape";
import type { DataFileChunk } from "../chunks/chunk.ts";
import { encodeChunk } from "../chunks/encode.ts";
import { backgroundSha512 } from "../hash/background.ts";
import { hashHex } from "../hash/sha512.ts";
import { chunkKey } from "../chunks/key.ts";
import { ErrorCode, KafkaError, type Producer } from "../kafka/mod.ts";
import type { ByteWindow } from "./byte_window.ts";
import { UploadError } from "./errors.ts";
import type { UploadLog } from "./upload_log.ts";

/** Files of at most this many chunks are read once and kept in memory while they are sent. */
export const IN_MEMORY_CHUNKS = 4;

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

/** Raised inside an attempt when the file changed under it. */
class FileChanged extends Error {}

const logger = getLogger(["ferry", "upload"]);

/** What the first pass learns about a file. */
interface FirstPass {
  /** SHA-512 of the whole file. */
  fileHash: Uint8Array;
  /** SHA-512 of each chunk (for a file of one chunk, the file hash). */
  chunkHashes: Uint8Array[];
  /** CRC-32 of each chunk: the second read must return the same bytes. */
  prints: Uint32Array;
  /** The chunks themselves, for files of at most {@linkcode IN_MEMORY_CHUNKS} chunks. */
  kept: Uint8Array<ArrayBuffer>[] | undefined;
}

/**
 * Reads the file once. The whole-file hash and each chunk's hash are computed on background
 * threads (see {@linkcode backgroundSha512}) while this thread reads the next chunk: chunk `i`'s
 * buffer is reused only once both hashes of chunk `i - 3` are done.
 */
async function firstPass(file: Deno.FsFile, size: number, chunkSize: number): Promise<FirstPass> {
  const sha = backgroundSha512();
  const total = Math.ceil(size / chunkSize);
  const kept = total <= IN_MEMORY_CHUNKS ? [] as Uint8Array<ArrayBuffer>[] : undefined;
  const ring = kept ? undefined : Array.from({ length: 3 }, () => new Uint8Array(chunkSize));
  const prints = new Uint32Array(total);
  const chunkHashes: Uint8Array[] = new Array(total);
  // A file of one chunk needs one hash: its chunk hash is the file hash.
  const hasher = total > 1 ? sha.hasher() : undefined;
  const busy: Promise<unknown>[] = []; // per ring slot (or chunk): both hashes of its data
  let fileUpdates: Promise<void> = Promise.resolve(); // updates run one after the other
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown) => {
    failure ??= { error };
  };
  try {
    for (let i = 0; i < total; i++) {
      const slot = ring ? i % ring.length : i;
      await busy[slot];
      if (failure) throw failure.error;
      const length = Math.min(chunkSize, size - i * chunkSize);
      const chunk = ring ? ring[slot].subarray(0, length) : new Uint8Array(length);
      if (await readFull(file, chunk) !== length) throw new FileChanged();
      prints[i] = crc32(chunk);
      kept?.push(chunk);
      const chunkHash = sha.digest(chunk).then((digest) => {
        chunkHashes[i] = digest;
      });
      if (hasher) fileUpdates = fileUpdates.then(() => hasher.update(chunk));
      busy[slot] = Promise.all([chunkHash, fileUpdates]).catch(fail);
    }
    if (await file.read(new Uint8Array(1)) !== null) throw new FileChanged(); // it grew
    await Promise.all(busy);
    if (failure) throw failure.error;
    return { fileHash: hasher?.digest() ?? chunkHashes[0], chunkHashes, prints, kept };
  } finally {
    // No background hash may still be reading a buffer once this returns.
    await Promise.allSettled([...busy, fileUpdates]);
    hasher?.free();
  }
}

function mtimeOf(info: Deno.FileInfo): number | null {
  return info.mtime?.getTime() ?? null;
}

/** Reads until `buffer` is full or the file ends; returns the bytes read. */
async function readFull(file: Deno.FsFile, buffer: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const n = await file.read(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return filled;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function statFile(full: string, path: string): Promise<Deno.FileInfo> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(full);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UploadError("missing", path, `File "${path}" was deleted before it was uploaded.`, {
        cause: error,
      });
    }
    throw new UploadError("unreadable", path, `File "${path}" cannot be read: ${describe(error)}`, {
      cause: error,
    });
  }
  if (!info.isFile) {
    throw new UploadError("not_a_file", path, `Path "${path}" is not a regular file.`);
  }
  return info;
}

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

function toUploadError(error: unknown, path: string): UploadError {
  if (error instanceof UploadError) return error;
  if (error instanceof FileChanged) {
    return new UploadError(
      "changed",
      path,
      `File "${path}" kept changing while it was uploaded; it was not uploaded.`,
    );
  }
  if (error instanceof DOMException && error.name === "AbortError") {
    return new UploadError("interrupted", path, `File "${path}" was not finished: interrupted.`, {
      cause: error,
    });
  }
  if (error instanceof Deno.errors.NotFound) {
    return new UploadError("missing", path, `File "${path}" was deleted during upload.`, {
      cause: error,
    });
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new UploadError(
      "unreadable",
      path,
      `File "${path}" cannot be read: ${describe(error)}`,
      {
        cause: error,
      },
    );
  }
  if (error instanceof KafkaError) {
    return new UploadError("send", path, `File "${path}" could not be sent: ${error.message}`, {
      cause: error,
    });
  }
  return new UploadError("unreadable", path, `File "${path}" failed: ${describe(error)}`, {
    cause: error,
  });
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
  const before = await statFile(full, path);
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

  let file: Deno.FsFile;
  try {
    file = await Deno.open(full, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw error;
    throw new UploadError("unreadable", path, `File "${path}" cannot be read: ${describe(error)}`, {
      cause: error,
    });
  }
  const sends: Promise<void>[] = [];
  let open = true;
  const closeFile = () => {
    if (open) file.close();
    open = false;
  };
  try {
    // ---- First pass: the whole-file hash, each chunk's hash and CRC-32 (or the data itself).
    const total = Math.ceil(size / chunkSize);
    const { fileHash, chunkHashes, prints, kept } = await firstPass(file, size, chunkSize);
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
    const slash = path.lastIndexOf("/");
    const subdir = slash === -1 ? "" : path.slice(0, slash);
    const filename = path.slice(slash + 1);
    const partition = context.partitionFor(path);
    let failure: unknown;
    let sent = 0;
    let scratch: Uint8Array | undefined;
    let message: Uint8Array<ArrayBuffer> | undefined;
    let position = size; // where the file handle is: the first pass read it all
    for (let index = 1; index <= total; index++) {
      if (acked.has(index)) continue;
      if (failure !== undefined) break;
      context.signal?.throwIfAborted();
      const offset = (index - 1) * chunkSize;
      const length = Math.min(chunkSize, size - offset);
      let data: Uint8Array;
      if (kept) data = kept[index - 1];
      else {
        // The scratch buffer is reused: encodeChunk copies the data into the message.
        scratch ??= new Uint8Array(chunkSize);
        data = scratch.subarray(0, length);
        if (position !== offset) await file.seek(offset, Deno.SeekMode.Start);
        if (await readFull(file, data) !== length) throw new FileChanged();
        position = offset + length;
        // The hashes sent are those of the first read: the bytes must be the same.
        if (crc32(data) !== prints[index - 1]) throw new FileChanged();
      }
      const chunk: DataFileChunk = {
        filename,
        fileHash,
        chunkHash: chunkHashes[index - 1],
        chunkOffset: offset,
        chunkIndex: index,
        totalChunks: total,
        subdir,
        filenameAppend: "",
        data,
      };
      // One message buffer per file, reused: the producer copies each message (MSG_F_COPY).
      const value = encodeChunk(chunk, { into: message });
      message = value.buffer === message?.buffer ? message : value;
      await context.window.acquire(value.length);
      let pending;
      try {
        pending = await context.producer.send({
          topic: context.topic,
          key: chunkKey(chunk),
          value,
          partition,
        });
      } catch (error) {
        context.window.release(value.length);
        throw error;
      }
      sent++;
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
    }
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
      after = await Deno.stat(full);
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
