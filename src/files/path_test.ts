/**
 * Safe output paths (`safeRelativePath`, `outputFilename`, `resolveInside`): every way out of the
 * output directory refused with the part and reason named, OpenMSIStream's file names, and
 * symbolic links never followed.
 */

import { join } from "node:path";
import { assert, assertEquals, assertRejects, assertThrows } from "../../tests/support/assert.ts";
import {
  outputFilename,
  type PathPart,
  resolveInside,
  safeRelativePath,
  splitStemSuffix,
  UnsafePathError,
  type UnsafePathReason,
} from "./path.ts";

/** Checks that `error` names `part` and `reason`, and returns it. */
function assertPartAndReason(
  error: UnsafePathError,
  part: PathPart,
  reason: UnsafePathReason,
): UnsafePathError {
  assertEquals(error.part, part, error.message);
  assertEquals(error.reason, reason, error.message);
  return error;
}

function assertUnsafe(
  fn: () => unknown,
  part: PathPart,
  reason: UnsafePathReason,
): UnsafePathError {
  return assertPartAndReason(assertThrows(fn, UnsafePathError), part, reason);
}

async function assertUnsafeAsync(
  promise: Promise<unknown>,
  part: PathPart,
  reason: UnsafePathReason,
): Promise<UnsafePathError> {
  return assertPartAndReason(await assertRejects(() => promise, UnsafePathError), part, reason);
}

Deno.test("safeRelativePath() joins and normalizes safe paths", () => {
  const cases: [string, string, string, string][] = [
    ["", "a.txt", "", "a.txt"],
    [".", "a.txt", "", "a.txt"],
    ["run1/raw", "a.txt", "", "run1/raw/a.txt"],
    ["a//./b/", "c", "", "a/b/c"],
    ["./a", "c", "", "a/c"],
    ["données/été", "数据 🚀.dat", "", "données/été/数据 🚀.dat"],
    ["", "12:30:00.dat", "", "12:30:00.dat"],
    ["", ".bashrc", "", ".bashrc"],
    ["", "...", "", "..."],
    ["a..b", "c..d", "", "a..b/c..d"],
    ["x", "scan.tif", "_v2", "x/scan_v2.tif"],
  ];
  for (const [subdir, filename, append, expected] of cases) {
    assertEquals(safeRelativePath(subdir, filename, append), expected);
  }
});

Deno.test("safeRelativePath() refuses every way out of the output directory", () => {
  const cases: [string, string, string, PathPart, UnsafePathReason][] = [
    ["..", "a", "", "subdir", "parent"],
    ["../..", "a", "", "subdir", "parent"],
    ["a/../../b", "a", "", "subdir", "parent"],
    ["a/..", "a", "", "subdir", "parent"],
    ["/etc", "passwd", "", "subdir", "absolute"],
    ["//server/share", "a", "", "subdir", "absolute"],
    ["C:", "a", "", "subdir", "drive"],
    ["C:/Windows", "a", "", "subdir", "drive"],
    ["a/d:x", "a", "", "subdir", "drive"],
    ["a\\..\\..", "a", "", "subdir", "backslash"],
    ["a\u0000b", "a", "", "subdir", "nul"],
    ["a\nb", "a", "", "subdir", "control"],
    ["a\u007fb", "a", "", "subdir", "control"],
    ["a\u009bb", "a", "", "subdir", "control"],
    ["", "", "", "filename", "empty"],
    ["", ".", "", "filename", "dot"],
    ["", "..", "", "filename", "dot"],
    ["", "a/b", "", "filename", "separator"],
    ["", "../x", "", "filename", "separator"],
    ["", "/etc/passwd", "", "filename", "separator"],
    ["", "C:x", "", "filename", "drive"],
    ["", "a\\b", "", "filename", "backslash"],
    ["", "a\u0000", "", "filename", "nul"],
    ["", "a\tb", "", "filename", "control"],
    ["", "a.txt", "/x", "filenameAppend", "separator"],
    ["", "a.txt", "\\x", "filenameAppend", "backslash"],
    ["", "a.txt", "\u0000", "filenameAppend", "nul"],
    ["", "a.txt", "\r", "filenameAppend", "control"],
  ];
  for (const [subdir, filename, append, part, reason] of cases) {
    assertUnsafe(() => safeRelativePath(subdir, filename, append), part, reason);
  }
});

Deno.test("UnsafePathError names the part and quotes the value in sentence case", () => {
  const error = assertUnsafe(() => safeRelativePath("a/../..", "x", ""), "subdir", "parent");
  assertEquals(error.message, 'Subdirectory "a/../.." contains a ".." component.');
  assertEquals(error.value, "a/../..");
  assertEquals(error.name, "UnsafePathError");
  const nul = assertUnsafe(() => safeRelativePath("", "a\u0000", ""), "filename", "nul");
  assertEquals(nul.message, 'File name "a\\u0000" contains a NUL character.');
});

Deno.test("outputFilename() follows OpenMSIStream: stem + append + suffix", () => {
  // Python: p.with_name(p.stem + append + p.suffix)
  const cases: [string, string, string][] = [
    ["scan.tif", "_v2", "scan_v2.tif"],
    ["archive.tar.gz", "_v2", "archive.tar_v2.gz"],
    ["noext", "_v2", "noext_v2"],
    [".bashrc", "_v2", ".bashrc_v2"],
    ["trailing.", "_v2", "trailing._v2"],
    ["..x", "_v2", "._v2.x"],
    ["scan.tif", "", "scan.tif"],
  ];
  for (const [name, append, expected] of cases) {
    assertEquals(outputFilename(name, append), expected, name);
  }
  assertEquals(splitStemSuffix("a.b.c"), { stem: "a.b", suffix: ".c" });
  assertEquals(splitStemSuffix("."), { stem: ".", suffix: "" });
});

Deno.test("resolveInside() returns a path under the root, existing or not", async () => {
  const root = await Deno.makeTempDir({ prefix: "ferry-path-" });
  try {
    assertEquals(await resolveInside(root, "a/b/c.txt"), join(root, "a", "b", "c.txt"));
    await Deno.mkdir(join(root, "a", "b"), { recursive: true });
    await Deno.writeTextFile(join(root, "a", "b", "c.txt"), "x");
    assertEquals(await resolveInside(root, "a/b/c.txt"), join(root, "a", "b", "c.txt"));
    assertEquals(await resolveInside(root, "a/a/a"), join(root, "a", "a", "a"));
    assertEquals(await resolveInside(root, "./a//b/"), join(root, "a", "b"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("resolveInside() refuses a symlink planted inside the root that points outside", async () => {
  const root = await Deno.makeTempDir({ prefix: "ferry-path-" });
  const outside = await Deno.makeTempDir({ prefix: "ferry-outside-" });
  try {
    await Deno.mkdir(join(root, "run1"));
    await Deno.symlink(outside, join(root, "run1", "escape"));
    const error = await assertUnsafeAsync(
      resolveInside(root, "run1/escape/evil.txt"),
      "path",
      "symlink",
    );
    assert(
      /^Path "run1\/escape\/evil\.txt" goes through the symbolic link/.test(error.message),
      error.message,
    );

    // A symlink as the file itself, even a dangling one.
    await Deno.symlink(join(outside, "target.txt"), join(root, "run1", "file.txt"));
    await assertUnsafeAsync(resolveInside(root, "run1/file.txt"), "path", "symlink");

    // A symlink pointing inside the root is refused too: symlinks are never followed.
    await Deno.symlink(join(root, "run1"), join(root, "inner"));
    await assertUnsafeAsync(resolveInside(root, "inner/x"), "path", "symlink");

    // Nothing was created outside.
    assertEquals([...Deno.readDirSync(outside)], []);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("resolveInside() allows the root itself to be a symlink", async () => {
  const real = await Deno.makeTempDir({ prefix: "ferry-path-" });
  const link = `${real}-link`;
  try {
    await Deno.symlink(real, link);
    assertEquals(await resolveInside(link, "a/b.txt"), join(link, "a", "b.txt"));
  } finally {
    await Deno.remove(link);
    await Deno.remove(real, { recursive: true });
  }
});

Deno.test("resolveInside() resolves a relative root and refuses unsafe relative paths", async () => {
  assertEquals(await resolveInside("out", "x/y"), join(Deno.cwd(), "out", "x", "y"));
  await assertUnsafeAsync(resolveInside("/tmp", "../etc/passwd"), "path", "parent");
  await assertUnsafeAsync(resolveInside("/tmp", "/etc/passwd"), "path", "absolute");
  await assertUnsafeAsync(resolveInside("/tmp", ""), "path", "empty");
  await assertUnsafeAsync(resolveInside("/tmp", "./"), "path", "empty");
  await assertUnsafeAsync(resolveInside("/tmp", "C:/x"), "path", "drive");
});
