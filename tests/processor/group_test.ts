/**
 * Several processes in one consumer group on a Ferry-written topic (each file in one
 * partition) split the work: every file exactly once when nothing crashes, at least once when
 * one of them is killed.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { putFiles, type TestFile } from "../support/chunks.ts";
import {
  FAST_GROUP,
  killIfRunning,
  processorArgs,
  readCalls,
  startProcessor,
} from "../support/processor.ts";
import { sleep } from "../support/wait.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";
const PARTITIONS = 4;

function files(count: number): TestFile[] {
  return [...Array(count).keys()].map((i) => ({
    path: `shared/file-${i}.dat`,
    bytes: testBytes(2000 + (i * 4099) % 30_000, i + 500),
  }));
}

function common(topic: string, out: string, group: string): string[] {
  return [
    ...processorArgs(topic, out, group),
    "--workers",
    "2",
    "--exit-when-idle",
    "3",
    ...FAST_GROUP,
  ];
}

Deno.test("two processes in one group process every file exactly once together", async () => {
  await withTopic(PARTITIONS, async (topic) => {
    const group = `pair-${crypto.randomUUID().slice(0, 8)}`;
    const outA = await Deno.makeTempDir();
    const outB = await Deno.makeTempDir();
    // Both join before any data arrives; then the files come while both are running.
    const a = startProcessor(SCRIPT, [
      ...common(topic, outA, group),
      "--run-id",
      "a",
      "--exit-when-idle",
      "8",
    ]);
    const b = startProcessor(SCRIPT, [
      ...common(topic, outB, group),
      "--run-id",
      "b",
      "--exit-when-idle",
      "8",
    ]);
    await sleep(4000);
    const all = files(80);
    await putFiles(topic, all, { partitions: PARTITIONS });
    const [ra, rb] = await Promise.all([a.result, b.result]);
    assertEquals(ra.code, 0, ra.stderr);
    assertEquals(rb.code, 0, rb.stderr);
    const callsA = await readCalls(outA);
    const callsB = await readCalls(outB);
    assert(
      callsA.length > 0 && callsB.length > 0,
      `both worked: ${callsA.length}/${callsB.length}`,
    );
    const paths = [...callsA, ...callsB].map((c) => c.path);
    assertEquals(paths.length, all.length, "exactly once");
    assertEquals(new Set(paths), new Set(all.map((f) => f.path)));
  });
});

Deno.test("when one of two processes is killed, the other takes over: every file at least once", async () => {
  await withTopic(PARTITIONS, async (topic) => {
    const group = `pair-kill-${crypto.randomUUID().slice(0, 8)}`;
    const outA = await Deno.makeTempDir();
    const outB = await Deno.makeTempDir();
    const all = files(120);
    await putFiles(topic, all, { partitions: PARTITIONS });
    // a waits longer than the session timeout before calling itself idle, so that it is
    // still there when the group hands it b's partitions. It is slower than b, so that the
    // partitions b is given still hold files when b gets them (with the consumer protocol, b
    // gets them from a only at their heartbeats, after a has read them for a while).
    const a = startProcessor(SCRIPT, [
      ...common(topic, outA, group),
      "--run-id",
      "a",
      "--sleep-ms",
      "150",
      "--exit-when-idle",
      "10",
    ]);
    const b = startProcessor(SCRIPT, [
      ...common(topic, outB, group),
      "--run-id",
      "b",
      "--sleep-ms",
      "40",
    ]);
    // Kill b once it has processed some files.
    const deadline = Date.now() + 30_000;
    while ((await readCalls(outB)).length < 10 && Date.now() < deadline) {
      await sleep(20);
    }
    killIfRunning(b.child);
    const rb = await b.result;
    assertEquals(rb.code, 137, `b should still have been running when killed:\n${rb.stderr}`);
    const ra = await a.result;
    assertEquals(ra.code, 0, ra.stderr);
    const paths = new Set([...await readCalls(outA), ...await readCalls(outB)].map((c) => c.path));
    assertEquals(paths, new Set(all.map((f) => f.path)), "every file at least once");
    // a finished the rest (maybe repeating some of b's unrecorded files), and stayed idle-exitable.
    assert((await readCalls(outA)).length >= all.length - (await readCalls(outB)).length);
  });
});
