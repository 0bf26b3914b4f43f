/**
 * Producing processors with --exactly-once in a consumer group: a second process with the same
 * transactional identity fences the first; two processes of one group rebalancing mid-run commit
 * each file's result once between them.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { uniqueName, withTopic } from "../support/broker.ts";
import { putFiles } from "../support/chunks.ts";
import { withTempDir } from "../support/files.ts";
import {
  explainingFailure,
  FAST_GROUP,
  processorArgs,
  startProcessor,
} from "../support/processor.ts";
import { assertOncePerFile, countBy, readCommitted, smallFiles } from "../support/results.ts";
import { sleep } from "../support/wait.ts";

const SCRIPT = "tests/fixtures/producing_processor.ts";

Deno.test("results: a second process with the same identity fences the first", async () => {
  const files = smallFiles(60, "fence");
  await withTopic(2, async (input) => {
    await withTopic(1, async (output) => {
      await putFiles(input, files, { chunkSize: 1024, partitions: 2 });
      await withTempDir(async (dir) => {
        const config = `${dir}/ferry.ini`;
        await Deno.writeTextFile(
          config,
          `[producer]\ntransactional.id = ${uniqueName("fence-id")}\n`,
        );
        const group = uniqueName("fence");
        const args = (outputDir: string, runId: string) => [
          ...processorArgs(input, outputDir, group),
          ...FAST_GROUP,
          "--config",
          config,
          "--output-topic",
          output,
          "--exactly-once",
          "--sleep-ms",
          "150",
          "--run-id",
          runId,
        ];
        const first = startProcessor(SCRIPT, args(`${dir}/first`, "first"), {
          timeoutMs: 120_000,
        });
        const started = [first];
        // On failure: both processes' logs, to say which one lost track of what.
        await explainingFailure(started, async () => {
          // Until the first has committed some results (it goes on: no --exit-when-idle).
          const deadline = Date.now() + 60_000;
          while ((await readCommitted(output, 1, 2_000)).length === 0) {
            assert(Date.now() < deadline, "the first process committed nothing");
          }
          const second = startProcessor(
            SCRIPT,
            [...args(`${dir}/second`, "second"), "--exit-when-idle", "3"],
            { timeoutMs: 180_000 },
          );
          started.push(second);
          const secondRun = await second.result;
          assertEquals(secondRun.code, 0, secondRun.stderr);
          const fenced = await first.result;
          assertEquals(fenced.code, 1, fenced.stderr);
          assert(
            fenced.stderr.includes("Another process with the same transactional.id took over"),
            fenced.stderr,
          );
          const messages = await readCommitted(output, files.length);
          assertOncePerFile(countBy(messages, "ferry-source-path"), files, "fenced");
          const runs = new Set(messages.map((m) => JSON.parse(m.value).run));
          assert(runs.has("first") && runs.has("second"), `results of both: ${[...runs]}`);
        });
      });
    });
  });
});

Deno.test("results: two processes of one group rebalancing mid-run, each file's result once", async () => {
  const files = smallFiles(100, "pair");
  await withTopic(4, async (input) => {
    await withTopic(2, async (output) => {
      await putFiles(input, files, { chunkSize: 1024, partitions: 4 });
      await withTempDir(async (dir) => {
        const group = uniqueName("pair");
        // The second starts while the first is busy: partitions move between them mid-run
        // (a file may then be processed by both; its result is committed once).
        const start = (name: string) =>
          startProcessor(SCRIPT, [
            ...processorArgs(input, `${dir}/${name}`, group),
            ...FAST_GROUP,
            "--output-topic",
            output,
            ...(Deno.env.get("EOS_TEST_SANITY") ? [] : ["--exactly-once"]),
            "--sleep-ms",
            "120",
            "--run-id",
            name,
            "--exit-when-idle",
            "4",
          ], { timeoutMs: 120_000 });
        const one = start("one");
        await sleep(2500);
        const two = start("two");
        for (const run of [one, two]) {
          const result = await run.result;
          assertEquals(result.code, 0, result.stderr);
        }
        const messages = await readCommitted(output, files.length);
        assertOncePerFile(countBy(messages, "ferry-source-path"), files, "two processes");
        const runs = new Set(messages.map((m) => JSON.parse(m.value).run));
        assert(runs.has("one") && runs.has("two"), `results of both: ${[...runs]}`);
      });
    });
  });
});
