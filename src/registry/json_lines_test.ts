/**
 * The registry's group commit in its JSON-lines logs (`JsonLinesWriter`): a record is in its log
 * file (readable by another process) as soon as `append` resolves, before any sync; `sync`
 * covers every record appended before it, including ones still being written; a closed log
 * takes no further lines. The registry over these logs: `registry_test.ts`.
 */

import { assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { withTempDir } from "../../tests/support/files.ts";
import { JsonLinesWriter, readJsonLines } from "./json_lines.ts";

Deno.test("a record is in the log file once append resolves, before any sync", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/log.jsonl`;
    const log = await JsonLinesWriter.rewrite(path, [{ n: 0 }]);
    await log.append({ n: 1 });
    // Read through another descriptor: what a restart after kill -9 would see.
    assertEquals(await readJsonLines(path), [{ n: 0 }, { n: 1 }]);
    await log.close();
  }, "ferry-group-commit-");
});

Deno.test("sync covers records appended before it, even while they are being written", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/log.jsonl`;
    const log = await JsonLinesWriter.rewrite(path, []);
    const written: number[] = [];
    const appends = [1, 2, 3].map((n) => log.append({ n }).then(() => written.push(n)));
    await log.sync();
    assertEquals(written, [1, 2, 3], "sync resolved before the records it covers were written");
    await Promise.all(appends);
    await log.sync(); // nothing new: no fdatasync, resolves all the same
    assertEquals(await readJsonLines(path), [{ n: 1 }, { n: 2 }, { n: 3 }]);
    await log.close();
    await assertRejects(() => log.append({ n: 4 }), Error, "is closed");
  }, "ferry-group-commit-");
});
