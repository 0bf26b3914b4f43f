/**
 * Start-up checks that need no broker (`start_checks.ts`): Ferry's folder in the output
 * directory must not lead out of it; a group that committed offsets meets an output directory
 * with no record of it loudly, naming the offsets and a new group to start over with.
 */

import { assert, assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { captureLogs, formatLines } from "../../tests/support/logs.ts";
import { checkOutputDir, warnIfGroupMovedOn } from "./start_checks.ts";
import { FERRY_DIR } from "../files/layout.ts";
import type { TopicPartition } from "../kafka/mod.ts";

Deno.test("the output directory is made; Ferry's folder in it may not be a link out", async () => {
  const root = await Deno.makeTempDir();
  try {
    await checkOutputDir(`${root}/out`);
    assert((await Deno.stat(`${root}/out`)).isDirectory);
    await Deno.mkdir(`${root}/elsewhere`);
    await Deno.symlink(`${root}/elsewhere`, `${root}/out/${FERRY_DIR}`);
    const error = await assertRejects(() => checkOutputDir(`${root}/out`), Error);
    assert(
      error.message.startsWith("Ferry's folder in the output directory must be a real folder"),
    );
    assert(error.message.endsWith("Remove the link or choose another --output-dir."));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

const run = { topic: "raw", group: "g", outputDir: "/out", partitionCount: 3 };

function consumer(offsets: number[]) {
  return {
    committed: (tps: readonly TopicPartition[]) =>
      Promise.resolve(tps.map((tp) => ({ ...tp, offset: offsets[tp.partition] }))),
  };
}

Deno.test("a group that moved on is named with its offsets and a new group", async () => {
  const lines = formatLines(
    await captureLogs(() => warnIfGroupMovedOn(consumer([0, 12, -1001]), run)),
  );
  assertEquals(lines.length, 1);
  assert(lines[0].includes("has committed offsets on raw (partition 1 at 12)"), lines[0]);
  assert(lines[0].includes("--group g-"), lines[0]);
});

Deno.test("a group with no offsets past the start goes without a warning", async () => {
  const records = await captureLogs(
    () => warnIfGroupMovedOn(consumer([0, -1001, 0]), run),
    "info",
  );
  assertEquals(records, []);
});
