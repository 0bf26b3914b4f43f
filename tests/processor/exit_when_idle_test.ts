/**
 * `--exit-when-idle` means "caught up on the partitions this group owns", not "nothing assigned
 * to me right now". Two processes of one group start 3 s apart, with slow batches, so that
 * the second one's join rebalances the group mid-work: the second one's first (cooperative)
 * assignment is empty while the first one is still giving up partitions with work left in
 * them. Both must exit 0 and leave no lag behind (the group's committed offsets are the high
 * watermarks of every partition). Real broker, real processes; record and file processors.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, committedOffsets, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { putFiles, type TestFile } from "../support/chunks.ts";
import {
  FAST_GROUP,
  processorArgs,
  type ProcessorRun,
  readCalls,
  startProcessor,
} from "../support/processor.ts";
import { prepareRecordRun } from "../support/records.ts";
import { sleep } from "../support/wait.ts";
import { Consumer } from "../../src/kafka/mod.ts";

/** How long after the first process the second one starts. */
const SECOND_AFTER_MS = 3000;
/** Kill a process still running after this long, so that a hang fails the test. */
const LIMIT = { timeoutMs: 40_000 };

/** A finished run, with when it ended. */
type TimedRun = ProcessorRun & { endedAt: number };

/** Starts `args("a")`, then `args("b")` 3 s later; waits for both to exit. */
async function twoProcesses(
  script: string,
  args: (run: string) => string[],
): Promise<[TimedRun, TimedRun]> {
  const timed = (run: ProcessorRun) => ({ ...run, endedAt: Date.now() });
  const a = startProcessor(script, args("a"), LIMIT).result.then(timed);
  await sleep(SECOND_AFTER_MS);
  const b = startProcessor(script, args("b"), LIMIT).result.then(timed);
  return await Promise.all([a, b]);
}

/**
 * Asserts that the group has read every partition to its end: its committed offset is the
 * high watermark (an empty partition may have no committed offset). Returns the watermarks.
 */
async function assertNoLag(
  group: string,
  topic: string,
  partitions: number,
  runs: ProcessorRun[],
): Promise<number[]> {
  await using reader = new Consumer({
    "bootstrap.servers": BOOTSTRAP,
    "group.id": `watermarks-${crypto.randomUUID().slice(0, 8)}`,
  });
  const high: number[] = [];
  for (let p = 0; p < partitions; p++) high.push((await reader.queryWatermarks(topic, p)).high);
  const committed = await committedOffsets(group, topic, partitions);
  const lag = high.map((h, p) => h - Math.max(0, committed[p]));
  const logs = runs.map((r, i) => `--- ${"ab"[i]}:\n${r.stderr.slice(-4000)}`).join("\n");
  assertEquals(
    lag,
    Array(partitions).fill(0),
    `lag left behind (committed ${committed}):\n${logs}`,
  );
  return high;
}

Deno.test("two record processors started 3 s apart with --exit-when-idle both exit 0 and leave no lag", async () => {
  const PARTITIONS = 4;
  await withTopic(PARTITIONS, async (topic) => {
    // Records in partitions 0 and 1 only, two batches of 6 s each: the partitions the first
    // process keeps are caught up at once, those it gives up take it 6 s to let go of.
    const { events, group } = await prepareRecordRun(topic, 2, 20);
    const [ra, rb] = await twoProcesses("tests/fixtures/recording_record_processor.ts", (run) => [
      ...["--topic", topic, "--group", group, "--events-file", events, "--run-id", run],
      ...["--max-batch", "10", "--sleep-ms", "6000", "--exit-when-idle", "2"],
      ...FAST_GROUP,
    ]);
    assertEquals(ra.code, 0, `a:\n${ra.stderr}`);
    assertEquals(rb.code, 0, `b:\n${rb.stderr}`);
    const high = await assertNoLag(group, topic, PARTITIONS, [ra, rb]);
    assertEquals(high, [20, 20, 0, 0]);
  });
});

function files(count: number, prefix: string): TestFile[] {
  return [...Array(count).keys()].map((i) => ({
    path: `${prefix}/file-${i}.dat`,
    bytes: testBytes(3000 + (i * 4099) % 20_000, i + 900),
  }));
}

/** The arguments of a file processor run: one worker, `sleepMs` in every `process` call. */
function fileArgs(topic: string, group: string, out: string, run: string, sleepMs: number) {
  return [
    ...processorArgs(topic, out, group),
    ...["--workers", "1", "--sleep-ms", String(sleepMs), "--run-id", run],
    ...["--exit-when-idle", "2"],
    ...FAST_GROUP,
  ];
}

/**
 * Runs two file processors of `group` 3 s apart ({@linkcode fileArgs}, 500 ms per file), each
 * with an output folder of its own; both must exit 0.
 */
async function twoFileProcessors(topic: string, group: string) {
  const out = { a: await Deno.makeTempDir(), b: await Deno.makeTempDir() };
  const [ra, rb] = await twoProcesses(
    "tests/fixtures/recording_processor.ts",
    (run) => fileArgs(topic, group, out[run as "a" | "b"], run, 500),
  );
  assertEquals(ra.code, 0, `a:\n${ra.stderr}`);
  assertEquals(rb.code, 0, `b:\n${rb.stderr}`);
  return { ra, rb, out };
}

Deno.test("two file processors started 3 s apart with --exit-when-idle both exit 0, every file processed, no lag", async () => {
  const PARTITIONS = 4;
  await withTopic(PARTITIONS, async (topic) => {
    const group = `idle-${crypto.randomUUID().slice(0, 8)}`;
    // Files in partitions 0 and 1 only, half a second each.
    const all = files(16, "idle");
    await putFiles(topic, all, { partitions: 2 });
    const { ra, rb, out } = await twoFileProcessors(topic, group);
    const calls = [...await readCalls(out.a), ...await readCalls(out.b)];
    assertEquals(new Set(calls.map((c) => c.path)), new Set(all.map((f) => f.path)));
    await assertNoLag(group, topic, PARTITIONS, [ra, rb]);
  });
});

Deno.test("a file processor the group gives nothing exits 0 once the other one owns every partition", async () => {
  await withTopic(1, async (topic) => {
    const group = `idle-one-${crypto.randomUUID().slice(0, 8)}`;
    // 10 s of work for a, which keeps the one partition; b owns nothing from its start.
    const all = files(20, "one");
    await putFiles(topic, all, { partitions: 1 });
    const { ra, rb, out } = await twoFileProcessors(topic, group);
    assert(
      rb.endedAt < ra.endedAt,
      "b, with nothing assigned, exits while a still works (not once the partition is its own)",
    );
    assertEquals((await readCalls(out.b)).length, 0, "b never owned the partition");
    assertEquals(
      new Set((await readCalls(out.a)).map((c) => c.path)),
      new Set(all.map((f) => f.path)),
    );
    await assertNoLag(group, topic, 1, [ra, rb]);
  });
});
