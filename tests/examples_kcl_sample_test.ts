/**
 * `examples/kcl_sample.ts` run as its doc comment tells a user to run it, against the test
 * broker, on a topic with records in 2 partitions: nothing is checkpointed before
 * `--checkpoint-seconds` has passed, SIGTERM exits 0 after the checkpoint of `shutdownRequested`
 * (the group's offsets are then the high watermarks), a restart handles every later record
 * once and nothing before that checkpoint again; with `--checkpoint-seconds 1` the committed
 * offsets grow while it runs.
 */

import { Consumer } from "../src/kafka/mod.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { BOOTSTRAP, withTopic } from "./support/broker.ts";
import { runProcessor, startProcessor, stopProcessor, waitUntil } from "./support/processor.ts";
import { committedOffsets, putRecords } from "./support/records.ts";

const SCRIPT = "examples/kcl_sample.ts";

/** One line of `--out`: `partition<TAB>offset<TAB>key<TAB>value`, key and value as JSON. */
interface Handled {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
}

async function readOut(file: string): Promise<Handled[]> {
  const text = await Deno.readTextFile(file);
  return text.split("\n").filter((line) => line !== "").map((line) => {
    const [partition, offset, key, value] = line.split("\t");
    return {
      partition: Number(partition),
      offset: Number(offset),
      key: JSON.parse(key),
      value: JSON.parse(value),
    };
  });
}

/**
 * Checks that the lines of `--out` hold every record `putRecords` wrote for i in [0, count) in
 * both partitions exactly once, with its key and value.
 */
function assertEachOnce(lines: Handled[], count: number): void {
  const seen = new Map<string, number>();
  for (const line of lines) {
    const i = line.offset; // putRecords writes record i at offset i of a fresh topic
    assertEquals(
      { key: line.key, value: line.value },
      { key: `k${i % 7}`, value: `p${line.partition}-${i}` },
      `the line for partition ${line.partition} offset ${i}`,
    );
    const where = `${line.partition}/${line.offset}`;
    seen.set(where, (seen.get(where) ?? 0) + 1);
  }
  const twice = [...seen].filter(([, n]) => n > 1).map(([where]) => where);
  assertEquals(twice, [], "records handled more than once");
  const missing: string[] = [];
  for (const p of [0, 1]) {
    for (let i = 0; i < count; i++) if (!seen.has(`${p}/${i}`)) missing.push(`${p}/${i}`);
  }
  assertEquals(missing, [], "records never handled");
  assertEquals(lines.length, 2 * count, "lines in --out");
}

async function highWatermarks(topic: string): Promise<number[]> {
  await using reader = new Consumer({
    "bootstrap.servers": BOOTSTRAP,
    "group.id": `watermarks-${crypto.randomUUID().slice(0, 8)}`,
  });
  return [
    (await reader.queryWatermarks(topic, 0)).high,
    (await reader.queryWatermarks(topic, 1)).high,
  ];
}

Deno.test("examples/kcl_sample.ts checkpoints in shutdownRequested on SIGTERM; a restart handles nothing twice", async () => {
  await withTopic(2, async (topic) => {
    const out = await Deno.makeTempFile({ suffix: ".tsv" });
    const group = `kcl-sample-${crypto.randomUUID().slice(0, 8)}`;
    const args = ["--topic", topic, "--group", group, "--out", out, "--max-batch", "7"];
    await putRecords(topic, 2, 40);

    const started = startProcessor(SCRIPT, args, { timeoutMs: 60_000 });
    await waitUntil(async () => (await readOut(out)).length >= 80, "80 records handled", 30_000);
    // The default --checkpoint-seconds is 60: nothing is committed yet.
    assertEquals(await committedOffsets(group, topic, 2), [-1001, -1001], "before the stop");
    await stopProcessor(started); // SIGTERM, exit 0
    assertEachOnce(await readOut(out), 40);
    const high = await highWatermarks(topic);
    assertEquals(high, [40, 40]);
    assertEquals(await committedOffsets(group, topic, 2), high, "after the stop");

    // The restart goes on after the checkpoint: 25 more records each, nothing before again.
    await putRecords(topic, 2, 25, { first: 40 });
    const run = await runProcessor(SCRIPT, [...args, "--exit-when-idle", "1"], 60_000);
    assertEquals(run.code, 0, run.stderr);
    assertEachOnce(await readOut(out), 65);
    assertEquals(await committedOffsets(group, topic, 2), [65, 65], "after the idle exit");
  });
});

Deno.test("examples/kcl_sample.ts with --checkpoint-seconds 1 commits periodically while it runs", async () => {
  await withTopic(2, async (topic) => {
    const out = await Deno.makeTempFile({ suffix: ".tsv" });
    const group = `kcl-sample-${crypto.randomUUID().slice(0, 8)}`;
    const args = ["--topic", topic, "--group", group, "--out", out, "--checkpoint-seconds", "1"];
    await putRecords(topic, 2, 10);
    const started = startProcessor(SCRIPT, args, { timeoutMs: 60_000 });
    await waitUntil(async () => (await readOut(out)).length >= 20, "20 records handled", 30_000);
    let previous = await committedOffsets(group, topic, 2);
    const seen = [previous];
    // Three more waves, each more than a second after the last checkpoint: each moves the
    // committed offsets of both partitions forward, while the process runs.
    for (let wave = 1; wave <= 3; wave++) {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await putRecords(topic, 2, 10, { first: 10 * wave });
      const total = 10 * (wave + 1);
      await waitUntil(async () => (await readOut(out)).length >= 2 * total, `${total} each`);
      const before = previous;
      await waitUntil(
        async () => {
          previous = await committedOffsets(group, topic, 2);
          return previous.every((offset, p) => offset > before[p]);
        },
        `a periodic checkpoint past ${before} in wave ${wave}`,
        10_000,
      );
      seen.push(previous);
      assert(previous.every((offset) => offset <= total), `committed ${previous} of ${total}`);
    }
    await stopProcessor(started);
    assertEachOnce(await readOut(out), 40);
    assertEquals(
      await committedOffsets(group, topic, 2),
      [40, 40],
      `after the stop (${seen.join(" → ")})`,
    );
  });
});
