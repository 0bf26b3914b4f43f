/**
 * Rebuilding files from chunk messages, in memory, on disk, or both. Each file (a relative
 * path and a content hash: one generation) is assembled on its own; duplicate chunks are
 * ignored; in disk mode each chunk is written at its offset into a partial file under
 * `.ferry/partial/`, so memory stays bounded whatever the file size, and the finished file is
 * moved into place inside the output directory only (never through a symlink).
 *
 * @module
 */

import { hashHex, sha512 } from "../chunks/hash.ts";
import type { DataFileChunk } from "../chunks/chunk.ts";
import { relativePath as chunkRelativePath } from "../chunks/chunk.ts";
import { outputFilename, resolveInside } from "./path.ts";
import type { PartitionRange, ReassemblyMode } from "./downloaded_file.ts";
import { FERRY_DIR } from "../registry/registry.ts";

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
  /** The data, in memory and both modes. */
  data?: Uint8Array;
}

/** The result of {@linkcode FileAssembler.add}. */
export type AddResult =
  | { kind: "added"; assembly: FileAssembly }
  | { kind: "duplicate"; assembly: FileAssembly }
  | { kind: "conflict"; reason: string };

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
  /** The partial file on disk (disk and both modes). */
  readonly partialPath: string | undefined;
  readonly #chunks = new Map<number, ReceivedChunk>();
  #bytes = 0;

  constructor(chunk: DataFileChunk, partialDir: string | undefined) {
    this.relativePath = chunkRelativePath(chunk);
    this.filename = chunk.filename;
    this.subdir = chunk.subdir;
    const name = outputFilename(chunk.filename, chunk.filenameAppend);
    this.outputRelativePath = this.subdir ? `${this.subdir}/${name}` : name;
    this.sha512 = hashHex(chunk.fileHash);
    this.totalChunks = chunk.totalChunks;
    this.mtime = chunk.fileMtime === undefined ? undefined : chunk.fileMtime * 1000;
    this.partialPath = partialDir === undefined
      ? undefined
      : `${partialDir}/${this.sha512.slice(0, 32)}-${
        hashHex(sha512(encoder.encode(this.outputRelativePath))).slice(0, 16)
      }.part`;
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

  /** The chunks' data in file order (memory and both modes). */
  chunkData(): { offset: number; data: Uint8Array }[] {
    return [...this.#chunks.values()]
      .sort((a, b) => a.offset - b.offset)
      .map((c) => ({ offset: c.offset, data: c.data ?? new Uint8Array(0) }));
  }

  /** Records a chunk; false when its index was seen already (a duplicate). */
  record(chunk: DataFileChunk, keepData: boolean): boolean {
    if (this.#chunks.has(chunk.chunkIndex)) return false;
    this.#chunks.set(chunk.chunkIndex, {
      offset: chunk.chunkOffset,
      length: chunk.data.length,
      data: keepData ? chunk.data : undefined,
    });
    this.#bytes += chunk.data.length;
    return true;
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
}

/**
 * Keeps the files being rebuilt and adds chunks to them.
 *
 * @example
 * ```ts
 * import { FileAssembler } from "./reassembly.ts";
 * import { createChunk } from "../chunks/chunk.ts";
 * import { sha512 } from "../chunks/hash.ts";
 * const data = new TextEncoder().encode("hello");
 * const chunk = createChunk({
 *   filename: "a.txt", fileHash: sha512(data), chunkOffset: 0, chunkIndex: 1,
 *   totalChunks: 1, data,
 * });
 * const assembler = new FileAssembler({ outputDir: await Deno.makeTempDir(), mode: "memory" });
 * const result = await assembler.add(chunk, { partition: 0, offset: 0 });
 * console.assert(result.kind === "added" && result.assembly.complete);
 * ```
 */
export class FileAssembler {
  readonly #outputDir: string;
  readonly #mode: ReassemblyMode;
  readonly #partialDir: string | undefined;
  readonly #files = new Map<string, FileAssembly>();
  #partialDirMade = false;

  constructor(options: FileAssemblerOptions) {
    this.#outputDir = options.outputDir;
    this.#mode = options.mode;
    this.#partialDir = options.mode === "memory"
      ? undefined
      : `${options.outputDir}/${FERRY_DIR}/partial`;
  }

  /** The files being rebuilt. */
  get inProgress(): FileAssembly[] {
    return [...this.#files.values()];
  }

  /** Bytes held in memory by files being rebuilt. */
  get bytesInMemory(): number {
    if (this.#mode === "disk") return 0;
    let total = 0;
    for (const file of this.#files.values()) total += file.receivedBytes;
    return total;
  }

  /**
   * Adds a chunk to its file. In disk and both modes the chunk is written at its offset into
   * the file's partial file before this resolves.
   */
  async add(chunk: DataFileChunk, source: ChunkSource): Promise<AddResult> {
    const key = `${hashHex(chunk.fileHash)}:${chunkRelativePath(chunk)}`;
    let assembly = this.#files.get(key);
    if (!assembly) {
      assembly = new FileAssembly(chunk, this.#partialDir);
      this.#files.set(key, assembly);
    } else if (assembly.totalChunks !== chunk.totalChunks) {
      return {
        kind: "conflict",
        reason: `chunk ${chunk.chunkIndex} says the file has ${chunk.totalChunks} chunks, ` +
          `earlier chunks said ${assembly.totalChunks}`,
      };
    }
    assembly.sources.push(source);
    if (!assembly.record(chunk, this.#mode !== "disk")) return { kind: "duplicate", assembly };
    if (assembly.partialPath !== undefined) await this.#write(assembly.partialPath, chunk);
    return { kind: "added", assembly };
  }

  async #write(path: string, chunk: DataFileChunk): Promise<void> {
    if (!this.#partialDirMade) {
      await Deno.mkdir(this.#partialDir!, { recursive: true });
      this.#partialDirMade = true;
    }
    using file = await Deno.open(path, { write: true, create: true });
    await file.seek(chunk.chunkOffset, Deno.SeekMode.Start);
    let written = 0;
    while (written < chunk.data.length) {
      written += await file.write(chunk.data.subarray(written));
    }
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
    if (assembly.partialPath === undefined) return undefined;
    const target = await resolveInside(this.#outputDir, assembly.outputRelativePath);
    const parent = target.slice(0, target.lastIndexOf("/"));
    await Deno.mkdir(parent, { recursive: true });
    // Directories made just now could have been raced by a symlink: check again.
    await resolveInside(this.#outputDir, assembly.outputRelativePath);
    await Deno.truncate(assembly.partialPath, size);
    await Deno.rename(assembly.partialPath, target);
    return target;
  }

  /** Deletes a file's partial file, if it has one. */
  async discard(assembly: FileAssembly): Promise<void> {
    this.remove(assembly);
    if (assembly.partialPath === undefined) return;
    try {
      await Deno.remove(assembly.partialPath);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
}
