/**
 * The copies of failed files under `.ferry/failed/` (see `layout.ts`): a failed file's bytes
 * kept there (memory mode, or an older generation in disk mode) until it is processed or its
 * failure retired, and then deleted with its folder, so that no empty folder stays behind.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { FAILED_DIR } from "./layout.ts";

/**
 * Deletes a kept copy (`kept`, relative to the output directory) when it lies under
 * `.ferry/failed/`, and its folder once empty; anything else (a file kept in place in disk
 * mode) is left alone. A copy already gone is fine.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { removeKeptCopy } from "./failed_copies.ts";
 *
 * const out = await Deno.makeTempDir();
 * await Deno.mkdir(`${out}/.ferry/failed/ab`, { recursive: true });
 * await Deno.writeTextFile(`${out}/.ferry/failed/ab/x.csv`, "1");
 * await removeKeptCopy(out, ".ferry/failed/ab/x.csv");
 * assert.deepEqual([...Deno.readDirSync(`${out}/.ferry/failed`)], []);
 * ```
 *
 * @param outputDir The output directory.
 * @param kept Where the copy is, relative to it.
 */
export async function removeKeptCopy(outputDir: string, kept: string): Promise<void> {
  if (!kept.startsWith(`${FAILED_DIR}/`) || kept.split("/").includes("..")) return;
  await Deno.remove(join(outputDir, kept)).catch(ignoreNotFound);
  await removeIfEmpty(join(outputDir, dirname(kept)));
}

/**
 * Deletes the empty folders directly under `.ferry/failed/` (left by a crash between deleting
 * a copy and its folder, or by earlier versions), and `.ferry/failed/` itself when empty.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sweepEmptyFailedFolders } from "./failed_copies.ts";
 *
 * const out = await Deno.makeTempDir();
 * await Deno.mkdir(`${out}/.ferry/failed/ab`, { recursive: true });
 * await sweepEmptyFailedFolders(out);
 * assert.deepEqual([...Deno.readDirSync(`${out}/.ferry`)], []);
 * ```
 *
 * @param outputDir The output directory.
 */
export async function sweepEmptyFailedFolders(outputDir: string): Promise<void> {
  const root = join(outputDir, FAILED_DIR);
  try {
    for await (const entry of Deno.readDir(root)) {
      if (entry.isDirectory) await removeIfEmpty(join(root, entry.name));
    }
  } catch (error) {
    ignoreNotFound(error);
    return;
  }
  await removeIfEmpty(root);
}

/** Removes a folder if it is empty (a folder that is not, or is gone, is left as it is). */
async function removeIfEmpty(dir: string): Promise<void> {
  try {
    await Deno.remove(dir);
  } catch (error) {
    // Not empty (ENOTEMPTY has no class of its own in Deno), or gone: nothing to do.
    if (error instanceof Deno.errors.NotFound) return;
    if (error instanceof Error && /not empty|ENOTEMPTY|os error 39/i.test(error.message)) return;
    throw error;
  }
}

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}
