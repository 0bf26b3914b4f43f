/**
 * The file registry's group commit (`FileRegistry`): `sync` and `close` keep every record, and a
 * reopened registry knows them. The logs underneath: `json_lines_test.ts`.
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import { withTempDir } from "../../tests/support/files.ts";
import { FileRegistry, readRegistry } from "./registry.ts";
import { registryFileNames } from "../files/layout.ts";

Deno.test("FileRegistry.sync and close keep every record; a reopened registry knows them", async () => {
  await withTempDir(async (dir) => {
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
  }, "ferry-group-commit-");
});

Deno.test("a processed newer generation retires an older generation's failure, recorded and kept across reopening", async () => {
  await withTempDir(async (dir) => {
    const registry = await FileRegistry.open(dir, "raw", "g");
    const base = { size: 1, partitions: [0], path: "a.csv" };
    await registry.recordFailed({
      ...base,
      time: "2026-01-01T00:00:00Z",
      sha512: "11",
      error: "x",
      attempt: 3,
      maxAttempts: 3,
      kept: "",
      mtime: 1000,
    });
    // An older generation processed does not retire it.
    assertEquals(
      await registry.retireSuperseded({
        ...base,
        time: "2026-01-01T00:00:01Z",
        sha512: "00",
        ms: 1,
        attempt: 1,
        mtime: 500,
      }),
      [],
    );
    await registry.recordProcessed({
      ...base,
      time: "2026-01-01T00:00:02Z",
      sha512: "22",
      ms: 1,
      attempt: 1,
      mtime: 2000,
    });
    const retired = await registry.retireSuperseded({
      ...base,
      time: "2026-01-01T00:00:02Z",
      sha512: "22",
      ms: 1,
      attempt: 1,
      mtime: 2000,
    });
    assertEquals(retired.map((r) => r.retiredBy), ["22"]);
    assertEquals(registry.failedFiles(), []);
    assert(registry.isRetired("a.csv", "11"));
    // Failing again later (a retry that ran meanwhile) keeps it retired.
    const again = await registry.recordFailed({
      ...base,
      time: "2026-01-01T00:00:03Z",
      sha512: "11",
      error: "x",
      attempt: 3,
      kept: "",
      mtime: 1000,
    });
    assertEquals(again.retiredBy, "22");
    await registry.close();
    const snapshot = await readRegistry(`${dir}/.ferry`, "raw", "g");
    assertEquals(snapshot.failed, []);
    assertEquals(snapshot.retired.map((r) => [r.sha512, r.retiredBy]), [["11", "22"]]);
  }, "ferry-retire-");
});
