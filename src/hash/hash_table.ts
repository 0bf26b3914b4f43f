/**
 * A hash table in typed arrays, for indexes that grow with every file a long run ever handled
 * (the upload log's uploaded versions, the registry's processed files): each entry is a fixed
 * number of 32-bit key words (hashes, never the strings they come from) and a fixed number of
 * numeric columns, with no JavaScript object or string per entry. Entries are numbered in the
 * order they were added and are never removed.
 *
 * @module
 */

const INITIAL_ENTRIES = 1024;

/**
 * A 64-bit hash of a string as two unsigned 32-bit halves (cyrb53's mixing, both halves kept).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stringHash } from "./hash_table.ts";
 *
 * assert.deepEqual(stringHash("a/b.dat"), stringHash("a/b.dat"));
 * assert.notDeepEqual(stringHash("a/b.dat"), stringHash("a/c.dat"));
 * ```
 *
 * @param text The string.
 * @returns The two halves.
 */
export function stringHash(text: string): [number, number] {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, h2 >>> 0];
}

/**
 * Open-addressing hash table from a key of `keyWords` unsigned 32-bit words to an entry of
 * `columns` numbers (float64; NaN is a value like any other). Lookups allocate nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HashTable } from "./hash_table.ts";
 *
 * const table = new HashTable(2, 1);
 * const entry = table.add([1, 2]);
 * table.set(entry, 0, 42);
 * assert.equal(table.find([1, 2]), entry);
 * assert.equal(table.get(entry, 0), 42);
 * assert.equal(table.find([2, 1]), -1);
 * assert.equal(table.count, 1);
 * ```
 */
export class HashTable {
  readonly #keyWords: number;
  readonly #columns: number;
  /** Entry number + 1 per slot (0: free); a power of two, at most half full. */
  #slots = new Int32Array(INITIAL_ENTRIES * 2);
  #keys: Uint32Array;
  #values: Float64Array;
  #count = 0;

  /**
   * @param keyWords Unsigned 32-bit words per key (at least 1).
   * @param columns Numbers per entry.
   */
  constructor(keyWords: number, columns: number) {
    this.#keyWords = keyWords;
    this.#columns = columns;
    this.#keys = new Uint32Array(INITIAL_ENTRIES * keyWords);
    this.#values = new Float64Array(INITIAL_ENTRIES * columns);
  }

  /** Entries in the table. */
  get count(): number {
    return this.#count;
  }

  /** Bytes the table's arrays take. */
  get bytes(): number {
    return this.#slots.byteLength + this.#keys.byteLength + this.#values.byteLength;
  }

  #start(key: ArrayLike<number>): number {
    let mixed = 0;
    for (let i = 0; i < this.#keyWords; i++) mixed ^= key[i];
    return mixed & (this.#slots.length - 1);
  }

  /** The entry of `key` (its first `keyWords` words, each an unsigned 32-bit number), or -1. */
  find(key: ArrayLike<number>): number {
    const mask = this.#slots.length - 1;
    const words = this.#keyWords;
    for (let slot = this.#start(key);; slot = (slot + 1) & mask) {
      const entry = this.#slots[slot] - 1;
      if (entry < 0) return -1;
      let same = true;
      for (let i = 0; i < words && same; i++) same = this.#keys[entry * words + i] === key[i] >>> 0;
      if (same) return entry;
    }
  }

  /** Adds `key` (not in the table: see {@linkcode find}) with its columns 0; returns its entry. */
  add(key: ArrayLike<number>): number {
    if (this.#count * this.#keyWords === this.#keys.length) this.#grow();
    const entry = this.#count++;
    for (let i = 0; i < this.#keyWords; i++) this.#keys[entry * this.#keyWords + i] = key[i];
    this.#place(entry);
    return entry;
  }

  /** Column `column` of `entry`. */
  get(entry: number, column: number): number {
    return this.#values[entry * this.#columns + column];
  }

  /** Sets column `column` of `entry`. */
  set(entry: number, column: number, value: number): void {
    this.#values[entry * this.#columns + column] = value;
  }

  #place(entry: number): void {
    const mask = this.#slots.length - 1;
    const key = this.#keys.subarray(entry * this.#keyWords, (entry + 1) * this.#keyWords);
    let slot = this.#start(key);
    while (this.#slots[slot] !== 0) slot = (slot + 1) & mask;
    this.#slots[slot] = entry + 1;
  }

  #grow(): void {
    const n = (this.#keys.length / this.#keyWords) * 2;
    const keys = new Uint32Array(n * this.#keyWords);
    keys.set(this.#keys);
    this.#keys = keys;
    const values = new Float64Array(n * this.#columns);
    values.set(this.#values);
    this.#values = values;
    this.#slots = new Int32Array(n * 2);
    for (let entry = 0; entry < this.#count; entry++) this.#place(entry);
  }
}
