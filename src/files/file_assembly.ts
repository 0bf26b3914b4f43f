/**
 * One file generation being rebuilt from its chunks ({@linkcode FileAssembly}): which chunks
 * arrived and from which messages, their data in memory (in one buffer for the whole file when
 * one was reserved) or only on disk, the SHA-512 computed here while they arrive, and the checks
 * that they fit together. What it holds is bounded, and where its chunks are written, by the
 * assembler that owns many (`reassembly.ts`); moved out of it so that each file's state reads on
 * its own.
 *
 * @module
 */

import type { BackgroundSha512 } from "../hash/background.ts";
import { BufferHash } from "./buffer_hash.ts";
import { StreamHash } from "./stream_hash.ts";
import { hashHex, sha512 } from "../hash/sha512.ts";
import type { DataFileChunk } from "../chunks/chunk.ts";
import { relativePath as chunkRelativePath } from "../chunks/chunk.ts";
import { outputFilename } from "./path.ts";
import type { PartitionRange } from "./downloaded_file.ts";

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

const encoder = new TextEncoder();

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
