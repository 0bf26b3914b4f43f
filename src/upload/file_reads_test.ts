/**
 * `statFile`, `readKept`, `readWholeSync` and `readFull` (`file_reads.ts`) on real files: a
 * missing path and a folder fail naming the file, and a file of another size than expected
 * throws `FileChanged`.
 */

import { assertEquals, assertThrows } from "../../tests/support/assert.ts";
import { testBytes } from "../../tests/support/bytes.ts";
import { withTempDir } from "../../tests/support/files.ts";
import { UploadError } from "./errors.ts";
import { FileChanged } from "./file_failures.ts";
import { readFull, readKept, readWholeSync, statFile } from "./file_reads.ts";

Deno.test("stat of a missing path or a folder fails naming it", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/sub`);
    const missing = assertThrows(() => statFile(`${dir}/none`, "none"), UploadError);
    assertEquals(missing.kind, "missing");
    const folder = assertThrows(() => statFile(`${dir}/sub`, "sub"), UploadError);
    assertEquals([folder.kind, folder.message], [
      "not_a_file",
      'Path "sub" is not a regular file.',
    ]);
  });
});

Deno.test("a small file read whole must have the size its stat gave", async () => {
  await withTempDir(async (dir) => {
    const bytes = testBytes(5000);
    await Deno.writeFile(`${dir}/a`, bytes);
    assertEquals(readKept(`${dir}/a`, "a", 5000), bytes);
    assertThrows(() => readKept(`${dir}/a`, "a", 4000), FileChanged);
    const into = new Uint8Array(5000);
    readWholeSync(`${dir}/a`, "a", into);
    assertEquals(into, bytes);
    assertThrows(() => readWholeSync(`${dir}/a`, "a", new Uint8Array(4999)), FileChanged);
    assertThrows(() => readWholeSync(`${dir}/a`, "a", new Uint8Array(5001)), FileChanged);
    assertThrows(() => readWholeSync(`${dir}/none`, "none", into), Deno.errors.NotFound);
  });
});

Deno.test("readFull fills the buffer, or says how much was left at the end of the file", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/a`, testBytes(3000));
    using file = await Deno.open(`${dir}/a`);
    assertEquals(await readFull(file, new Uint8Array(2000)), 2000);
    assertEquals(await readFull(file, new Uint8Array(2000)), 1000);
  });
});
