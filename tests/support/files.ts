/**
 * Temporary folders and file trees for the tests: a folder that is removed afterwards, writing a
 * tree of files, and listing one.
 *
 * @module
 */

import { dirname, join } from "node:path";

/** Makes a temporary directory, runs `fn` with it, and removes it again. */
export async function withTempDir<T>(
  fn: (dir: string) => Promise<T>,
  prefix = "ferry-test-",
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes files (relative POSIX path to bytes or text) under `root`, creating folders. */
export async function writeTree(
  root: string,
  files: Record<string, Uint8Array | string>,
): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, ...path.split("/"));
    await Deno.mkdir(dirname(full), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(full, content);
    else await Deno.writeFile(full, content);
  }
}

/**
 * Every entry below `dir`, recursively, as paths relative to it (folders too; symbolic links
 * listed, not followed); none when `dir` does not exist.
 */
export async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      found.push(prefix + entry.name);
      if (entry.isDirectory) {
        found.push(...await listTree(`${dir}/${entry.name}`, `${prefix}${entry.name}/`));
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found;
}
