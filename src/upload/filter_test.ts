/** Which paths an upload takes (`globToRegExp`, `FileFilter`). */

import { assert } from "../../tests/support/assert.ts";
import { FileFilter, globToRegExp } from "./filter.ts";

Deno.test("globs: * stays in a component, ** crosses, no slash means the file name", () => {
  assert(globToRegExp("*.tif").test("a/b/c.tif"));
  assert(!globToRegExp("*.tif").test("a/b/c.tiff"));
  assert(globToRegExp("run?/*.dat").test("run1/x.dat"));
  assert(!globToRegExp("run?/*.dat").test("run1/sub/x.dat"));
  assert(globToRegExp("run1/**/*.dat").test("run1/x.dat"));
  assert(globToRegExp("run1/**/*.dat").test("run1/a/b/x.dat"));
  assert(globToRegExp("[!x]*.bin").test("a.bin"));
  assert(!globToRegExp("[!x]*.bin").test("x.bin"));
  assert(globToRegExp("100%;(1).dat").test("d/100%;(1).dat"), "regex characters are literal");
});

Deno.test("filter: hidden files and folders and the log folder never pass", () => {
  const filter = new FileFilter({ excludeDirs: ["logs/ferry"], regex: /\.dat$/ });
  assert(filter.accepts("a.dat"));
  assert(!filter.accepts(".a.dat"));
  assert(!filter.accepts("x/.hidden/a.dat"));
  assert(!filter.accepts(".ferry/upload_to_t.jsonl"));
  assert(!filter.accepts("logs/ferry/a.dat"));
  assert(filter.accepts("logs/ferry2/a.dat"));
  assert(!filter.accepts("a.txt"), "regex");
});
