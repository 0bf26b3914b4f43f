/**
 * Processors that produce results, at least once and exactly once, against the real broker:
 * a `read_committed` reader of the output topic counts the results per source file.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { committedOffsets, uniqueName, withTopic } from "../support/broker.ts";
import { putFiles } from "../support/chunks.ts";
import { withTempDir } from "../support/files.ts";
import { processorArgs, runProcessor, startProcessor } from "../support/processor.ts";
import { assertOncePerFile, countBy, readCommitted, smallFiles } from "../support/results.ts";
import { sleep } from "../support/wait.ts";

const SCRIPT = "tests/fixtures/producing_processor.ts";

Deno.test("results: produced at least once, with headers naming the source", async () => {
  const files = smallFiles(20, "alo");
  await withTopic(2, async (input) => {
    await withTopic(1, async (output) => {
      await putFiles(input, files, { chunkSize: 1024, partitions: 2 });
      await withTempDir(async (dir) => {
        const run = await runProcessor(SCRIPT, [
          ...processorArgs(input, dir, uniqueName("alo")),
          "--output-topic",
          output,
          "--exit-when-idle",
          "2",
        ]);
        assertEquals(run.code, 0, run.stderr);
        const messages = await readCommitted(output, files.length);
        assertOncePerFile(countBy(messages, "ferry-source-path"), files, "one run");
        const first = messages[0];
        assertEquals(first.headers["ferry-source-topic"], input);
        assertEquals(first.headers["ferry-source-sha512"].length, 128);
        assertEquals(JSON.parse(first.value).path, first.key);
      });
    });
  });
});

/**
 * Kill -9 at random `kills` times, then run until idle. Every other start has a fresh output
 * directory (its registry lost, as on another machine) and the same transactional.id (from the
 * config file's [producer] section): without --exactly-once, those starts process again what
 * was produced but not yet committed (the sanity run, EOS_TEST_SANITY=1, sees duplicates).
 */
Deno.test("results: exactly once under kill -9, each file's result seen once", async () => {
  const files = smallFiles(150, "eos");
  const KILLS = 6;
  await withTopic(4, async (input) => {
    await withTopic(2, async (output) => {
      await putFiles(input, files, { chunkSize: 1024, partitions: 4 });
      await withTempDir(async (dir) => {
        const config = `${dir}/ferry.ini`;
        await Deno.writeTextFile(
          config,
          `[producer]\ntransactional.id = ${uniqueName("eos-id")}\n`,
        );
        const group = uniqueName("eos");
        const args = (outputDir: string) => [
          ...processorArgs(input, outputDir, group),
          "--config",
          config,
          // Static membership: a restart takes the killed member's place at once.
          "-X",
          `group.instance.id=${group}-member`,
          "--output-topic",
          output,
          ...(Deno.env.get("EOS_TEST_SANITY") ? [] : ["--exactly-once"]),
          "--sleep-ms",
          "40",
          "--exit-when-idle",
          "3",
        ];
        let killed = 0;
        for (let i = 0; i < KILLS; i++) {
          const outputDir = i % 2 === 0 ? `${dir}/kept` : `${dir}/fresh-${i}`;
          const { child, result } = startProcessor(
            SCRIPT,
            [...args(outputDir), "--run-id", `k${i}`],
            { timeoutMs: 120_000 },
          );
          await sleep(1500 + Math.random() * 2000);
          try {
            child.kill("SIGKILL");
            killed++;
          } catch {
            // It had finished already: the next start has nothing left or little to do.
          }
          await result;
        }
        assert(killed >= 3, `killed ${killed} times`);
        const last = await runProcessor(
          SCRIPT,
          [...args(`${dir}/kept`), "--run-id", "last"],
          180_000,
        );
        assertEquals(last.code, 0, last.stderr);
        const messages = await readCommitted(output, files.length);
        assertOncePerFile(countBy(messages, "ferry-source-path"), files, `${killed} kills`);
      });
    });
  });
});

Deno.test("results: a failed file retried on the next start produces its result once", async () => {
  const files = smallFiles(12, "retry");
  await withTopic(2, async (input) => {
    await withTopic(1, async (output) => {
      await putFiles(input, files, { chunkSize: 1024, partitions: 2 });
      await withTempDir(async (dir) => {
        const args = [
          ...processorArgs(input, dir, uniqueName("retry")),
          "--output-topic",
          output,
          "--exactly-once",
          "--fail-first",
          "f000[0-2]",
          "--exit-when-idle",
          "2",
        ];
        const first = await runProcessor(SCRIPT, args);
        assertEquals(first.code, 1, first.stderr); // files failed
        assertEquals((await readCommitted(output, files.length - 3)).length, files.length - 3);
        const second = await runProcessor(SCRIPT, args);
        assertEquals(second.code, 0, second.stderr);
        const messages = await readCommitted(output, files.length);
        assertOncePerFile(countBy(messages, "ferry-source-path"), files, "retried");
      });
    });
  });
});

Deno.test("results: a missing output topic is a clear error and nothing is committed", async () => {
  const files = smallFiles(3, "bad");
  await withTopic(1, async (input) => {
    await putFiles(input, files, { chunkSize: 1024 });
    await withTempDir(async (dir) => {
      const group = uniqueName("bad");
      const missing = uniqueName("no-such-topic");
      const run = await runProcessor(SCRIPT, [
        ...processorArgs(input, dir, group),
        "--output-topic",
        missing,
        "--exactly-once",
        "--exit-when-idle",
        "2",
      ]);
      assertEquals(run.code, 1, run.stderr);
      assert(
        run.stderr.includes(`The output topic "${missing}" (--output-topic) cannot be used`),
        run.stderr,
      );
      assertEquals(await committedOffsets(group, input, 1), [-1001]);
    });
  });
});

Deno.test("results: --exactly-once without --output-topic is a usage error", async () => {
  await withTempDir(async (dir) => {
    const run = await runProcessor(SCRIPT, [...processorArgs("t", dir), "--exactly-once"]);
    assertEquals(run.code, 2, run.stderr);
    assert(run.stderr.includes('"--exactly-once" needs "--output-topic"'), run.stderr);
  });
});
