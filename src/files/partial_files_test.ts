/**
 * `PartialFiles` and `isOffsetError` (`partial_files.ts`) on real files, without a broker:
 * chunks written out of order land at their offsets, the folder is made at the first write,
 * and a write past what a file can hold is told from other failures.
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import { testBytes } from "../../tests/support/bytes.ts";
import { isOffsetError, PartialFiles } from "./partial_files.ts";

Deno.test("partial files get each chunk at its offset, their folder made at the first write", async () => {
  const out = await Deno.makeTempDir();
  const dir = `${out}/deep/partial`;
  const partials = new PartialFiles(dir);
  const bytes = testBytes(10_000);
  await partials.write(`${dir}/a.part`, [{ offset: 6000, data: bytes.subarray(6000) }]);
  await partials.write(`${dir}/a.part`, [
    { offset: 3000, data: bytes.subarray(3000, 6000) },
    { offset: 0, data: bytes.subarray(0, 3000) },
  ]);
  assertEquals(await Deno.readFile(`${dir}/a.part`), bytes);
  await Deno.remove(out, { recursive: true });
});

Deno.test("a write past what a file can hold is an offset error; other failures are not", async () => {
  const out = await Deno.makeTempDir();
  const partials = new PartialFiles(out);
  let failure: unknown;
  try {
    await partials.write(`${out}/a.part`, [{ offset: 2 ** 63 - 2 ** 10, data: testBytes(10) }]);
  } catch (error) {
    failure = error;
  }
  assert(failure !== undefined, "a write at 2^63 - 1 KiB must fail");
  assert(isOffsetError(failure), `not an offset error: ${failure}`);
  assert(!isOffsetError(new Deno.errors.NotFound("gone")));
  assert(!isOffsetError(undefined));
  await Deno.remove(out, { recursive: true });
});
