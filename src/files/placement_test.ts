/**
 * `Placement` (`placement.ts`) on real files, without a broker or an assembler: a complete
 * file's partial file is cut to its size and moved into its folder, made for it; a symbolic
 * link on the way out of the output directory is refused and nothing moves.
 */

import { assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { testBytes } from "../../tests/support/bytes.ts";
import { fileChunks } from "../../tests/support/chunks.ts";
import { FileAssembly } from "./file_assembly.ts";
import { UnsafePathError } from "./path.ts";
import { Placement } from "./placement.ts";

/** A file assembly for `path` whose partial file holds `bytes` followed by 100 bytes more. */
async function partial(out: string, path: string, bytes: Uint8Array): Promise<FileAssembly> {
  await Deno.mkdir(`${out}/.partial`, { recursive: true });
  const assembly = new FileAssembly(fileChunks({ path, bytes })[0], `${out}/.partial`, true);
  await Deno.writeFile(assembly.partialPath, new Uint8Array([...bytes, ...testBytes(100, 9)]));
  return assembly;
}

Deno.test("a placed file is cut to its size and moved into its folder, made for it", async () => {
  const out = await Deno.makeTempDir();
  const bytes = testBytes(3000);
  const assembly = await partial(out, "run/deep/a.bin", bytes);
  const target = await new Placement(out).place(assembly, bytes.length);
  assertEquals(target, `${out}/run/deep/a.bin`);
  assertEquals(await Deno.readFile(target), bytes);
  await assertRejects(() => Deno.stat(assembly.partialPath), Deno.errors.NotFound);
  await Deno.remove(out, { recursive: true });
});

Deno.test("a file is not placed through a symbolic link leaving the output directory", async () => {
  const out = await Deno.makeTempDir();
  const elsewhere = await Deno.makeTempDir();
  await Deno.symlink(elsewhere, `${out}/run`);
  const bytes = testBytes(3000);
  const assembly = await partial(out, "run/a.bin", bytes);
  await assertRejects(() => new Placement(out).place(assembly, bytes.length), UnsafePathError);
  assertEquals([...Deno.readDirSync(elsewhere)], []);
  assertEquals((await Deno.stat(assembly.partialPath)).size, bytes.length + 100);
  await Deno.remove(out, { recursive: true });
  await Deno.remove(elsewhere, { recursive: true });
});
