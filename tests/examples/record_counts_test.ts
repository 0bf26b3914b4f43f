/**
 * `examples/record_counts.ts` run as its doc comment tells a user to run it, against the test
 * broker: the counts per key are exact, checkpoints follow them, and a second run over more
 * records goes on from the saved counts without counting anything twice.
 */

import { assertEquals } from "../support/assert.ts";
import { committedOffsets, withTopic } from "../support/broker.ts";
import { runProcessor } from "../support/processor.ts";
import { putRecords } from "../support/records.ts";

const SCRIPT = "examples/record_counts.ts";

/** What `putRecords` wrote with keys `k<i % 7>` for i in [0, count), per partition. */
function expected(count: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < count; i++) counts[`k${i % 7}`] = (counts[`k${i % 7}`] ?? 0) + 1;
  return counts;
}

Deno.test("examples/record_counts.ts counts records per key and resumes from its checkpoints", async () => {
  await withTopic(2, async (topic) => {
    const out = await Deno.makeTempDir();
    const group = `counts-${crypto.randomUUID().slice(0, 8)}`;
    const args = [
      "--topic",
      topic,
      "--group",
      group,
      "--output-dir",
      out,
      "--every-seconds",
      "0.2",
      "--max-batch",
      "25",
      "--exit-when-idle",
      "2",
    ];
    /** Runs the example to idle: both partitions' saved counts and commits reach `total`. */
    const runAndCheck = async (total: number) => {
      const run = await runProcessor(SCRIPT, args);
      assertEquals(run.code, 0, run.stderr);
      for (const p of [0, 1]) {
        const saved = JSON.parse(await Deno.readTextFile(`${out}/counts-${p}.json`));
        assertEquals(saved, { nextOffset: total, counts: expected(total) });
      }
      assertEquals(await committedOffsets(group, topic, 2), [total, total]);
    };
    await putRecords(topic, 2, 70);
    await runAndCheck(70);
    await putRecords(topic, 2, 30, { first: 70 });
    await runAndCheck(100);
  });
});
