/** Listing the files of an upload (`scanTree`). */

import { assertEquals } from "../../tests/support/assert.ts";
import { withTempDir, writeTree } from "../../tests/support/files.ts";
import { FileFilter } from "./filter.ts";
import { scanTree } from "./scan.ts";

Deno.test("scanTree lists files sorted, with relative POSIX paths, skipping hidden folders", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, {
      "b.dat": "1",
      "a/x y.dat": "22",
      "a/ü/%;.dat": "333",
      ".ferry/upload_to_t.jsonl": "{}\n",
      ".git/config": "x",
    });
    await Deno.symlink(`${root}/a`, `${root}/link-to-dir`);
    await Deno.symlink(`${root}/b.dat`, `${root}/link-to-file.dat`);
    const files = await scanTree(root, new FileFilter());
    assertEquals(files.map((f) => [f.path, f.size]), [
      ["a/x y.dat", 2],
      ["a/ü/%;.dat", 3],
      ["b.dat", 1],
      ["link-to-file.dat", 1],
    ]);
  });
});
