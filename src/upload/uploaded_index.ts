/**
 * The upload log's in-memory index of uploaded file versions: per path, the size and mtime of
 * its last `done` (or `empty`) record and where that line is in the log file, in typed arrays
 * (a {@linkcode HashTable}: about 60 bytes a path, with no JavaScript object or string per
 * path), so that a watch that runs for months does not keep every uploaded file's record in
 * memory. The record itself is read back from the log when it is needed (a file whose size or
 * mtime moved).
 *
 * Paths are known by a 64-bit hash ({@linkcode pathHash}), never stored: whoever reads a record
 * back checks its path. "This path at this size and mtime was uploaded"
 * ({@linkcode UploadedIndex.has}) is answered from the hash alone; two paths sharing a hash
 * (about one chance in 10^13 with a million paths) and then also the same size and mtime (to the
 * millisecond) are needed for a wrong answer.
 *
 * @module
 */

import { HashTable, stringHash } from "../hash/hash_table.ts";

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
 * A 64-bit hash of a path as two unsigned 32-bit halves ({@linkcode stringHash}).
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
  return stringHash(path);
}

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
  /** Per path hash: size, mtime (NaN when unknown), offset, length. */
  readonly #table = new HashTable(2, 4);

  /** Paths indexed. */
  get count(): number {
    return this.#table.count;
  }

  /** Bytes the index's arrays take. */
  get bytes(): number {
    return this.#table.bytes;
  }

  /** Whether the last uploaded version of `path` has this size and (known) mtime. */
  has(path: string, size: number, mtime: number | null): boolean {
    if (mtime === null) return false;
    const entry = this.#table.find(pathHash(path));
    return entry >= 0 && this.#table.get(entry, 0) === size && this.#table.get(entry, 1) === mtime;
  }

  /** The last uploaded version of `path` (by its hash: the caller checks the record's path). */
  get(path: string): IndexedVersion | undefined {
    const entry = this.#table.find(pathHash(path));
    if (entry < 0) return undefined;
    const mtime = this.#table.get(entry, 1);
    return {
      size: this.#table.get(entry, 0),
      mtime: Number.isNaN(mtime) ? null : mtime,
      offset: this.#table.get(entry, 2),
      length: this.#table.get(entry, 3),
    };
  }

  /** Records `version` as the last uploaded version of `path`. */
  set(path: string, version: IndexedVersion): void {
    const key = pathHash(path);
    let entry = this.#table.find(key);
    if (entry < 0) entry = this.#table.add(key);
    this.#table.set(entry, 0, version.size);
    this.#table.set(entry, 1, version.mtime ?? NaN);
    this.#table.set(entry, 2, version.offset);
    this.#table.set(entry, 3, version.length);
  }
}
