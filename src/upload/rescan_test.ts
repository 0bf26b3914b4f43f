/** The watch's rescans (`FolderIndex`): unchanged folders are not listed again. */

import { assertEquals } from "../../tests/support/assert.ts";
import { withTempDir, writeTree } from "../../tests/support/files.ts";
import { FileFilter } from "./filter.ts";
import { FolderIndex, type FoundFile } from "./rescan.ts";

/** Sets a folder's mtime well in the past (a folder changed just now is listed again anyway). */
async function age(path: string): Promise<void> {
  const past = new Date(Date.now() - 60_000);
  await Deno.utime(path, past, past);
}

Deno.test("a rescan lists only folders whose mtime moved, and flags folders it did not know", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, { "a/1.dat": "1", "b/2.dat": "2", "b/c/3.dat": "3", ".h/4.dat": "4" });
    for (const dir of ["a", "b/c", "b", ""]) await age(`${root}/${dir}`);
    const index = new FolderIndex(root, new FileFilter());
    const found: [string, boolean][] = [];
    const onFile = (file: FoundFile, newFolder: boolean) => found.push([file.path, newFolder]);
    assertEquals(await index.rescan(onFile, { statFiles: false }), 4);
    assertEquals(found, []);
    assertEquals(index.folders, 4);
    assertEquals(await index.rescan(onFile), 0, "nothing moved: no folder listed");

    await writeTree(root, { "b/c/5.dat": "5", "d/6.dat": "6" });
    await index.rescan(onFile);
    assertEquals(found.sort(), [["b/c/3.dat", false], ["b/c/5.dat", false], ["d/6.dat", true]]);
    assertEquals(index.knows("d"), true);

    found.length = 0;
    await Deno.remove(`${root}/a`, { recursive: true });
    await index.rescan(onFile, { all: true });
    assertEquals(found.map(([p]) => p).sort(), ["b/2.dat", "b/c/3.dat", "b/c/5.dat", "d/6.dat"]);
    assertEquals(index.knows("a"), false, "a removed folder is forgotten");
  });
});
