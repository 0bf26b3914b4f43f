/**
 * The watch's rescans of the tree: the safety rescan that finds files the change events missed,
 * and the polls of the polling fallback.
 *
 * A folder's mtime moves when an entry is added to it, removed or renamed, not when a file in
 * it is written to. So the safety rescan remembers, per folder, its mtime and its subfolders
 * (memory: one small entry per folder, none per file) and lists again only the folders whose
 * mtime moved, `stat`ing their files; an unchanged folder costs one `stat`. A file written to in
 * place is the events' business (a poll `stat`s every file). A folder whose mtime is very
 * recent is listed again next time: an entry added within the same clock tick as the listing
 * would not move it.
 *
 * @module
 */

import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import type { FileFilter } from "./filter.ts";

/** A file a rescan found, with what `stat` said. */
export interface FoundFile {
  /** POSIX path relative to the root. */
  path: string;
  /** Size in bytes. */
  size: number;
  /** Modification time, milliseconds since the epoch (0 when the system has none). */
  mtime: number;
  /** The later of its modification and status change times (a rename moves the latter). */
  changed: number;
}

/** A folder as the last rescan saw it. */
interface FolderState {
  /** Its mtime then, or -1 to list it again next time. */
  mtime: number;
  /** Its subfolders' names (those the filter accepts). */
  subdirs: string[];
}

const logger = getLogger(["ferry", "upload", "watch"]);

/** Folders whose mtime is at most this old are listed again by the next rescan. */
const RECENT_MS = 2000;

/** The folder index behind the rescans of one watched root. */
export class FolderIndex {
  readonly #root: string;
  readonly #filter: FileFilter;
  readonly #folders = new Map<string, FolderState>();

  /**
   * Creates an empty index (the first rescan lists everything).
   *
   * @param root The watched folder (absolute).
   * @param filter Which files and folders count.
   */
  constructor(root: string, filter: FileFilter) {
    this.#root = root;
    this.#filter = filter;
  }

  /** Whether a folder (relative POSIX path) was seen by a walk. */
  knows(dir: string): boolean {
    return this.#folders.has(dir);
  }

  /** Folders remembered. */
  get folders(): number {
    return this.#folders.size;
  }

  /**
   * Walks the tree. Folders whose mtime did not move since the last walk are not listed (unless
   * `all`) and their files not reported; in the others every accepted file is `stat`ed and
   * handed to `onFile` (with whether its folder is one the index did not know: a folder that
   * appeared since), unless `statFiles` is false (then the walk only records the folders).
   *
   * @param onFile Called for each file found in a listed folder.
   * @param options `all`: list every folder; `statFiles`: report files (default true).
   * @returns How many folders were listed.
   */
  async rescan(
    onFile: (file: FoundFile, newFolder: boolean) => void,
    options: { all?: boolean; statFiles?: boolean } = {},
  ): Promise<number> {
    const seen = new Set<string>();
    const listed = await this.#walk(
      "",
      onFile,
      options.all ?? false,
      options.statFiles ?? true,
      seen,
    );
    for (const dir of this.#folders.keys()) if (!seen.has(dir)) this.#folders.delete(dir);
    return listed;
  }

  /**
   * Lists one folder and everything under it (a folder that just appeared), reporting every
   * accepted file to `onFile` and remembering the folders.
   */
  async scanFolder(
    dir: string,
    onFile: (file: FoundFile, newFolder: boolean) => void,
  ): Promise<void> {
    if (dir !== "" && !this.#filter.acceptsDir(dir)) return;
    await this.#walk(dir, onFile, true, true, new Set());
  }

  async #walk(
    dir: string,
    onFile: (file: FoundFile, newFolder: boolean) => void,
    all: boolean,
    statFiles: boolean,
    seen: Set<string>,
  ): Promise<number> {
    seen.add(dir);
    const full = dir === "" ? this.#root : join(this.#root, ...dir.split("/"));
    let mtime: number;
    try {
      mtime = (await Deno.stat(full)).mtime?.getTime() ?? -1;
    } catch (error) {
      if (dir === "") throw error;
      this.#folders.delete(dir);
      return 0;
    }
    const known = this.#folders.get(dir);
    let listed = 0;
    let subdirs: string[];
    if (!all && known && known.mtime === mtime && mtime !== -1) {
      subdirs = known.subdirs;
    } else {
      listed = 1;
      subdirs = [];
      let entries: Deno.DirEntry[];
      try {
        entries = await Array.fromAsync(Deno.readDir(full));
      } catch (error) {
        if (dir === "") throw error;
        logger.warn("Cannot list folder {dir}: {error}", { dir, error: String(error) });
        this.#folders.delete(dir);
        return 0;
      }
      for (const entry of entries) {
        const rel = dir === "" ? entry.name : `${dir}/${entry.name}`;
        if (entry.isDirectory) {
          if (this.#filter.acceptsDir(rel)) subdirs.push(entry.name);
          continue;
        }
        if (!statFiles || !this.#filter.accepts(rel)) continue;
        const file = await statFound(join(full, entry.name), rel);
        if (file) onFile(file, known === undefined);
      }
      const recent = Date.now() - mtime < RECENT_MS;
      this.#folders.set(dir, { mtime: recent ? -1 : mtime, subdirs });
    }
    for (const name of subdirs) {
      const rel = dir === "" ? name : `${dir}/${name}`;
      listed += await this.#walk(rel, onFile, all, statFiles, seen);
    }
    return listed;
  }
}

/**
 * `stat`s one file for a rescan or an event: undefined when it is gone or not a regular file
 * (a symbolic link to a folder is not followed).
 *
 * @param full Its absolute path.
 * @param path Its relative POSIX path.
 * @returns What `stat` said, or undefined.
 */
export async function statFound(full: string, path: string): Promise<FoundFile | undefined> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(full);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      logger.debug("Cannot stat {path}: {error}", { path, error: String(error) });
      // Listed but not readable: reported, so its upload fails loudly instead of silently.
      return { path, size: -1, mtime: 0, changed: Date.now() };
    }
    return undefined;
  }
  if (!info.isFile) return undefined;
  const mtime = info.mtime?.getTime() ?? 0;
  return { path, size: info.size, mtime, changed: Math.max(mtime, info.ctime?.getTime() ?? 0) };
}
