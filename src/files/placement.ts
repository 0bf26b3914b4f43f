/**
 * Moving a complete file's partial file into place in the output directory (disk and both
 * modes): only inside the output directory, never through a symbolic link, its folders made
 * and checked again after they are made. The folders made are remembered, so that later files
 * into the same folder skip making and checking it. Moved out of `reassembly.ts`
 * (`FileAssembler.finalize`).
 *
 * @module
 */

import type { FileAssembly } from "./file_assembly.ts";
import { resolveInside } from "./path.ts";

/** The most folders a {@linkcode Placement} remembers having made (then it forgets them all). */
const MAX_MADE_DIRS = 10_000;

/** Moves complete files into place in one output directory. */
export class Placement {
  readonly #outputDir: string;
  /** Folders of the output directory made (and checked) by {@linkcode Placement.place}. */
  readonly #madeDirs = new Set<string>();

  /** Places files into `outputDir`. */
  constructor(outputDir: string) {
    this.#outputDir = outputDir;
  }

  /**
   * Moves a complete file's partial file, cut to `size` bytes, into place in the output
   * directory and returns its full path. Refuses paths that would leave the output directory.
   */
  async place(assembly: FileAssembly, size: number): Promise<string> {
    const target = await resolveInside(this.#outputDir, assembly.outputRelativePath);
    const parent = target.slice(0, target.lastIndexOf("/"));
    // The path was just checked whole (no symlink on the way); a folder this run made before
    // need not be made and checked again (saves three file system calls per file).
    const made = this.#madeDirs.has(parent);
    if (!made) await this.#makeParent(parent, assembly.outputRelativePath);
    await Deno.truncate(assembly.partialPath, size);
    try {
      await Deno.rename(assembly.partialPath, target);
    } catch (error) {
      if (!made || !(error instanceof Deno.errors.NotFound)) throw error;
      // The folder was removed meanwhile: make it again.
      this.#madeDirs.delete(parent);
      await this.#makeParent(parent, assembly.outputRelativePath);
      await Deno.rename(assembly.partialPath, target);
    }
    return target;
  }

  async #makeParent(parent: string, relativePath: string): Promise<void> {
    await Deno.mkdir(parent, { recursive: true });
    // Directories made just now could have been raced by a symlink: check again.
    await resolveInside(this.#outputDir, relativePath);
    if (this.#madeDirs.size >= MAX_MADE_DIRS) this.#madeDirs.clear();
    this.#madeDirs.add(parent);
  }
}
