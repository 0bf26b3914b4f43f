/**
 * Record processors in a consumer group, against the real broker: a cooperative revoke moves
 * partitions between two processes (shutdown "revoked", the new owner starts at the last
 * checkpoint), a session timeout forced with SIGSTOP loses the assignment (shutdown "lost",
 * checkpoint throws and commits nothing), and a batch longer than `max.poll.interval.ms` does
 * not cost the process its place in the group.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { committedOffsets, withTopic } from "../support/broker.ts";
import {
  explainingFailure,
  FAST_GROUP,
  startProcessor,
  stopProcessor,
  TEST_GROUP_PROTOCOL,
} from "../support/processor.ts";
import {
  deliveredOffsets,
  prepareRecordRun,
  range,
  readEvents,
  type RecordEvent,
} from "../support/records.ts";
import { sleep, waitUntil } from "../support/wait.ts";

const SCRIPT = "tests/fixtures/recording_record_processor.ts";
/** No run of these tests takes longer. */
const LIMIT = { timeoutMs: 120_000 };

function args(topic: string, group: string, events: string, ...more: string[]): string[] {
  return ["--topic", topic, "--group", group, "--events-file", events, ...FAST_GROUP, ...more];
}

/** The kinds of the "Partitions <names> of <topic> <kind>" lines, in order. */
function rebalances(stderr: string): string[] {
  return [...stderr.matchAll(/ Partitions [\d, ]+ of \S+ (assigned|revoked|lost)\b/g)].map((m) =>
    m[1]
  );
}

function names(events: RecordEvent[]): string[] {
  return events.map((e) => e.event === "shutdown" ? `shutdown ${e.detail}` : e.event)
    .filter((name) => name !== "records" && name !== "checkpoint");
}

// The classic protocol's two kinds of rebalance; with the consumer protocol (KIP-848) the broker
// assigns, incrementally, and librdkafka refuses partition.assignment.strategy.
const ASSIGNMENTS: readonly (readonly [string, string | undefined])[] =
  TEST_GROUP_PROTOCOL === "consumer"
    ? [["consumer-protocol", undefined]]
    : [["cooperative", "cooperative-sticky"], ["eager", "range"]];
for (const [protocol, strategy] of ASSIGNMENTS) {
  Deno.test(`${protocol} revoke: a partition moves to a second process after the first's last checkpoint`, async () => {
    const PARTITIONS = 4;
    const COUNT = 80;
    await withTopic(PARTITIONS, async (topic) => {
      const { events, group: g } = await prepareRecordRun(topic, PARTITIONS, COUNT);
      // Slow batches, so that a still has work when b joins.
      const slow = [
        ...["--max-batch", "5", "--sleep-ms", "200", "--exit-when-idle", "3"],
        ...strategy === undefined ? [] : ["-X", `partition.assignment.strategy=${strategy}`],
      ];
      const a = startProcessor(
        SCRIPT,
        [...args(topic, g, events, ...slow), "--run-id", "a"],
        LIMIT,
      );
      await waitUntil(
        async () => (await readEvents(events)).filter((e) => e.event === "checkpoint").length >= 4,
        "a's first checkpoints",
      );
      const b = startProcessor(
        SCRIPT,
        [...args(topic, g, events, ...slow), "--run-id", "b"],
        LIMIT,
      );
      const [ra, rb] = await Promise.all([a.result, b.result]);
      assertEquals(ra.code, 0, ra.stderr);
      assertEquals(rb.code, 0, rb.stderr);
      const all = await readEvents(events);
      let moved = 0;
      for (let p = 0; p < PARTITIONS; p++) {
        const mine = all.filter((e) => e.partition === p);
        const seen = new Set(deliveredOffsets(mine));
        assertEquals(seen.size, COUNT, `partition ${p}: no record skipped`);
        // Every revoke: the instance ran initialize → records* → shutdownRequested → shutdown
        // revoked, and the partition's next instance (in a or b) starts at its last checkpoint.
        for (let i = 0; i < mine.length; i++) {
          if (mine[i].event !== "shutdown" || mine[i].detail !== "revoked") continue;
          const run = mine[i].run;
          const before = mine.slice(0, i + 1).filter((e) => e.run === run);
          const init = before.findLastIndex((e) => e.event === "initialize");
          const instance = before.slice(init);
          assertEquals(names(instance), ["initialize", "shutdownRequested", "shutdown revoked"]);
          const lastCheckpoint = Math.max(
            ...before.filter((e) => e.event === "checkpoint").map((e) => Number(e.detail)),
          );
          const fromInstance = deliveredOffsets(instance);
          if (fromInstance.length > 0) {
            assertEquals(Math.max(...fromInstance) + 1, lastCheckpoint, `partition ${p}: all`);
          }
          const next = mine.slice(i + 1).findIndex((e) => e.event === "initialize");
          if (next < 0) continue;
          const nextRun = mine[i + 1 + next].run;
          assertEquals(mine[i + 1 + next].detail, String(lastCheckpoint), `partition ${p}: next`);
          const after = deliveredOffsets(mine.slice(i + 1 + next).filter((e) => e.run === nextRun));
          assertEquals(after[0], lastCheckpoint, `partition ${p}: resumes right there`);
          const twice = after.filter((o) => deliveredOffsets(before).includes(o));
          assert(
            twice.every((o) => o >= lastCheckpoint),
            `partition ${p}: duplicates only after the last checkpoint: ${twice}`,
          );
          if (run === "a" && nextRun === "b") moved++;
        }
      }
      assert(moved >= 1, `a partition moved from a to b while a was running: ${moved}`);
      assertEquals(await committedOffsets(g, topic, PARTITIONS), Array(PARTITIONS).fill(COUNT));
    });
  });
}

Deno.test("lost (session timeout forced with SIGSTOP): shutdown lost, checkpoint throws and commits nothing", async () => {
  await withTopic(1, async (topic) => {
    const { events, group: g } = await prepareRecordRun(topic, 1, 20);
    const { child, result } = startProcessor(SCRIPT, [
      ...args(topic, g, events, "--no-checkpoint", "--checkpoint-in-shutdown"),
      "--run-id",
      "a",
    ], LIMIT);
    await explainingFailure([{ child, result }], async () => {
      await waitUntil(
        async () => deliveredOffsets(await readEvents(events)).length === 20,
        "all records",
      );
      child.kill("SIGSTOP");
      await sleep(9000); // > session.timeout.ms
      child.kill("SIGCONT");
      await waitUntil(
        async () => (await readEvents(events)).some((e) => e.event === "shutdown"),
        "the loss to be noticed",
      );
      assertEquals(
        await committedOffsets(g, topic, 1),
        [-1001],
        "the lost instance committed nothing",
      );
      // The partition comes back, from the last checkpoint (none: the beginning).
      await waitUntil(
        async () => deliveredOffsets(await readEvents(events)).length === 40,
        "the records again",
      );
    });
    await stopProcessor({ child, result });
    const all = await readEvents(events);
    assertEquals(
      all.filter((e) => e.event !== "records").map((e) => `${e.event} ${e.detail}`.trim()),
      [
        "initialize none",
        "shutdown lost",
        "shutdown-checkpoint lost",
        "initialize none",
        "shutdownRequested",
        "shutdown stopped",
        "shutdown-checkpoint ok",
      ],
    );
    assertEquals(deliveredOffsets(all), [...range(0, 20), ...range(0, 20)]);
    assertEquals(await committedOffsets(g, topic, 1), [20], "the new instance could");
  });
});

Deno.test("a batch longer than max.poll.interval.ms keeps the process in its group", async () => {
  await withTopic(1, async (topic) => {
    const { events, group: g } = await prepareRecordRun(topic, 1, 20);
    const { child, result } = startProcessor(SCRIPT, [
      ...args(topic, g, events, "--max-batch", "10", "--sleep-ms", "8000"),
      "-X",
      "max.poll.interval.ms=6000",
      "--run-id",
      "a",
    ], LIMIT);
    await waitUntil(
      async () => (await readEvents(events)).filter((e) => e.event === "checkpoint").length === 2,
      "both slow batches",
      60_000,
    );
    const run = await stopProcessor({ child, result });
    assertEquals(
      // The records' range, count and messages behind (not the ms behind: timing).
      (await readEvents(events)).map((e) =>
        `${e.event} ${e.event === "records" ? e.detail.split(" ").slice(0, 3).join(" ") : e.detail}`
          .trim()
      ),
      [
        "initialize none",
        "records 0-9 10 10",
        "checkpoint 10",
        "records 10-19 10 0",
        "checkpoint 20",
        "shutdownRequested",
        "shutdown stopped",
      ],
    );
    // Assigned once, taken away only by the stop.
    assertEquals(rebalances(run.stderr), ["assigned", "revoked"]);
  });
});

Deno.test("backpressure: a slow processRecords pauses its partition's fetching instead of buffering it all", async () => {
  await withTopic(1, async (topic) => {
    // 48 MiB in one partition, more than the 32 MiB a partition may have buffered.
    const { events, group: g } = await prepareRecordRun(topic, 1, 4800, { valueBytes: 10 * 1024 });
    const { child, result } = startProcessor(SCRIPT, [
      ...args(topic, g, events, "--max-batch", "10", "--sleep-ms", "1000"),
      "--log-level",
      "debug",
      "--run-id",
      "a",
    ], LIMIT);
    await waitUntil(
      async () => (await readEvents(events)).filter((e) => e.event === "checkpoint").length >= 3,
      "three slow batches",
    );
    const run = await stopProcessor({ child, result });
    const paused = run.stderr.match(/Paused \S+: (\d+) records, (\d+) bytes buffered/);
    assert(paused, `fetching was paused:\n${run.stderr.slice(-3000)}`);
    assert(Number(paused[2]) < 40 * 1024 * 1024, `bounded: ${paused[0]}`);
    assertEquals(rebalances(run.stderr), ["assigned", "revoked"]);
  });
});
