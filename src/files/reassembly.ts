/**
 * Rebuilding files from chunk messages, in memory, on disk, or both. Each file (a relative
 * path and a content hash: one generation) is assembled on its own; duplicate chunks are
 * ignored; in disk mode each chunk is written at its offset into a partial file under
 * `.ferry/partial/`, so memory stays bounded whatever the file size, and the finished file is
 * moved into place inside the output directory only (never through a symlink).
 *
 * Files that never complete cannot hold resources without bound: at most
 * {@linkcode DEFAULT_MAX_PARTIAL_FILES} files are in progress (beyond that the least recently
 * active is abandoned), and in memory and both modes at most
 * {@linkcode DEFAULT_MAX_PARTIAL_BYTES} of their data is held in memory (beyond that the least
 * recently active files spill their chunks to their partial file and continue on disk).
 *
 * In memory and both modes a file of several chunks gets one buffer for the whole file when
 * its first chunk arrives (its size guessed from that chunk, bounded by the memory limit and
 * {@linkcode MAX_FILE_BUFFER_BYTES}), and each chunk is copied in at its offset: the complete
 * file is then one array, handed to its worker by transfer, and the chunks' message buffers are
 * free as soon as they are copied.
 *
 * With {@linkcode FileAssemblerOptions.hashes} the files' SHA-512s are computed here while their
 * chunks arrive, on background threads: a file rebuilt in one buffer from that buffer
 * (`buffer_hash.ts`), a file rebuilt on disk from the chunks' data as given
 * (`stream_hash.ts`). A chunk's data lent by librdkafka (`borrowed`) is then copied once, into
 * the buffer, or not at all, written to disk from where it is (wait for
 * {@linkcode FileAssembler.lentHashed} before that memory goes).
 *
 * A complete file's SHA-512 is checked before it is moved into place: computed while its
 * chunks arrived (the caller's hash lane) or by {@linkcode FileAssembler.digest}; when it fails,
 * {@linkcode FileAssembler.badChunks} checks each chunk against the SHA-512 its message claims,
 * to say which were damaged.
 *
 * @module
 */

import { type BackgroundSha512, backgroundSha512 } from "../hash/background.ts";
import { BufferHash } from "./buffer_hash.ts";
import { StreamHash } from "./stream_hash.ts";
import { hashesEqual, hashHex, sha512 } from "../hash/sha512.ts";
import type { DataFileChunk } from "../chunks/chunk.ts";
import { relativePath as chunkRelativePath } from "../chunks/chunk.ts";
import { outputFilename, resolveInside } from "./path.ts";
import type { PartitionRange, ReassemblyMode } from "./downloaded_file.ts";
import { PARTIAL_DIR } from "./layout.ts";

/** Where a chunk message came from. */
export interface ChunkSource {
  /** The partition. */
  partition: number;
  /** The message's offset. */
  offset: number;
}

/** One received chunk of a file. */
interface ReceivedChunk {
  offset: number;
  length: number;
  /** The SHA-512 its message claims for its data (checked only when the file's hash fails). */
  hash: Uint8Array;
  /** The message that brought it. */
  source: ChunkSource;
  /** The data, in memory and both modes. */
  data?: Uint8Array;
}

/**
 * A chunk whose data does not match the SHA-512 its message claims, found by
 * {@linkcode FileAssembler.badChunks}.
 */
export interface BadChunk {
  /** `chunk_i`, from 1. */
  index: number;
  /** Its offset in the file. */
  offset: number;
  /** Its length. */
  length: number;
  /** The message that brought it. */
  source: ChunkSource;
}

/** The data of a complete file, in file order: chunks or one array of the whole file. */
export type FileData = { offset: number; data: Uint8Array }[];

/** Bytes read at a time when a file is hashed from disk (two such buffers are used). */
const READ_BLOCK_BYTES = 4 * 1024 * 1024;

/**
 * The result of {@linkcode FileAssembler.add}. `added`: `released` says the assembly keeps no
 * view of the chunk's data (it was written to disk, or copied into the file's buffer), so the
 * caller may hand the message's buffer on by transfer.
 */
export type AddResult =
  | { kind: "added"; assembly: FileAssembly; released: boolean }
  | { kind: "duplicate"; assembly: FileAssembly }
  | { kind: "conflict"; reason: string }
  | { kind: "invalid"; assembly: FileAssembly; reason: string };

const encoder = new TextEncoder();

/** The default most files in progress at once (`--max-partial-files`). */
export const DEFAULT_MAX_PARTIAL_FILES = 1000;

/** The default most bytes of files in progress held in memory (`--max-partial-mb`): 256 MiB. */
export const DEFAULT_MAX_PARTIAL_BYTES = 256 * 1024 * 1024;

/**
 * The largest buffer reserved for a whole file (memory and both modes): a larger file keeps its
 * chunks as they came and is joined into one array by its worker. Also keeps a size guessed
 * from a hostile chunk (a million chunks) from being tried at all under a very high
 * `--max-partial-mb` (a failed allocation of tens of GB costs tens of ms).
 */
export const MAX_FILE_BUFFER_BYTES = 1024 * 1024 * 1024;

/** One file generation being rebuilt. */
export class FileAssembly {
  /** The file's path relative to the upload root (`subdir/filename`). */
  readonly relativePath: string;
  /** Where it goes in the output directory (with `filename_append` applied). */
  readonly outputRelativePath: string;
  /** The bare file name. */
  readonly filename: string;
  /** The subdirectory, `""` at the root. */
  readonly subdir: string;
  /** SHA-512 of the whole file, hex. */
  readonly sha512: string;
  /** The number of chunks. */
  readonly totalChunks: number;
  /** Modification time in ms since the epoch, when the uploader sent one. */
  readonly mtime: number | undefined;
  /** The messages that brought its chunks (duplicates included). */
  readonly sources: ChunkSource[] = [];
  /** When its first chunk arrived (ms since the epoch). */
  readonly startedAt = Date.now();
  /** When its latest chunk arrived (ms since the epoch). */
  lastChunkAt = Date.now();
  /** Its partial file, used in disk and both modes, and in memory mode once spilled. */
  readonly partialPath: string;
  readonly #chunks = new Map<number, ReceivedChunk>();
  /**
   * The whole file's buffer (memory and both modes), when one was reserved: chunks are copied
   * in at their offsets as they arrive, so that the complete file is one array, transferred to
   * its worker as it is. Counted in full in {@linkcode FileAssembly.memoryBytes}.
   */
  #buffer: Uint8Array<ArrayBuffer> | undefined;
  /** The SHA-512 of {@linkcode FileAssembly.#buffer}, computed while it fills. */
  #bufferHash: BufferHash | undefined;
  /** The SHA-512 of the chunks written to disk, computed as they arrive in order. */
  #streamHash: StreamHash | undefined;
  /** Whether the file's hash is computed here (even if given up since). */
  #ownHash = false;
  /** Chunks held in {@linkcode FileAssembly.#buffer}. */
  #inBuffer = 0;
  #bytes = 0;
  #memoryBytes = 0;
  #onDisk: boolean;
  #spilled = false;

  /** Starts a file from its first chunk; `onDisk`: chunks are written to `partialDir`. */
  constructor(chunk: DataFileChunk, partialDir: string, onDisk: boolean) {
    this.relativePath = chunkRelativePath(chunk);
    this.filename = chunk.filename;
    this.subdir = chunk.subdir;
    const name = outputFilename(chunk.filename, chunk.filenameAppend);
    this.outputRelativePath = this.subdir ? `${this.subdir}/${name}` : name;
    this.sha512 = hashHex(chunk.fileHash);
    this.totalChunks = chunk.totalChunks;
    this.mtime = chunk.fileMtime === undefined ? undefined : chunk.fileMtime * 1000;
    this.partialPath = `${partialDir}/${this.sha512.slice(0, 32)}-${
      hashHex(sha512(encoder.encode(this.outputRelativePath))).slice(0, 16)
    }.part`;
    this.#onDisk = onDisk;
  }

  /** Whether its chunks are written to {@linkcode FileAssembly.partialPath}. */
  get onDisk(): boolean {
    return this.#onDisk;
  }

  /** Whether its chunks moved from memory to disk (see {@linkcode FileAssembly.spill}). */
  get spilled(): boolean {
    return this.#spilled;
  }

  /** Bytes of chunk data it holds in memory, with the whole of its file buffer if it has one. */
  get memoryBytes(): number {
    return this.#memoryBytes;
  }

  /**
   * Gives it a buffer for the whole file (see {@linkcode FileAssembler}: the caller bounds its
   * size), before its first chunk is recorded; with `sha`, the file's SHA-512 is computed from
   * the buffer as it fills (see {@linkcode FileAssembly.ownDigest}).
   */
  reserve(buffer: Uint8Array<ArrayBuffer>, sha?: BackgroundSha512): void {
    if (this.#chunks.size > 0 || this.#buffer !== undefined || this.#spilled) {
      throw new Error(`A buffer for "${this.relativePath}" must be reserved before its chunks.`);
    }
    this.#buffer = buffer;
    this.#memoryBytes += buffer.byteLength;
    if (sha !== undefined) {
      this.#bufferHash = new BufferHash(sha, buffer);
      this.#ownHash = true;
    }
  }

  /**
   * Has the file's SHA-512 computed from the chunks written to disk, as they arrive (see
   * {@linkcode FileAssembly.hashChunk}), before its first chunk is recorded.
   */
  hashStream(sha: BackgroundSha512): void {
    this.#streamHash = new StreamHash(sha);
    this.#ownHash = true;
  }

  /**
   * Feeds a chunk just written to disk to the file's stream hash, if it has one: resolves once
   * the chunk's data is hashed (it must stay unchanged until then).
   */
  hashChunk(chunk: DataFileChunk): Promise<void> | undefined {
    return this.#streamHash?.update(chunk.chunkOffset, chunk.data);
  }

  /**
   * Whether the file's SHA-512 is computed here, from its buffer or its chunks (from its first
   * chunk on): its chunks need no other hash while they arrive.
   */
  get ownHash(): boolean {
    return this.#ownHash;
  }

  /**
   * The SHA-512 (hex) of the complete file of `size` bytes computed here, or `undefined` when
   * there is none (not computed here, spilled, a chunk did not fit its buffer or came out of
   * order): the caller hashes the file another way. Call it once, after
   * {@linkcode FileAssembly.checkedSize}.
   */
  ownDigest(size: number): Promise<string | undefined> {
    const buffer = this.#bufferHash;
    const stream = this.#streamHash;
    this.#bufferHash = undefined;
    this.#streamHash = undefined;
    if (buffer !== undefined) {
      stream?.abandon();
      return buffer.digest(size);
    }
    return stream === undefined ? Promise.resolve(undefined) : stream.digest(size);
  }

  /** Gives up the hash computed here, if any (the file is spilled or discarded). */
  dropHash(): void {
    this.#bufferHash?.abandon();
    this.#bufferHash = undefined;
    this.#streamHash?.abandon();
    this.#streamHash = undefined;
  }

  /** Whether the chunk with this index has arrived. */
  has(chunkIndex: number): boolean {
    return this.#chunks.has(chunkIndex);
  }

  /** Whether every chunk has arrived. */
  get complete(): boolean {
    return this.#chunks.size === this.totalChunks;
  }

  /** Chunks received so far. */
  get receivedChunks(): number {
    return this.#chunks.size;
  }

  /** Bytes received so far (distinct chunks). */
  get receivedBytes(): number {
    return this.#bytes;
  }

  /** The partitions and offset ranges of its chunks. */
  partitionRanges(): PartitionRange[] {
    const ranges = new Map<number, PartitionRange>();
    for (const { partition, offset } of this.sources) {
      const range = ranges.get(partition);
      if (!range) ranges.set(partition, { partition, firstOffset: offset, lastOffset: offset });
      else {
        range.firstOffset = Math.min(range.firstOffset, offset);
        range.lastOffset = Math.max(range.lastOffset, offset);
      }
    }
    return [...ranges.values()].sort((a, b) => a.partition - b.partition);
  }

  /**
   * The file's size, once complete, after checking that the chunks cover it from byte 0 on
   * without gaps or overlaps.
   *
   * @throws {Error} naming the first gap or overlap.
   */
  checkedSize(): number {
    const chunks = [...this.#chunks.values()].sort((a, b) => a.offset - b.offset);
    let expected = 0;
    for (const chunk of chunks) {
      if (chunk.offset !== expected) {
        throw new Error(
          `Chunks of "${this.relativePath}" do not fit together: one starts at byte ` +
            `${chunk.offset}, expected ${expected}.`,
        );
      }
      expected += chunk.length;
    }
    return expected;
  }

  /**
   * The chunks' data in file order (memory and both modes): one view of the whole file when
   * every chunk is in its buffer (call after {@linkcode FileAssembly.checkedSize}).
   */
  chunkData(): { offset: number; data: Uint8Array }[] {
    if (this.#buffer !== undefined && this.#inBuffer === this.#chunks.size) {
      return [{ offset: 0, data: this.#buffer.subarray(0, this.#bytes) }];
    }
    return [...this.#chunks.values()]
      .sort((a, b) => a.offset - b.offset)
      .map((c) => ({ offset: c.offset, data: c.data ?? new Uint8Array(0) }));
  }

  /**
   * Records a chunk brought by `source`; false when its index was seen already (a duplicate).
   * With `keepData` the data is copied into the file's buffer when it fits there, else kept as
   * the view it is, or as a copy when `borrowed` (a view of memory that is freed soon).
   */
  record(
    chunk: DataFileChunk,
    keepData: boolean,
    source: ChunkSource,
    borrowed = false,
  ): boolean {
    if (this.#chunks.has(chunk.chunkIndex)) return false;
    const length = chunk.data.length;
    let data: Uint8Array | undefined;
    if (keepData && this.#buffer && chunk.chunkOffset + length <= this.#buffer.length) {
      // A chunk overlapping another overwrites part of it here, but such a file never gets
      // past checkedSize().
      this.#buffer.set(chunk.data, chunk.chunkOffset);
      data = this.#buffer.subarray(chunk.chunkOffset, chunk.chunkOffset + length);
      this.#inBuffer++;
      this.#bufferHash?.filled(chunk.chunkOffset, length);
    } else if (keepData) {
      data = borrowed ? chunk.data.slice() : chunk.data;
      this.#memoryBytes += length;
    }
    this.#chunks.set(chunk.chunkIndex, {
      offset: chunk.chunkOffset,
      length,
      hash: chunk.chunkHash,
      source,
      data,
    });
    this.#bytes += length;
    this.lastChunkAt = Date.now();
    return true;
  }

  /** Whether the data of every chunk received is held in memory (none only on disk). */
  get dataInMemory(): boolean {
    for (const chunk of this.#chunks.values()) if (chunk.data === undefined) return false;
    return true;
  }

  /** Its chunks in file order: index, offset, length, claimed hash, message, data if held. */
  chunkList(): (ReceivedChunk & { index: number })[] {
    return [...this.#chunks.entries()]
      .map(([index, chunk]) => ({ ...chunk, index }))
      .sort((a, b) => a.offset - b.offset);
  }

  /** Whether the data of the chunk with this index was copied into the file's buffer. */
  inBuffer(chunkIndex: number): boolean {
    const data = this.#chunks.get(chunkIndex)?.data;
    return data !== undefined && this.#buffer !== undefined && data.buffer === this.#buffer.buffer;
  }

  /**
   * Hands over the chunks held in memory and forgets their data: from now on the file is
   * rebuilt on disk. The caller writes them to the partial file.
   */
  spill(): { offset: number; data: Uint8Array }[] {
    const held: { offset: number; data: Uint8Array }[] = [];
    for (const chunk of this.#chunks.values()) {
      if (chunk.data) held.push({ offset: chunk.offset, data: chunk.data });
      chunk.data = undefined;
    }
    this.#buffer = undefined;
    this.dropHash();
    this.#inBuffer = 0;
    this.#memoryBytes = 0;
    this.#onDisk = true;
    this.#spilled = true;
    return held;
  }

  /** Forgets chunks that came from the given partitions; returns how many were dropped. */
  dropPartitions(partitions: ReadonlySet<number>): number {
    const before = this.sources.length;
    const kept = this.sources.filter((s) => !partitions.has(s.partition));
    this.sources.length = 0;
    this.sources.push(...kept);
    return before - kept.length;
  }
}

/** Options for {@linkcode FileAssembler}. */
export interface FileAssemblerOptions {
  /** The output directory. */
  outputDir: string;
  /** How files are rebuilt. */
  mode: ReassemblyMode;
  /** The most files in progress; default {@linkcode DEFAULT_MAX_PARTIAL_FILES}. */
  maxFiles?: number;
  /** The most bytes held in memory; default {@linkcode DEFAULT_MAX_PARTIAL_BYTES}. */
  maxMemoryBytes?: number;
  /**
   * Hash the files here while their chunks arrive, with these digests: from their buffer, or
   * from the chunks written to disk (see {@linkcode FileAssembly.ownDigest}); default: not
   * (the caller hashes the chunks).
   */
  hashes?: BackgroundSha512;
}

/** What {@linkcode FileAssembler.enforceLimits} did. */
export interface LimitResult {
  /** Files abandoned because too many were in progress (their partial files deleted). */
  abandoned: FileAssembly[];
  /** Files whose chunks moved from memory to their partial file. */
  spilled: FileAssembly[];
}

/** Fills `bytes` from the file's current position, or throws when the file ends first. */
async function readFully(file: Deno.FsFile, bytes: Uint8Array, path: string): Promise<void> {
  let filled = 0;
  while (filled < bytes.length) {
    const n = await file.read(bytes.subarray(filled));
    if (n === null) {
      throw new Error(`"${path}" ended ${bytes.length - filled} bytes earlier than its chunks.`);
    }
    filled += n;
  }
}

/** The bytes `[offset, offset + length)` of a file held as `data` (its parts in file order). */
function sliceOf(data: FileData, offset: number, length: number): Uint8Array {
  for (const part of data) {
    if (offset >= part.offset && offset + length <= part.offset + part.data.length) {
      return part.data.subarray(offset - part.offset, offset - part.offset + length);
    }
  }
  throw new Error(`No part of the file holds bytes ${offset}..${offset + length}.`);
}

/** The most folders {@linkcode FileAssembler} remembers having made (then it forgets them all). */
const MAX_MADE_DIRS = 10_000;

/** Whether a write failed because the offset is past what a file can hold. */
function isOffsetError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EINVAL" || code === "EFBIG";
}

/**
 * Keeps the files being rebuilt and adds chunks to them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileAssembler } from "./reassembly.ts";
 * import { createChunk } from "../chunks/chunk.ts";
 * import { sha512 } from "../hash/sha512.ts";
 * const data = new TextEncoder().encode("hello");
 * const chunk = createChunk({
 *   filename: "a.txt", fileHash: sha512(data), chunkOffset: 0, chunkIndex: 1,
 *   totalChunks: 1, data,
 * });
 * const assembler = new FileAssembler({ outputDir: await Deno.makeTempDir(), mode: "memory" });
 * const result = await assembler.add(chunk, { partition: 0, offset: 0 });
 * assert.ok(result.kind === "added" && result.assembly.complete);
 * ```
 */
export class FileAssembler {
  readonly #outputDir: string;
  readonly #mode: ReassemblyMode;
  readonly #partialDir: string;
  readonly #maxFiles: number;
  readonly #maxMemoryBytes: number;
  readonly #hashes: BackgroundSha512 | undefined;
  /** Stream-hash updates running (see {@linkcode FileAssembler.lentHashed}). */
  readonly #hashing = new Set<Promise<void>>();
  /** By key, least recently active first (a file moves to the end with each chunk). */
  readonly #files = new Map<string, FileAssembly>();
  /** Folders of the output directory made (and checked) by {@linkcode FileAssembler.finalize}. */
  readonly #madeDirs = new Set<string>();
  #partialDirMade = false;

  /** Creates an assembler writing into `options.outputDir`. */
  constructor(options: FileAssemblerOptions) {
    this.#outputDir = options.outputDir;
    this.#mode = options.mode;
    this.#partialDir = `${options.outputDir}/${PARTIAL_DIR}`;
    this.#maxFiles = options.maxFiles ?? DEFAULT_MAX_PARTIAL_FILES;
    this.#maxMemoryBytes = options.maxMemoryBytes ?? DEFAULT_MAX_PARTIAL_BYTES;
    this.#hashes = options.hashes;
    if (!(this.#maxFiles >= 1)) {
      throw new RangeError(`The most files in progress is ${this.#maxFiles}, expected 1 or more.`);
    }
  }

  /** The files being rebuilt. */
  get inProgress(): FileAssembly[] {
    return [...this.#files.values()];
  }

  /** Bytes held in memory by files being rebuilt. */
  get bytesInMemory(): number {
    let total = 0;
    for (const file of this.#files.values()) total += file.memoryBytes;
    return total;
  }

  /**
   * Adds a chunk to its file. In disk and both modes the chunk is written at its offset into
   * the file's partial file before this resolves. `borrowed`: the chunk's data is a view of
   * memory freed soon after (a message value lent by the consumer): what is kept is copied.
   */
  async add(chunk: DataFileChunk, source: ChunkSource, borrowed = false): Promise<AddResult> {
    const key = `${hashHex(chunk.fileHash)}:${chunkRelativePath(chunk)}`;
    let assembly = this.#files.get(key);
    if (!assembly) {
      assembly = new FileAssembly(chunk, this.#partialDir, this.#mode !== "memory");
      this.#reserve(assembly, chunk);
      if (this.#hashes !== undefined && !assembly.ownHash && assembly.onDisk) {
        assembly.hashStream(this.#hashes);
      }
    } else if (assembly.totalChunks !== chunk.totalChunks) {
      return {
        kind: "conflict",
        reason: `chunk ${chunk.chunkIndex} says the file has ${chunk.totalChunks} chunks, ` +
          `earlier chunks said ${assembly.totalChunks}`,
      };
    }
    // Least recently active first: this file moves to the end.
    this.#files.delete(key);
    this.#files.set(key, assembly);
    if (assembly.has(chunk.chunkIndex)) {
      assembly.sources.push(source);
      return { kind: "duplicate", assembly };
    }
    if (assembly.onDisk) {
      try {
        await this.#write(assembly.partialPath, [{ offset: chunk.chunkOffset, data: chunk.data }]);
      } catch (error) {
        if (!isOffsetError(error)) throw error;
        // The file can never be rebuilt: it is invalid as a whole.
        assembly.sources.push(source);
        await this.discard(assembly);
        return {
          kind: "invalid",
          assembly,
          reason: `Chunk ${chunk.chunkIndex} of "${assembly.relativePath}" starts at byte ` +
            `${chunk.chunkOffset}, past what a file can hold ` +
            `(${error instanceof Error ? error.message : String(error)}).`,
        };
      }
    }
    assembly.sources.push(source);
    const keepData = this.#mode !== "disk" && !assembly.spilled;
    assembly.record(chunk, keepData, source, borrowed);
    const hashing = assembly.onDisk ? assembly.hashChunk(chunk) : undefined;
    if (hashing !== undefined) {
      this.#hashing.add(hashing);
      hashing.then(() => this.#hashing.delete(hashing));
    }
    return {
      kind: "added",
      assembly,
      released: !keepData || assembly.inBuffer(chunk.chunkIndex),
    };
  }

  /**
   * Gives a new file of several chunks kept in memory a buffer for the whole file, so that it
   * is complete as one array without a copy at the end. Its size is a guess from the first
   * chunk (chunks of a file are all as long as the first, but the last; a first chunk that is
   * the last gives the size exactly), never trusted beyond the memory limit: the buffer is
   * reserved only when it fits within `maxMemoryBytes` with the data already held (and is at
   * most {@linkcode MAX_FILE_BUFFER_BYTES}), and counts in full from then on. Chunks that do not fit a wrong guess stay the views they are.
   */
  #reserve(assembly: FileAssembly, chunk: DataFileChunk): void {
    if (this.#mode === "disk" || chunk.totalChunks < 2) return;
    const length = chunk.data.length;
    const size = chunk.chunkIndex === chunk.totalChunks
      ? chunk.chunkOffset + length
      : chunk.totalChunks * length;
    if (!(size > 0) || size > MAX_FILE_BUFFER_BYTES) return;
    if (size > this.#maxMemoryBytes - this.bytesInMemory) return;
    let buffer: Uint8Array<ArrayBuffer>;
    try {
      buffer = new Uint8Array(size);
    } catch (error) {
      if (error instanceof RangeError) return; // no memory for it: chunks stay as they come
      throw error;
    }
    assembly.reserve(buffer, this.#hashes);
  }

  /**
   * Keeps resources bounded after a chunk was added: abandons the least recently active files
   * while more than `maxFiles` are in progress (deleting their partial files; the caller
   * settles their messages and says why), then spills the least recently active files' chunks
   * from memory to their partial files while more than `maxMemoryBytes` are held. A chunk
   * whose offset a file cannot hold abandons its file.
   */
  async enforceLimits(): Promise<LimitResult> {
    const result: LimitResult = { abandoned: [], spilled: [] };
    for (const assembly of this.#files.values()) {
      if (this.#files.size <= this.#maxFiles) break;
      await this.discard(assembly);
      result.abandoned.push(assembly);
    }
    let held = this.bytesInMemory;
    for (const assembly of [...this.#files.values()]) {
      if (held <= this.#maxMemoryBytes) break;
      if (assembly.memoryBytes === 0) continue;
      held -= assembly.memoryBytes;
      const chunks = assembly.spill();
      if (this.#mode === "memory") {
        try {
          await this.#write(assembly.partialPath, chunks);
        } catch (error) {
          if (!isOffsetError(error)) throw error;
          await this.discard(assembly);
          result.abandoned.push(assembly);
          continue;
        }
      }
      // In both mode the chunks are on disk already.
      result.spilled.push(assembly);
    }
    return result;
  }

  async #write(path: string, chunks: { offset: number; data: Uint8Array }[]): Promise<void> {
    if (!this.#partialDirMade) {
      await Deno.mkdir(this.#partialDir, { recursive: true });
      this.#partialDirMade = true;
    }
    // Synchronous calls: a chunk goes to the page cache in well under a millisecond, while
    // each asynchronous open/seek/write was a round trip through Deno's I/O threads, and
    // waiting for them left the coordinator idle most of the time (measured: disk mode at
    // about 85 MB/s with async calls).
    using file = Deno.openSync(path, { write: true, create: true });
    for (const chunk of chunks) {
      file.seekSync(chunk.offset, Deno.SeekMode.Start);
      let written = 0;
      while (written < chunk.data.length) {
        written += file.writeSync(chunk.data.subarray(written));
      }
    }
  }

  /**
   * The data of a complete file in file order (memory and both modes): from memory, or read
   * back when the file was spilled to disk, from `finalPath` (both mode, after
   * {@linkcode FileAssembler.finalize}) or from its partial file (memory mode; the partial
   * file is deleted then).
   */
  async completeData(
    assembly: FileAssembly,
    finalPath: string | undefined,
  ): Promise<{ offset: number; data: Uint8Array }[]> {
    if (!assembly.spilled) return assembly.chunkData();
    const path = finalPath ?? assembly.partialPath;
    const data = await Deno.readFile(path);
    if (this.#mode === "memory") await this.discard(assembly);
    return [{ offset: 0, data }];
  }

  /**
   * The SHA-512 (hex) of a complete file of `size` bytes (after
   * {@linkcode FileAssembly.checkedSize}): of `data` when given (its parts in file order, as
   * {@linkcode FileAssembler.completeData} gives them), else of its partial file, read back.
   * Hashed on a background thread when OpenSSL's libcrypto is there (see `backgroundSha512`).
   * Call it before {@linkcode FileAssembler.finalize}: nothing is moved into place unchecked.
   */
  async digest(assembly: FileAssembly, size: number, data?: FileData): Promise<string> {
    const hasher = backgroundSha512().hasher();
    let pending: Promise<void> | undefined;
    try {
      if (data !== undefined) {
        for (const part of data) await hasher.update(part.data);
      } else {
        using file = await Deno.open(assembly.partialPath, { read: true });
        // Two buffers: the next block is read while the last one is hashed.
        const block = Math.max(1, Math.min(READ_BLOCK_BYTES, size));
        const buffers = [new Uint8Array(block), new Uint8Array(block)];
        let left = size;
        for (let i = 0; left > 0; i ^= 1) {
          const bytes = buffers[i].subarray(0, Math.min(block, left));
          await readFully(file, bytes, assembly.partialPath);
          await pending;
          pending = hasher.update(bytes);
          left -= bytes.length;
        }
        await pending;
      }
    } catch (error) {
      await pending?.catch(() => undefined);
      hasher.free();
      throw error;
    }
    return hashHex(hasher.digest());
  }

  /**
   * The chunks of a complete file whose data does not match the SHA-512 their message claims,
   * in file order: checked only after the file's own hash failed, to say which chunks were
   * damaged. The data comes from `data` when given (as for {@linkcode FileAssembler.digest}),
   * else from memory when every chunk is held there, else from the partial file.
   */
  async badChunks(assembly: FileAssembly, data?: FileData): Promise<BadChunk[]> {
    const sha = backgroundSha512();
    const bad: BadChunk[] = [];
    const chunks = assembly.chunkList();
    const fromMemory = data === undefined && assembly.dataInMemory;
    using file = data === undefined && !fromMemory
      ? await Deno.open(assembly.partialPath, { read: true })
      : undefined;
    let buffer = new Uint8Array(0);
    for (const chunk of chunks) {
      let bytes: Uint8Array;
      if (data !== undefined) bytes = sliceOf(data, chunk.offset, chunk.length);
      else if (fromMemory) bytes = chunk.data!;
      else {
        if (buffer.length < chunk.length) buffer = new Uint8Array(chunk.length);
        bytes = buffer.subarray(0, chunk.length);
        await file!.seek(chunk.offset, Deno.SeekMode.Start);
        await readFully(file!, bytes, assembly.partialPath);
      }
      if (!hashesEqual(await sha.digest(bytes), chunk.hash)) {
        bad.push({
          index: chunk.index,
          offset: chunk.offset,
          length: chunk.length,
          source: chunk.source,
        });
      }
    }
    return bad;
  }

  /**
   * Resolves once every chunk fed to a stream hash so far is hashed: wait for it before the
   * memory of lent chunks goes (the consumer's next poll, or its close).
   */
  async lentHashed(): Promise<void> {
    while (this.#hashing.size > 0) await Promise.all(this.#hashing);
  }

  /** Removes a file from the ones in progress (it completed, or is abandoned). */
  remove(assembly: FileAssembly): void {
    this.#files.delete(`${assembly.sha512}:${assembly.relativePath}`);
  }

  /**
   * Moves a complete file's partial file into place in the output directory and returns its
   * full path (disk and both modes). Refuses paths that would leave the output directory.
   */
  async finalize(assembly: FileAssembly, size: number): Promise<string | undefined> {
    if (this.#mode === "memory") return undefined;
    const target = await resolveInside(this.#outputDir, assembly.outputRelativePath);
    const parent = target.slice(0, target.lastIndexOf("/"));
    // The path was just checked whole (no symlink on the way); a folder this run made before
    // need not be made and checked again (saves three file system calls per file).
    const made = this.#madeDirs.has(parent);
    if (!made) await this.#makeParent(parent, assembly.outputRelativePath);
    await Deno.truncate(assembly.partialPath, size);
    try {
      await Deno.rename(assembly.partialPath, target);
    } catch (error) {
      if (!made || !(error instanceof Deno.errors.NotFound)) throw error;
      // The folder was removed meanwhile: make it again.
      this.#madeDirs.delete(parent);
      await this.#makeParent(parent, assembly.outputRelativePath);
      await Deno.rename(assembly.partialPath, target);
    }
    return target;
  }

  async #makeParent(parent: string, relativePath: string): Promise<void> {
    await Deno.mkdir(parent, { recursive: true });
    // Directories made just now could have been raced by a symlink: check again.
    await resolveInside(this.#outputDir, relativePath);
    if (this.#madeDirs.size >= MAX_MADE_DIRS) this.#madeDirs.clear();
    this.#madeDirs.add(parent);
  }

  /** Deletes a file's partial file, if it has one. */
  async discard(assembly: FileAssembly): Promise<void> {
    this.remove(assembly);
    assembly.dropHash();
    if (!assembly.onDisk) return;
    try {
      await Deno.remove(assembly.partialPath);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
}
