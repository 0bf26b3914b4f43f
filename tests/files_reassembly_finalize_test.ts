/**
 * `FileAssembler.finalize` remembers the folders it made, so later files into the same folder
 * skip making and checking it again; these tests show that a folder removed meanwhile is made
 * again, and that a symbolic link put in place of a remembered folder is still refused.
 */

import { assertEquals, assertRejects } from "./support/assert.ts";
import { fileChunks, testBytes } from "./support/chunks.ts";
import { FileAssembler } from "../src/files/reassembly.ts";
import { UnsafePathError } from "../src/files/path.ts";

async function rebuild(assembler: FileAssembler, path: string, seed: number): Promise<string> {
  const bytes = testBytes(5000, seed);
  let offset = 0;
  for (const chunk of fileChunks({ path, bytes }, 2000)) {
    await assembler.add(chunk, { partition: 0, offset: offset++ });
  }
  const assembly = assembler.inProgress.find((a) => a.relativePath === path)!;
  assembler.remove(assembly);
  const target = (await assembler.finalize(assembly, assembly.checkedSize()))!;
  assertEquals(await Deno.readFile(target), bytes);
  return target;
}

Deno.test("a folder removed after a file was moved into it is made again for the next file", async () => {
  const out = await Deno.makeTempDir();
  const assembler = new FileAssembler({ outputDir: out, mode: "disk" });
  await rebuild(assembler, "run/a.bin", 1);
  await Deno.remove(`${out}/run`, { recursive: true });
  const target = await rebuild(assembler, "run/b.bin", 2);
  assertEquals(target, `${out}/run/b.bin`);
  await Deno.remove(out, { recursive: true });
});

Deno.test("a symbolic link put in place of a folder made before is refused", async () => {
  const out = await Deno.makeTempDir();
  const elsewhere = await Deno.makeTempDir();
  const assembler = new FileAssembler({ outputDir: out, mode: "disk" });
  await rebuild(assembler, "run/a.bin", 1);
  await Deno.remove(`${out}/run`, { recursive: true });
  await Deno.symlink(elsewhere, `${out}/run`);
  await assertRejects(() => rebuild(assembler, "run/b.bin", 2), UnsafePathError);
  assertEquals([...Deno.readDirSync(elsewhere)], [], "nothing written through the link");
  await Deno.remove(out, { recursive: true });
  await Deno.remove(elsewhere, { recursive: true });
});

Deno.test("a partial file left by someone else is cut to the file's size", async () => {
  const out = await Deno.makeTempDir();
  // Learn the partial file's name, then leave a longer file there, as an earlier run might.
  const earlier = new FileAssembler({ outputDir: out, mode: "disk" });
  const bytes = testBytes(5000, 1);
  await earlier.add(fileChunks({ path: "run/a.bin", bytes }, 2000)[0], { partition: 0, offset: 0 });
  const partialPath = earlier.inProgress[0].partialPath;
  await Deno.writeFile(partialPath, testBytes(9000, 3));
  const target = await rebuild(new FileAssembler({ outputDir: out, mode: "disk" }), "run/a.bin", 1);
  assertEquals((await Deno.stat(target)).size, 5000);
  await Deno.remove(out, { recursive: true });
});
