/**
 * Path safety for files rebuilt from chunk messages: a chunk names its file with a subdirectory,
 * a file name and a "filename append", all chosen by whoever produced the message. Nothing in the
 * message may make Ferry read or write outside its output directory.
 *
 * @module
 */

import { isAbsolute, join, resolve } from "node:path";

/**
 * Which part of a path {@linkcode UnsafePathError} refers to.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type PathPart, safeRelativePath, UnsafePathError } from "./path.ts";
 *
 * let part: PathPart | undefined;
 * try {
 *   safeRelativePath("", "a.txt", "/x");
 * } catch (error) {
 *   if (error instanceof UnsafePathError) part = error.part;
 * }
 * assert.equal(part, "filenameAppend");
 * ```
 */
export type PathPart = "subdir" | "filename" | "filenameAppend" | "path";

/**
 * Why a path was refused by {@linkcode safeRelativePath} or {@linkcode resolveInside}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { safeRelativePath, UnsafePathError, type UnsafePathReason } from "./path.ts";
 *
 * let reason: UnsafePathReason | undefined;
 * try {
 *   safeRelativePath("C:/Windows", "a.txt", "");
 * } catch (error) {
 *   if (error instanceof UnsafePathError) reason = error.reason;
 * }
 * assert.equal(reason, "drive");
 * ```
 */
export type UnsafePathReason =
  | "empty"
  | "absolute"
  | "parent"
  | "dot"
  | "drive"
  | "backslash"
  | "separator"
  | "nul"
  | "control"
  | "symlink";

/**
 * A path from a chunk message (or a path built from one) that could escape the output directory
 * or that cannot name a file portably.
 *
 * @example Catching an unsafe subdirectory
 * ```ts
 * import assert from "node:assert/strict";
 * import { safeRelativePath, UnsafePathError } from "./path.ts";
 *
 * try {
 *   safeRelativePath("../../etc", "passwd", "");
 *   assert.fail("expected an error");
 * } catch (error) {
 *   assert.ok(error instanceof UnsafePathError);
 *   assert.equal(error.part, "subdir");
 *   assert.equal(error.reason, "parent");
 * }
 * ```
 */
export class UnsafePathError extends Error {
  /** The part of the path that is unsafe. */
  readonly part: PathPart;
  /** A short machine-readable code for the problem. */
  readonly reason: UnsafePathReason;
  /** The offending value, exactly as given. */
  readonly value: string;

  /**
   * Creates an error for `value`, the unsafe `part` of a path.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { UnsafePathError } from "./path.ts";
   *
   * const error = new UnsafePathError("subdir", "parent", "..", 'Subdirectory ".." is unsafe.');
   * assert.equal(error.value, "..");
   * ```
   *
   * @param part Which part of the path is unsafe.
   * @param reason Why it is unsafe.
   * @param value The offending value.
   * @param message The human-readable message.
   */
  constructor(part: PathPart, reason: UnsafePathReason, value: string, message: string) {
    super(message);
    this.name = "UnsafePathError";
    this.part = part;
    this.reason = reason;
    this.value = value;
  }
}

const PART_LABEL: Record<PathPart, string> = {
  subdir: "Subdirectory",
  filename: "File name",
  filenameAppend: "Filename append",
  path: "Path",
};

// C0 controls, DEL and C1 controls. NUL is reported separately.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0001-\u001f\u007f-\u009f]/;
const DRIVE = /^[A-Za-z]:/;

function fail(part: PathPart, reason: UnsafePathReason, value: string, why: string): never {
  throw new UnsafePathError(
    part,
    reason,
    value,
    `${PART_LABEL[part]} ${JSON.stringify(value)} ${why}.`,
  );
}

/** Checks what every part must satisfy: no NUL, no control characters, no backslashes. */
function checkCharacters(part: PathPart, value: string): void {
  if (value.includes("\u0000")) fail(part, "nul", value, "contains a NUL character");
  if (CONTROL.test(value)) fail(part, "control", value, "contains a control character");
  if (value.includes("\\")) fail(part, "backslash", value, "contains a backslash");
}

/** Checks one path component (never empty, never "." or "..": callers handle those). */
function checkComponent(part: PathPart, value: string, component: string): void {
  if (DRIVE.test(component)) {
    fail(part, "drive", value, `has a Windows drive prefix ${JSON.stringify(component)}`);
  }
}

/**
 * Splits `subdir` into normalized components: empty and "." components are dropped (as Python's
 * `pathlib` does), everything dangerous is refused.
 */
function subdirComponents(subdir: string, part: PathPart): string[] {
  checkCharacters(part, subdir);
  if (subdir.startsWith("/")) fail(part, "absolute", subdir, "is an absolute path");
  const components: string[] = [];
  for (const component of subdir.split("/")) {
    if (component === "" || component === ".") continue;
    if (component === "..") fail(part, "parent", subdir, 'contains a ".." component');
    checkComponent(part, subdir, component);
    components.push(component);
  }
  return components;
}

function checkFilename(filename: string): void {
  checkCharacters("filename", filename);
  if (filename === "") fail("filename", "empty", filename, "is empty");
  if (filename === "." || filename === "..") {
    fail("filename", "dot", filename, "is not a file name");
  }
  if (filename.includes("/")) fail("filename", "separator", filename, 'contains a "/"');
  checkComponent("filename", filename, filename);
}

function checkFilenameAppend(append: string): void {
  checkCharacters("filenameAppend", append);
  if (append.includes("/")) fail("filenameAppend", "separator", append, 'contains a "/"');
}

/**
 * Splits a file name into stem and suffix exactly as Python's `pathlib.PurePath` (3.9 to 3.13)
 * does: the suffix starts at the last "." unless that dot is the first or the last character.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitStemSuffix } from "./path.ts";
 *
 * assert.deepEqual(splitStemSuffix("scan.tar.gz"), { stem: "scan.tar", suffix: ".gz" });
 * assert.deepEqual(splitStemSuffix(".bashrc"), { stem: ".bashrc", suffix: "" });
 * assert.deepEqual(splitStemSuffix("README"), { stem: "README", suffix: "" });
 * ```
 *
 * @param filename A bare file name.
 * @returns The stem and the suffix (with its dot, or "").
 */
export function splitStemSuffix(filename: string): { stem: string; suffix: string } {
  const i = filename.lastIndexOf(".");
  if (i > 0 && i < filename.length - 1) {
    return { stem: filename.slice(0, i), suffix: filename.slice(i) };
  }
  return { stem: filename, suffix: "" };
}

/**
 * Applies OpenMSIStream's output-name rule: with an empty `filenameAppend` the name is unchanged,
 * otherwise it is stem + append + suffix (see {@linkcode splitStemSuffix}), as in its
 * `DownloadDataFile.get_full_filepath`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { outputFilename } from "./path.ts";
 *
 * assert.equal(outputFilename("scan.tif", "_v2"), "scan_v2.tif");
 * assert.equal(outputFilename("scan.tif", ""), "scan.tif");
 * assert.equal(outputFilename("notes", "_v2"), "notes_v2");
 * ```
 *
 * @param filename A bare file name.
 * @param filenameAppend The string to insert before the suffix, usually "".
 * @returns The file name to write.
 */
export function outputFilename(filename: string, filenameAppend: string): string {
  if (filenameAppend === "") return filename;
  const { stem, suffix } = splitStemSuffix(filename);
  return stem + filenameAppend + suffix;
}

/**
 * Builds the normalized POSIX relative path of a file from a chunk's subdirectory, file name and
 * filename append, or throws {@linkcode UnsafePathError}.
 *
 * Refused: `..` components, absolute subdirectories (leading "/"), Windows drive prefixes
 * (`C:`) in any component, backslashes, NUL and other control characters, an empty file name,
 * "." or ".." as file name, and "/" inside the file name or the append. Empty and "."
 * components of the subdirectory are dropped, so `"a//./b"` becomes `"a/b"`; `""` and `"."`
 * mean the root.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { safeRelativePath } from "./path.ts";
 *
 * assert.equal(safeRelativePath("run1/raw", "scan.tif", ""), "run1/raw/scan.tif");
 * assert.equal(safeRelativePath("", "scan.tif", "_2"), "scan_2.tif");
 * assert.throws(() => safeRelativePath("/etc", "passwd", ""));
 * ```
 *
 * @param subdir The POSIX subdirectory relative to the output root, "" for the root.
 * @param filename The bare file name.
 * @param filenameAppend Inserted before the file's suffix when not "".
 * @returns A relative POSIX path with no empty, "." or ".." components.
 */
export function safeRelativePath(subdir: string, filename: string, filenameAppend: string): string {
  const components = subdirComponents(subdir, "subdir");
  checkFilename(filename);
  checkFilenameAppend(filenameAppend);
  const name = outputFilename(filename, filenameAppend);
  // The rules above make these impossible; keep the final name honest anyway.
  if (name === "." || name === ".." || name.includes("/")) {
    fail("filenameAppend", "dot", filenameAppend, `makes the file name ${JSON.stringify(name)}`);
  }
  components.push(name);
  return components.join("/");
}

/**
 * Returns the absolute path of `relativePath` under `root`, after checking with `Deno.lstat`
 * that no existing component below `root` is a symbolic link (`root` itself may be one).
 * Components that do not exist yet are fine: the writer creates them as real directories.
 *
 * The check runs before the caller writes, so a process that can plant a symlink in the output
 * directory between the check and the write can still win the race; the output directory must
 * not be writable by untrusted users. Needs `--allow-read` for the checked paths.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveInside } from "./path.ts";
 *
 * const root = await Deno.makeTempDir();
 * const full = await resolveInside(root, "run1/scan.tif");
 * assert.ok(full.startsWith(root));
 * await Deno.remove(root, { recursive: true });
 * ```
 *
 * @param root The output directory (relative paths are resolved against the working directory).
 * @param relativePath A relative POSIX path, normally from {@linkcode safeRelativePath}.
 * @returns The absolute path inside `root`.
 */
export async function resolveInside(root: string, relativePath: string): Promise<string> {
  const components = subdirComponents(relativePath, "path");
  if (components.length === 0) fail("path", "empty", relativePath, "names no file");
  if (isAbsolute(relativePath)) fail("path", "absolute", relativePath, "is an absolute path");
  let current = resolve(root);
  for (let i = 0; i < components.length; i++) {
    current = join(current, components[i]);
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(current);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        // Nothing below a missing component can exist: the rest is created by the writer.
        return join(current, ...components.slice(i + 1));
      }
      throw error;
    }
    if (info.isSymlink) {
      fail(
        "path",
        "symlink",
        relativePath,
        `goes through the symbolic link ${JSON.stringify(current)}`,
      );
    }
  }
  return current;
}
