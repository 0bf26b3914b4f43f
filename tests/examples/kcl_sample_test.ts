/**
 * `examples/kcl_sample.ts` run as its doc comment tells a user to run it, against the test
 * broker, on a topic with records in 2 partitions: nothing is checkpointed before
 * `--checkpoint-seconds` has passed, SIGTERM exits 0 after the checkpoint of `shutdownRequested`
 * (the group's offsets are then the high watermarks), a restart handles every later record
 * once and nothing before that checkpoint again; with `--checkpoint-seconds 1` the committed
 * offsets grow while it runs.
 */

import { Consumer } from "../../src/kafka/mod.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, committedOffsets, withTopic } from "../support/broker.ts";
import { runProcessor, startProcessor, stopProcessor } from "../support/processor.ts";
import { putRecords } from "../support/records.ts";
import { sleep, waitUntil } from "../support/wait.ts";

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
  // Only whole lines: the processor may be writing the last one while this reads.
  const lines = text.split("\n").slice(0, -1);
  return lines.filter((line) => line !== "").map((line) => {
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
 * Checks that the lines of `--out` hold, for each partition p, the records `putRecords` wrote
 * for i in [0, counts[p]) exactly once each, with their keys and values, and nothing else.
 */
function assertEachOnce(lines: Handled[], counts: readonly number[]): void {
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
  counts.forEach((count, p) => {
    for (let i = 0; i < count; i++) if (!seen.has(`${p}/${i}`)) missing.push(`${p}/${i}`);
  });
  assertEquals(missing.slice(0, 20), [], `records never handled (${missing.length})`);
  assertEquals(lines.length, counts[0] + counts[1], "lines in --out");
}

/** How many lines of `--out` each partition has. */
function linesPerPartition(lines: Handled[]): number[] {
  return [0, 1].map((p) => lines.filter((line) => line.partition === p).length);
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
    const args = ["--topic", topic, "--group", group, "--out", out, "--max-batch", "3"];
    const count = 5_000;
    await putRecords(topic, 2, count);

    // SIGTERM while records are being handled (measured: a few hundred of the 10 000 are done
    // by then): the running batches end, shutdownRequested checkpoints what was handled.
    const first = startProcessor(SCRIPT, args, { timeoutMs: 60_000 });
    // Both partitions at work, so that each has something for shutdownRequested to commit.
    await waitUntil(
      async () => linesPerPartition(await readOut(out)).every((n) => n >= 50),
      "50 records handled on each partition",
      30_000,
    );
    // The default --checkpoint-seconds is 60: nothing is committed before the stop.
    assertEquals(await committedOffsets(group, topic, 2), [-1001, -1001], "before the stop");
    await stopProcessor(first); // exit 0
    const handled = linesPerPartition(await readOut(out));
    assertEachOnce(await readOut(out), handled);
    assertEquals(await committedOffsets(group, topic, 2), handled, "after the first stop");

    // Again until everything is handled, then SIGTERM: the offsets are the high watermarks.
    // (The first run may have handled everything already: the second is stopped once it has
    // its partitions, not while it starts.)
    let secondLog = "";
    const second = startProcessor(SCRIPT, args, {
      timeoutMs: 60_000,
      onStderr: (text) => secondLog += text,
    });
    await waitUntil(
      async () =>
        /Partitions [\d, ]+ of \S+ assigned/.test(secondLog) &&
        (await readOut(out)).length >= 2 * count,
      `${2 * count} records handled and the second run's partitions assigned`,
      30_000,
    );
    assertEquals(await committedOffsets(group, topic, 2), handled, "before the second stop");
    await stopProcessor(second);
    assertEachOnce(await readOut(out), [count, count]);
    const high = await highWatermarks(topic);
    assertEquals(high, [count, count]);
    assertEquals(await committedOffsets(group, topic, 2), high, "after the second stop");

    // The restart goes on after the checkpoint: 25 more records each, nothing before again.
    await putRecords(topic, 2, 25, { first: count });
    const run = await runProcessor(SCRIPT, [...args, "--exit-when-idle", "1"], 60_000);
    assertEquals(run.code, 0, run.stderr);
    assertEachOnce(await readOut(out), [count + 25, count + 25]);
    assertEquals(await committedOffsets(group, topic, 2), [count + 25, count + 25], "at the end");
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
      await sleep(1_500);
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
    assertEachOnce(await readOut(out), [40, 40]);
    assertEquals(
      await committedOffsets(group, topic, 2),
      [40, 40],
      `after the stop (${seen.join(" → ")})`,
    );
  });
});
