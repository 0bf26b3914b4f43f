/**
 * Listing the files of a directory tree to upload.
 *
 * @module
 */

import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import type { FileFilter } from "./filter.ts";

/** A file found under the root, with what `stat` said. */
export interface ScannedFile {
  /** POSIX path relative to the root. */
  path: string;
  /** Size in bytes; -1 when the file is listed but cannot be read (`stat` failed). */
  size: number;
  /** Modification time in milliseconds since the epoch, or null when the system has none. */
  mtime: number | null;
}

const logger = getLogger(["ferry", "upload", "scan"]);

/**
 * Lists the files under `root` that `filter` accepts, in sorted order. Symbolic links to files
 * are followed; symbolic links to folders are not (they could loop), and are logged.
 *
 * @example
 * ```ts ignore
 * import { FileFilter } from "./filter.ts";
 * import { scanTree } from "./scan.ts";
 * for (const file of await scanTree("/data", new FileFilter())) console.log(file.path);
 * ```
 *
 * @param root The folder to list.
 * @param filter Which files and folders to keep.
 * @returns The files found.
 */
export async function scanTree(root: string, filter: FileFilter): Promise<ScannedFile[]> {
  const out: ScannedFile[] = [];
  await walk(root, "", filter, out);
  out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return out;
}

async function walk(root: string, dir: string, filter: FileFilter, out: ScannedFile[]) {
  const full = dir === "" ? root : join(root, ...dir.split("/"));
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(full));
  } catch (error) {
    if (dir === "") throw error;
    logger.warn("Cannot list folder {dir}: {error}", { dir, error: String(error) });
    return;
  }
  for (const entry of entries) {
    const rel = dir === "" ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory) {
      if (filter.acceptsDir(rel)) await walk(root, rel, filter, out);
      continue;
    }
    if (!filter.accepts(rel)) continue;
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(join(full, entry.name));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        // Gone between the listing and the stat, or a dangling link.
        logger.debug("Skipping {path}: {error}", { path: rel, error: String(error) });
        continue;
      }
      // Listed but not readable: kept, so the upload reports it as failed instead of
      // silently leaving it out.
      out.push({ path: rel, size: -1, mtime: null });
      continue;
    }
    if (info.isDirectory) {
      logger.info("Not following the symbolic link to a folder {path}.", { path: rel });
      continue;
    }
    if (!info.isFile) continue;
    out.push({ path: rel, size: info.size, mtime: info.mtime?.getTime() ?? null });
  }
}
