/**
 * Data sets of files for the file benchmarks: random, incompressible files, and the mixed set
 * of two large files (40 % of the bytes each) and files of 100 KiB.
 *
 * @module
 */

import { join } from "node:path";

/** Size of each small file of {@linkcode makeDataSet}. */
/** Partitions of the topics the upload and processor sections write. */
export const FILE_TOPIC_PARTITIONS = 4;
/** Default size of the mixed data set of the upload and processor sections, MiB. */
export const DEFAULT_DATA_SET_MIB = 1024;
/** Default size of their single big file (the memory check), MiB. */
export const DEFAULT_BIG_FILE_MIB = 2048;

export const SMALL_FILE_BYTES = 100 * 1024;

/**
 * Writes `size` random bytes to `path`, 4 MiB at a time; `salt` (and a block counter) makes
 * every block of every file different.
 */
export async function writeRandomFile(path: string, size: number, salt: number): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(4 * 1024 * 1024);
  for (let i = 0; i < block.length; i += 65_536) {
    crypto.getRandomValues(block.subarray(i, i + 65_536));
  }
  let written = 0;
  let n = 0;
  while (written < size) {
    const length = Math.min(block.length, size - written);
    block[0] = salt & 0xff;
    block[1] = n++ & 0xff;
    block[2] = (salt >> 8) & 0xff;
    let done = 0;
    while (done < length) done += await file.write(block.subarray(done, length));
    written += length;
  }
}

/**
 * Writes the mixed data set of about `total` bytes into `dir`: `large/a.bin` and `large/b.bin`
 * (40 % each) and `small/fNNNNN.dat` files of {@linkcode SMALL_FILE_BYTES} (at least one).
 * Returns the files' relative paths and sizes.
 */
export async function makeDataSet(dir: string, total: number): Promise<Map<string, number>> {
  const files = new Map<string, number>();
  const large = Math.floor(total * 0.4);
  await Deno.mkdir(join(dir, "large"), { recursive: true });
  await Deno.mkdir(join(dir, "small"), { recursive: true });
  for (const name of ["large/a.bin", "large/b.bin"]) {
    await writeRandomFile(join(dir, name), large, files.size);
    files.set(name, large);
  }
  const count = Math.max(1, Math.floor((total - 2 * large) / SMALL_FILE_BYTES));
  for (let i = 0; i < count; i++) {
    const name = `small/f${String(i).padStart(5, "0")}.dat`;
    await writeRandomFile(join(dir, name), SMALL_FILE_BYTES, files.size);
    files.set(name, SMALL_FILE_BYTES);
  }
  return files;
}
