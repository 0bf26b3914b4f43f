/**
 * Which files of a directory tree are uploaded: never hidden files or folders (any path
 * component starting with "."), never Ferry's own log folder; then optional include and exclude
 * glob patterns and an OpenMSIStream-style regular expression.
 *
 * @module
 */

/** The patterns that select files; every field optional. */
export interface FileFilterOptions {
  /** Glob patterns; when given, a file must match at least one. */
  include?: readonly string[];
  /** Glob patterns; a file matching any is left out. */
  exclude?: readonly string[];
  /** A regular expression the relative path must match (OpenMSIStream's `--upload_regex`). */
  regex?: RegExp;
  /** Relative paths of folders to leave out entirely (such as a log folder inside the root). */
  excludeDirs?: readonly string[];
}

/**
 * Turns a glob pattern into a regular expression over relative POSIX paths: `**` matches any
 * number of path components, `*` anything but "/", `?` one character but "/", `[abc]` and
 * `[!abc]` character classes. A pattern without "/" is matched against the file name alone
 * (`*.tif` matches `run1/scan.tif`), as in `.gitignore`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { globToRegExp } from "./filter.ts";
 *
 * assert.ok(globToRegExp("*.tif").test("run1/scan.tif"));
 * assert.ok(globToRegExp("run1/**").test("run1/a/b.dat"));
 * assert.ok(!globToRegExp("run1/*.dat").test("run1/a/b.dat"));
 * ```
 *
 * @param pattern The glob.
 * @returns An anchored regular expression.
 */
export function globToRegExp(pattern: string): RegExp {
  const basenameOnly = !pattern.includes("/");
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        i++;
        if (pattern[i + 1] === "/") {
          i++;
          out += "(?:.*/)?";
        } else out += ".*";
      } else out += "[^/]*";
    } else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end === -1) out += "\\[";
      else {
        let body = pattern.slice(i + 1, end);
        if (body.startsWith("!")) body = "^" + body.slice(1);
        out += `[${body.replaceAll("\\", "\\\\")}]`;
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(basenameOnly ? `(?:^|/)${out}$` : `^${out}$`, "s");
}

/**
 * Decides which relative paths are uploaded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileFilter } from "./filter.ts";
 *
 * const filter = new FileFilter({ include: ["*.dat"], exclude: ["tmp/**"] });
 * assert.ok(filter.accepts("run1/a.dat"));
 * assert.ok(!filter.accepts("tmp/a.dat"));
 * assert.ok(!filter.accepts("run1/.partial.dat"));
 * assert.ok(!filter.accepts("run1/a.txt"));
 * ```
 */
export class FileFilter {
  readonly #include: RegExp[];
  readonly #exclude: RegExp[];
  readonly #regex: RegExp | undefined;
  readonly #excludeDirs: string[];

  /** Creates a filter from the options. */
  constructor(options: FileFilterOptions = {}) {
    this.#include = (options.include ?? []).map(globToRegExp);
    this.#exclude = (options.exclude ?? []).map(globToRegExp);
    this.#regex = options.regex;
    this.#excludeDirs = [...(options.excludeDirs ?? [])];
  }

  /** Whether a folder (relative POSIX path) is walked into. */
  acceptsDir(relativeDir: string): boolean {
    if (isHidden(relativeDir)) return false;
    return !this.#excludeDirs.some((dir) =>
      relativeDir === dir || relativeDir.startsWith(dir + "/")
    );
  }

  /** Whether a file (relative POSIX path) is uploaded. */
  accepts(relativePath: string): boolean {
    if (isHidden(relativePath)) return false;
    const dir = relativePath.includes("/")
      ? relativePath.slice(0, relativePath.lastIndexOf("/"))
      : "";
    if (dir !== "" && !this.acceptsDir(dir)) return false;
    if (this.#include.length > 0 && !this.#include.some((r) => r.test(relativePath))) return false;
    if (this.#exclude.some((r) => r.test(relativePath))) return false;
    if (this.#regex && !this.#regex.test(relativePath)) return false;
    return true;
  }
}

/** Whether any component of a relative path starts with ".". */
function isHidden(relativePath: string): boolean {
  return relativePath.split("/").some((part) => part.startsWith("."));
}
