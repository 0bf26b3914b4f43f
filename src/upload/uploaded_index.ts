/**
 * The upload log's in-memory index of uploaded file versions: per path, the size and mtime of
 * its last `done` (or `empty`) record and where that line is in the log file, in typed arrays
 * (about 40 bytes a path, with no JavaScript object or string per path), so that a watch that
 * runs for months does not keep every uploaded file's record in memory. The record itself is
 * read back from the log when it is needed (a file whose size or mtime moved).
 *
 * Paths are known by a 64-bit hash ({@linkcode pathHash}), never stored: whoever reads a record
 * back checks its path. "This path at this size and mtime was uploaded"
 * ({@linkcode UploadedIndex.has}) is answered from the hash alone; two paths sharing a hash
 * (about one chance in 10^13 with a million paths) and then also the same size and mtime (to the
 * millisecond) are needed for a wrong answer.
 *
 * @module
 */

/** Where a path's last uploaded record is, and what version it records. */
export interface IndexedVersion {
  /** Size in bytes. */
  size: number;
  /** Modification time in ms since the epoch, or null when unknown. */
  mtime: number | null;
  /** Byte offset of its line in the log file. */
  offset: number;
  /** Length of its line in bytes (without the newline). */
  length: number;
}

/**
 * A 64-bit hash of a path as two unsigned 32-bit halves (cyrb53's mixing, both halves kept).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pathHash } from "./uploaded_index.ts";
 *
 * assert.deepEqual(pathHash("a/b.dat"), pathHash("a/b.dat"));
 * assert.notDeepEqual(pathHash("a/b.dat"), pathHash("a/c.dat"));
 * ```
 *
 * @param path The path.
 * @returns The two halves.
 */
export function pathHash(path: string): [number, number] {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, h2 >>> 0];
}

const INITIAL_ENTRIES = 1024;

/**
 * Open-addressing hash table from a path's 64-bit hash to its last uploaded version
 * (see the module documentation). Entries are never removed: a path stays uploaded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UploadedIndex } from "./uploaded_index.ts";
 *
 * const index = new UploadedIndex();
 * index.set("a.dat", { size: 10, mtime: 5, offset: 0, length: 120 });
 * assert.equal(index.has("a.dat", 10, 5), true);
 * assert.equal(index.has("a.dat", 10, 6), false);
 * index.set("a.dat", { size: 11, mtime: 6, offset: 121, length: 120 });
 * assert.deepEqual(index.get("a.dat"), { size: 11, mtime: 6, offset: 121, length: 120 });
 * assert.equal(index.count, 1);
 * assert.equal(index.get("b.dat"), undefined);
 * ```
 */
export class UploadedIndex {
  /** Entry number + 1 per slot (0: free); a power of two, at most half full. */
  #slots = new Int32Array(INITIAL_ENTRIES * 2);
  #h1 = new Uint32Array(INITIAL_ENTRIES);
  #h2 = new Uint32Array(INITIAL_ENTRIES);
  #size = new Float64Array(INITIAL_ENTRIES);
  /** NaN for an unknown mtime. */
  #mtime = new Float64Array(INITIAL_ENTRIES);
  #offset = new Float64Array(INITIAL_ENTRIES);
  #length = new Uint32Array(INITIAL_ENTRIES);
  #count = 0;

  /** Paths indexed. */
  get count(): number {
    return this.#count;
  }

  /** Bytes the index's arrays take. */
  get bytes(): number {
    return this.#slots.byteLength + this.#h1.byteLength + this.#h2.byteLength +
      this.#size.byteLength + this.#mtime.byteLength + this.#offset.byteLength +
      this.#length.byteLength;
  }

  /** The entry of `path`'s hash, or -1. */
  #find(h1: number, h2: number): number {
    const mask = this.#slots.length - 1;
    for (let slot = (h1 ^ h2) & mask;; slot = (slot + 1) & mask) {
      const entry = this.#slots[slot] - 1;
      if (entry < 0) return -1;
      if (this.#h1[entry] === h1 && this.#h2[entry] === h2) return entry;
    }
  }

  /** Whether the last uploaded version of `path` has this size and (known) mtime. */
  has(path: string, size: number, mtime: number | null): boolean {
    if (mtime === null) return false;
    const [h1, h2] = pathHash(path);
    const entry = this.#find(h1, h2);
    return entry >= 0 && this.#size[entry] === size && this.#mtime[entry] === mtime;
  }

  /** The last uploaded version of `path` (by its hash: the caller checks the record's path). */
  get(path: string): IndexedVersion | undefined {
    const [h1, h2] = pathHash(path);
    const entry = this.#find(h1, h2);
    if (entry < 0) return undefined;
    const mtime = this.#mtime[entry];
    return {
      size: this.#size[entry],
      mtime: Number.isNaN(mtime) ? null : mtime,
      offset: this.#offset[entry],
      length: this.#length[entry],
    };
  }

  /** Records `version` as the last uploaded version of `path`. */
  set(path: string, version: IndexedVersion): void {
    const [h1, h2] = pathHash(path);
    let entry = this.#find(h1, h2);
    if (entry < 0) {
      if (this.#count === this.#h1.length) this.#grow();
      entry = this.#count++;
      this.#h1[entry] = h1;
      this.#h2[entry] = h2;
      this.#place(entry);
    }
    this.#size[entry] = version.size;
    this.#mtime[entry] = version.mtime ?? NaN;
    this.#offset[entry] = version.offset;
    this.#length[entry] = version.length;
  }

  #place(entry: number): void {
    const mask = this.#slots.length - 1;
    let slot = (this.#h1[entry] ^ this.#h2[entry]) & mask;
    while (this.#slots[slot] !== 0) slot = (slot + 1) & mask;
    this.#slots[slot] = entry + 1;
  }

  #grow(): void {
    const n = this.#h1.length * 2;
    const copy = <T extends Uint32Array | Float64Array>(from: T, to: T): T => {
      to.set(from);
      return to;
    };
    this.#h1 = copy(this.#h1, new Uint32Array(n));
    this.#h2 = copy(this.#h2, new Uint32Array(n));
    this.#size = copy(this.#size, new Float64Array(n));
    this.#mtime = copy(this.#mtime, new Float64Array(n));
    this.#offset = copy(this.#offset, new Float64Array(n));
    this.#length = copy(this.#length, new Uint32Array(n));
    this.#slots = new Int32Array(n * 2);
    for (let entry = 0; entry < this.#count; entry++) this.#place(entry);
  }
}
