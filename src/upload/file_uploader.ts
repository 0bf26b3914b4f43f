/**
 * Uploading one file as OpenMSIStream chunk messages, safely:
 *
 * 1. `stat` the file; an empty file is skipped (OpenMSIStream sends no chunk for it either), a
 *    file the upload log records with the same size and mtime is skipped without reading it.
 * 2. First pass: read it chunk by chunk and compute the whole-file SHA-512 (every chunk message
 *    carries it, so it must be known before the first chunk is sent) on a background thread
 *    ({@linkcode backgroundSha512}) while this thread reads on, and a CRC-32 of each chunk.
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
 * @module
 */

import { join } from "node:path";
import { crc32 } from "node:zlib";
import { getLogger } from "@logtape/logtape";
import type { DataFileChunk } from "../chunks/chunk.ts";
import {
  type ChunkHeaderFields,
  type ChunkLayout,
  chunkLayout,
  encodeChunk,
} from "../chunks/encode.ts";
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

/** Raised inside an attempt when the file changed under it. */
class FileChanged extends Error {}

const logger = getLogger(["ferry", "upload"]);

/** What the first pass learns about a file. */
interface FirstPass {
  /** SHA-512 of the whole file. */
  fileHash: Uint8Array;
  /** CRC-32 of each chunk (files not kept): the second read must return the same bytes. */
  prints: Uint32Array;
  /**
   * For files of at most {@linkcode IN_MEMORY_CHUNKS} chunks, read once: the chunks themselves
   * and their SHA-512s (for a file of one chunk, the file hash). Larger files' chunk hashes are
   * computed as they are read again to be sent.
   */
  kept:
    | {
      chunks: Uint8Array<ArrayBuffer>[];
      hashes: Uint8Array[];
      /** For a file of one chunk: the message buffer its data was read into, at its place. */
      message?: Uint8Array<ArrayBuffer>;
    }
    | undefined;
}

/**
 * Ring buffers of the first pass: block `i`'s is reused once the file hash has taken block
 * `i - 3`.
 */
const FIRST_PASS_BUFFERS = 3;

/**
 * Chunks the first pass reads (and feeds the file hash) at once: each read and each hash update
 * is an operation on another thread, whose hand-over costs about as much CPU as hashing 50 KiB.
 */
const FIRST_PASS_CHUNKS_PER_READ = 4;

/**
 * Spare bytes of a second-pass message buffer: later chunks' headers are a few bytes longer
 * (larger offsets and indexes), and the buffer of the first is reused for them.
 */
const HEADER_SLACK = 32;

/**
 * Chunks of the second pass read and hashed ahead of the one being sent, so that the producer
 * never waits for the disk or a hash.
 */
const SEND_AHEAD = 4;

/**
 * The first pass of a file of at most {@linkcode IN_MEMORY_CHUNKS} chunks, read whole (one
 * operation: open, read, close): its hash and its chunks' hashes, each on a background thread
 * at the same time (a file of one chunk has one hash).
 */
async function hashKept(bytes: Uint8Array<ArrayBuffer>, chunkSize: number): Promise<FirstPass> {
  const sha = backgroundSha512();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    chunks.push(bytes.subarray(offset, Math.min(bytes.length, offset + chunkSize)));
  }
  const [fileHash, ...hashes] = await Promise.all([
    chunks.length > 1 ? sha.digest(bytes) : undefined,
    ...chunks.map((chunk) => sha.digest(chunk)),
  ]);
  return { fileHash: fileHash ?? hashes[0]!, prints: new Uint32Array(0), kept: { chunks, hashes } };
}

/** Message buffers of one-chunk files kept for the next ones: see {@linkcode takeMessage}. */
const spareMessages: Uint8Array<ArrayBuffer>[] = [];

/** Most message buffers of one-chunk files kept for reuse (each at most a chunk and 64 KiB). */
const SPARE_MESSAGES = 8;

/**
 * A message buffer of at least `length` bytes for a file of one chunk: a spare one, or a new one
 * rounded up to 64 KiB (so that files of about the same size share them). A new buffer is
 * zeroed memory the process must fault in and V8 must account for: a folder of many small
 * files would allocate (and collect) its whole size again, in buffers of about 100 KiB.
 */
function takeMessage(length: number): Uint8Array<ArrayBuffer> {
  for (let i = spareMessages.length - 1; i >= 0; i--) {
    if (spareMessages[i].length >= length) return spareMessages.splice(i, 1)[0];
  }
  return new Uint8Array(Math.ceil(length / 65536) * 65536);
}

/**
 * Gives back a buffer of {@linkcode takeMessage} once nothing uses it any more (the producer
 * copies each message: once every chunk is handed over).
 */
function giveBackMessage(buffer: Uint8Array<ArrayBuffer>): void {
  if (spareMessages.length < SPARE_MESSAGES) spareMessages.push(buffer);
}

/**
 * The first (and only) read of a file of one chunk: straight into its message buffer, where
 * {@linkcode encodeChunk} leaves it (no copy), with one synchronous open, read and close (a
 * few microseconds for a small file in the page cache; each asynchronous file operation costs
 * tens of microseconds of CPU in hand-overs between threads). Its hash, the file's and the
 * chunk's, runs on a background thread.
 */
async function readSingle(
  full: string,
  path: string,
  size: number,
  layout: ChunkLayout,
): Promise<FirstPass> {
  const message = takeMessage(layout.length);
  const data = message.subarray(layout.dataOffset, layout.dataOffset + size);
  readWholeSync(full, path, data);
  const hash = await backgroundSha512().digest(data);
  return {
    fileHash: hash,
    prints: new Uint32Array(0),
    kept: { chunks: [data], hashes: [hash], message },
  };
}

/**
 * The first pass of a larger file: reads it once and computes its whole-file SHA-512 on a
 * background thread (see {@linkcode backgroundSha512}) while this thread reads on, and a CRC-32
 * of each chunk. Its chunk hashes wait for the second read ({@linkcode sendChunks}), so that
 * only the hash every chunk must carry stands between reading a large file and sending it.
 */
async function firstPass(file: Deno.FsFile, size: number, chunkSize: number): Promise<FirstPass> {
  const total = Math.ceil(size / chunkSize);
  const block = chunkSize * FIRST_PASS_CHUNKS_PER_READ;
  const blocks = Math.ceil(size / block);
  const ring = Array.from({ length: FIRST_PASS_BUFFERS }, () => new Uint8Array(block));
  const prints = new Uint32Array(total);
  const hasher = backgroundSha512().hasher();
  const busy: Promise<unknown>[] = []; // per ring slot: the file hash's update with its data
  let updates: Promise<void> = Promise.resolve(); // one after the other
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown) => {
    failure ??= { error };
  };
  try {
    for (let i = 0; i < blocks; i++) {
      const slot = i % ring.length;
      await busy[slot];
      if (failure) throw failure.error;
      const bytes = ring[slot].subarray(0, Math.min(block, size - i * block));
      if (await readFull(file, bytes) !== bytes.length) throw new FileChanged();
      for (let at = 0; at < bytes.length; at += chunkSize) {
        prints[(i * block + at) / chunkSize] = crc32(bytes.subarray(at, at + chunkSize));
      }
      updates = updates.then(() => hasher.update(bytes));
      busy[slot] = updates.catch(fail);
    }
    if (await file.read(new Uint8Array(1)) !== null) throw new FileChanged(); // it grew
    await Promise.all(busy);
    if (failure) throw failure.error;
    return { fileHash: hasher.digest(), prints, kept: undefined };
  } finally {
    // No background hash may still be reading a buffer once this returns.
    await Promise.allSettled([...busy, updates]);
    hasher.free();
  }
}

/** A chunk ready to be encoded: its data and SHA-512. */
interface ReadyChunk {
  /** 1-based chunk index. */
  index: number;
  /** The chunk's bytes (valid until the next chunks are read: encode it first). */
  data: Uint8Array;
  /** SHA-512 of `data`. */
  hash: Uint8Array;
  /**
   * The buffer `data` was read into, at its place in the chunk's message (see
   * {@linkcode chunkLayout}): encoded into it, the data is not copied. Undefined for the chunks
   * of a kept file of several chunks.
   */
  message: Uint8Array<ArrayBuffer> | undefined;
}

/**
 * The chunks `indexes` (1-based, ascending) of a file, in order, each read (again, for a file not
 * kept by the first pass) and hashed up to {@linkcode SEND_AHEAD} chunks ahead of the one the
 * caller is handling. A chunk whose bytes differ from the first read (its CRC-32) throws
 * `FileChanged`: the file hash sent is the first read's. `handle` must be done with a chunk's
 * data when its promise resolves (the buffer is reused).
 */
async function sendChunks(
  file: Deno.FsFile | undefined,
  size: number,
  chunkSize: number,
  first: FirstPass,
  indexes: readonly number[],
  layout: (index: number, dataLength: number) => ChunkLayout,
  handle: (chunk: ReadyChunk) => Promise<boolean>,
): Promise<void> {
  const kept = first.kept;
  if (kept) {
    for (const index of indexes) {
      const go = await handle({
        index,
        data: kept.chunks[index - 1],
        hash: kept.hashes[index - 1],
        message: kept.message,
      });
      if (!go) return;
    }
    return;
  }
  if (!file) throw new Error("A file not kept in memory is read again: it must be open.");
  const sha = backgroundSha512();
  // Message buffers: each chunk is read where its data sits in its message.
  const ring: Uint8Array<ArrayBuffer>[] = [];
  let position = size; // where the file handle is: the first pass read it all
  let reads: Promise<unknown> = Promise.resolve(); // one read after the other
  const prepare = (n: number): Promise<ReadyChunk> => {
    const index = indexes[n];
    const offset = (index - 1) * chunkSize;
    const length = Math.min(chunkSize, size - offset);
    const place = layout(index, length);
    const slot = n % SEND_AHEAD;
    if (!ring[slot] || ring[slot].length < place.length) {
      ring[slot] = new Uint8Array(place.length + HEADER_SLACK);
    }
    const message = ring[slot];
    const data = message.subarray(place.dataOffset, place.dataOffset + length);
    const read = reads.then(async () => {
      if (position !== offset) await file.seek(offset, Deno.SeekMode.Start);
      if (await readFull(file, data) !== data.length) throw new FileChanged();
      position = offset + data.length;
      // The file hash sent is that of the first read: the bytes must be the same.
      if (crc32(data) !== first.prints[index - 1]) throw new FileChanged();
    });
    reads = read.catch(() => {});
    return read.then(async () => ({ index, data, hash: await sha.digest(data), message }));
  };
  const ahead: Promise<ReadyChunk>[] = [];
  let next = 0;
  const fill = () => {
    while (ahead.length < SEND_AHEAD && next < indexes.length) {
      const ready = prepare(next++);
      ready.catch(() => {}); // awaited in turn below; a failure ahead must not go unhandled
      ahead.push(ready);
    }
  };
  try {
    fill();
    while (ahead.length > 0) {
      const chunk = await ahead[0];
      const go = await handle(chunk);
      ahead.shift(); // its buffer is free again
      if (!go) return;
      fill();
    }
  } finally {
    // No read or background hash may still be using a buffer once this returns.
    await Promise.allSettled(ahead);
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

/** Opens a file to read it. */
async function openFile(full: string, path: string): Promise<Deno.FsFile> {
  try {
    return await Deno.open(full, { read: true });
  } catch (error) {
    throw readFailure(error, path);
  }
}

/**
 * Reads a small file whole, synchronously (see {@linkcode readSingle}); one whose size is not
 * `size` any more changed.
 */
function readKept(full: string, path: string, size: number): Uint8Array<ArrayBuffer> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = Deno.readFileSync(full);
  } catch (error) {
    throw readFailure(error, path);
  }
  if (bytes.length !== size) throw new FileChanged();
  return bytes;
}

/** Reads a small file whole into `into`, synchronously; one of another size changed. */
function readWholeSync(full: string, path: string, into: Uint8Array): void {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(full, { read: true });
  } catch (error) {
    throw readFailure(error, path);
  }
  try {
    let filled = 0;
    while (filled < into.length) {
      const n = file.readSync(into.subarray(filled));
      if (n === null) throw new FileChanged(); // it shrank
      filled += n;
    }
    if (file.readSync(new Uint8Array(1)) !== null) throw new FileChanged(); // it grew
  } finally {
    file.close();
  }
}

/** A file that cannot be opened fails as "unreadable" (one deleted meanwhile, as "missing"). */
function readFailure(error: unknown, path: string): unknown {
  if (error instanceof Deno.errors.NotFound) return error;
  return new UploadError("unreadable", path, `File "${path}" cannot be read: ${describe(error)}`, {
    cause: error,
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `stat`, synchronously: a few microseconds, where an asynchronous one costs tens. */
function statFile(full: string, path: string): Deno.FileInfo {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(full);
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
