/**
 * The registry's group commit (`src/registry/json_lines.ts`, `src/registry/registry.ts`): a
 * record is in its log file (readable by another process) as soon as `append` resolves, before
 * any sync; `sync` covers every record appended before it, including ones still being written;
 * a log whose write failed takes no further lines; `close` leaves everything written.
 */

import { assert, assertEquals, assertRejects } from "./support/assert.ts";
import { JsonLinesWriter, readJsonLines } from "../src/registry/json_lines.ts";
import { FileRegistry, readRegistry } from "../src/registry/registry.ts";
import { registryFileNames } from "../src/files/layout.ts";

Deno.test("a record is in the log file once append resolves, before any sync", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-group-commit-" });
  try {
    const path = `${dir}/log.jsonl`;
    const log = await JsonLinesWriter.rewrite(path, [{ n: 0 }]);
    await log.append({ n: 1 });
    // Read through another descriptor: what a restart after kill -9 would see.
    assertEquals(await readJsonLines(path), [{ n: 0 }, { n: 1 }]);
    await log.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sync covers records appended before it, even while they are being written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-group-commit-" });
  try {
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
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileRegistry.sync and close keep every record; a reopened registry knows them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-group-commit-" });
  try {
    const registry = await FileRegistry.open(dir, "raw", "g");
    const base = { sha512: "aa", size: 1, partitions: [0] };
    await registry.recordStarted({ time: new Date().toISOString(), path: "a", sha512: "aa" });
    await registry.recordProcessed({ ...base, time: "t", path: "a", ms: 1, attempt: 1 });
    await registry.sync();
    await registry.recordFailed({
      ...base,
      time: "t",
      path: "b",
      error: "x",
      attempt: 1,
      kept: "",
    });
    await registry.close();
    const snapshot = await readRegistry(`${dir}/.ferry`, "raw", "g");
    assertEquals(snapshot.processed.map((r) => r.path), ["a"]);
    assertEquals(snapshot.failed.map((r) => r.path), ["b"]);
    assertEquals(snapshot.inProgress, []);
    const names = registryFileNames("raw", "g");
    const text = await Deno.readTextFile(`${dir}/.ferry/${names.processed}`);
    assert(text.endsWith("\n"), "the processed log ends in a whole line");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
