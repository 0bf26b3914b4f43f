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
