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
 * Each file's own state is a {@linkcode FileAssembly} (`file_assembly.ts`); the hashing of a
 * complete file and the search for damaged chunks are in `assembly_hash.ts`; the writing of
 * chunks into partial files in `partial_files.ts`; the move of a complete file into place in
 * `placement.ts`.
 *
 * @module
 */

import type { BackgroundSha512 } from "../hash/background.ts";
import { hashHex } from "../hash/sha512.ts";
import type { DataFileChunk } from "../chunks/chunk.ts";
import { relativePath as chunkRelativePath } from "../chunks/chunk.ts";
import type { ReassemblyMode } from "./downloaded_file.ts";
import { PARTIAL_DIR } from "./layout.ts";
import { isOffsetError, PartialFiles } from "./partial_files.ts";
import { Placement } from "./placement.ts";
import { type ChunkSource, FileAssembly } from "./file_assembly.ts";
import { type BadChunk, digestAssembly, type FileData, findBadChunks } from "./assembly_hash.ts";

export type { ChunkSource } from "./file_assembly.ts";
export { FileAssembly } from "./file_assembly.ts";
export type { BadChunk, FileData } from "./assembly_hash.ts";

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
  /** Writes chunks into the partial files under {@linkcode PARTIAL_DIR}. */
  readonly #partials: PartialFiles;
  /** Moves complete files into place (see {@linkcode FileAssembler.finalize}). */
  readonly #placement: Placement;

  /** Creates an assembler writing into `options.outputDir`. */
  constructor(options: FileAssemblerOptions) {
    this.#outputDir = options.outputDir;
    this.#mode = options.mode;
    this.#partialDir = `${options.outputDir}/${PARTIAL_DIR}`;
    this.#partials = new PartialFiles(this.#partialDir);
    this.#placement = new Placement(options.outputDir);
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
        await this.#partials.write(assembly.partialPath, [{
          offset: chunk.chunkOffset,
          data: chunk.data,
        }]);
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
          await this.#partials.write(assembly.partialPath, chunks);
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
  digest(assembly: FileAssembly, size: number, data?: FileData): Promise<string> {
    return digestAssembly(assembly, size, data);
  }

  /**
   * The chunks of a complete file whose data does not match the SHA-512 their message claims,
   * in file order: checked only after the file's own hash failed, to say which chunks were
   * damaged. The data comes from `data` when given (as for {@linkcode FileAssembler.digest}),
   * else from memory when every chunk is held there, else from the partial file.
   */
  badChunks(assembly: FileAssembly, data?: FileData): Promise<BadChunk[]> {
    return findBadChunks(assembly, data);
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
    return await this.#placement.place(assembly, size);
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
