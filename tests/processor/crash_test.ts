/**
 * The restart guarantee, proven with `kill -9`: the processor is killed at random moments
 * (during `process`, during commits, during start-up) and restarted until idle. Every file is
 * processed at least once, no file recorded as processed is processed again after a restart,
 * the logs stay readable, and committed offsets never go backwards (no rewinding the topic).
 */

import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, committedOffsets, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { putFiles, type TestFile } from "../support/chunks.ts";
import {
  FAST_GROUP,
  killIfRunning,
  processorArgs,
  readCalls,
  runProcessor,
  startProcessor,
} from "../support/processor.ts";
import { sleep } from "../support/wait.ts";
import { Consumer } from "../../src/kafka/mod.ts";
import { readRegistry } from "../../src/registry/registry.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";
const FILES = 200;
const KILLS = 20;
const PARTITIONS = 4;

Deno.test(`kill -9 ${KILLS} times over ${FILES} files: nothing lost, nothing processed twice after being recorded`, async () => {
  await withTopic(PARTITIONS, async (topic) => {
    const files: TestFile[] = [];
    for (let i = 0; i < FILES; i++) {
      files.push({
        path: `batch${i % 7}/file-${i}.bin`,
        bytes: testBytes(500 + (i * 7919) % 40_000, i),
      });
    }
    await putFiles(topic, files, { partitions: PARTITIONS, chunkSize: 4096 });
    const out = await Deno.makeTempDir();
    const group = `crash-${crypto.randomUUID().slice(0, 8)}`;
    const args = [
      ...processorArgs(topic, out, group),
      "--workers",
      "2",
      "--sleep-ms",
      "30",
      "--exit-when-idle",
      "2",
      ...FAST_GROUP,
      // Static membership: a restarted process takes its place in the group at once.
      "-X",
      "group.instance.id=crash-test",
    ];
    // recordedBefore[k]: files the registry held when run k started.
    const recordedBefore: Set<string>[] = [];
    let previous = new Array(PARTITIONS).fill(-1001);
    let random = 12345;
    for (let k = 0; k < KILLS; k++) {
      const registry = await readRegistry(`${out}/.ferry`, topic, group);
      if (registry.processed.length === FILES) break;
      recordedBefore.push(new Set(registry.processed.map((r) => r.path)));
      const { child, result } = startProcessor(SCRIPT, [...args, "--run-id", String(k)]);
      // Kill once this run has processed a few files, a random moment later: inside process(),
      // between process() and the log line, or during a commit.
      random = (random * 1103515245 + 12345) % 2147483648;
      const target = (await readCalls(out)).length + 1 + (random % 8);
      const deadline = Date.now() + 20_000;
      while ((await readCalls(out)).length < target && Date.now() < deadline) {
        await sleep(20);
      }
      await sleep(random % 150);
      killIfRunning(child);
      await result;
      const committed = await committedOffsets(group, topic, PARTITIONS);
      for (let p = 0; p < PARTITIONS; p++) {
        assert(
          committed[p] >= previous[p],
          `partition ${p} went back from ${previous[p]} to ${committed[p]}`,
        );
      }
      previous = committed;
    }
    const registryBeforeFinal = await readRegistry(`${out}/.ferry`, topic, group);
    const finalRun = recordedBefore.length;
    recordedBefore.push(new Set(registryBeforeFinal.processed.map((r) => r.path)));
    const final = await runProcessor(SCRIPT, [...args, "--run-id", String(finalRun)], 180_000);
    assertEquals(final.code, 0, final.stderr);

    const registry = await readRegistry(`${out}/.ferry`, topic, group);
    assertEquals(new Set(registry.processed.map((r) => r.path)), new Set(files.map((f) => f.path)));
    assertEquals(registry.processed.length, FILES, "each file recorded once");
    assertEquals(registry.failed, []);
    const calls = await readCalls(out);
    assertEquals(
      new Set(calls.map((c) => c.path)).size,
      FILES,
      "every file processed at least once",
    );
    for (const call of calls) {
      const run = Number(call.run);
      assert(
        !recordedBefore[run].has(call.path),
        `"${call.path}" was recorded as processed before run ${run} and processed again in it`,
      );
    }
    const committed = await committedOffsets(group, topic, PARTITIONS);
    await using reader = new Consumer({ "bootstrap.servers": BOOTSTRAP, "group.id": group });
    for (let p = 0; p < PARTITIONS; p++) {
      assertEquals(committed[p], (await reader.queryWatermarks(topic, p)).high, `partition ${p}`);
    }
    const perRun = recordedBefore.map((_, run) =>
      calls.filter((c) => Number(c.run) === run).length
    );
    // deno-lint-ignore no-console
    console.log(
      `${calls.length} process calls for ${FILES} files (${calls.length - FILES} repeats of ` +
        `files killed before being recorded); calls per run: ${perRun.join(" ")}`,
    );
    const killedWhileWorking = perRun.slice(0, -1).filter((n) => n > 0).length;
    assert(
      killedWhileWorking >= Math.min(KILLS, finalRun),
      `too few kills landed while processing: ${perRun}`,
    );
  });
});
