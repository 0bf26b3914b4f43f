/**
 * `defineRecordProcessor` run as a user runs it (a child `deno run` of
 * `tests/fixtures/recording_record_processor.ts`) against the real broker: the lifecycle on
 * assignment and stop, checkpoints (given, rejected, automatic), `kill -9` and restart, and the
 * error policies.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, committedOffsets, uniqueName, withTopic } from "../support/broker.ts";
import { FAST_GROUP, runProcessor, startProcessor, stopProcessor } from "../support/processor.ts";
import {
  deliveredOffsets,
  prepareRecordRun,
  range,
  readEvents,
  type RecordEvent,
  recordRange,
} from "../support/records.ts";
import { sleep, waitUntil } from "../support/wait.ts";
import { Admin, Consumer } from "../../src/kafka/mod.ts";

const SCRIPT = "tests/fixtures/recording_record_processor.ts";
/** A killed member's place is taken at once by its restart (static membership). */
const RESTARTABLE = [
  ...FAST_GROUP,
  "-X",
  `group.instance.id=restart-${crypto.randomUUID().slice(0, 8)}`,
];

function group(): string {
  return `records-${crypto.randomUUID().slice(0, 8)}`;
}

function args(topic: string, group: string, events: string, ...more: string[]): string[] {
  return ["--topic", topic, "--group", group, "--events-file", events, "--workers", "2", ...more];
}

/** The events of one partition (and run), in order. */
function of(events: RecordEvent[], partition: number, run?: string): RecordEvent[] {
  return events.filter((e) => e.partition === partition && (run === undefined || e.run === run));
}

/** Checks initialize → records* → shutdownRequested → shutdown(reason) for one instance. */
function assertLifecycle(events: RecordEvent[], reason: string): void {
  const names = events.map((e) => e.event).filter((e) => !e.includes("checkpoint"));
  const where = JSON.stringify(events.map((e) => `${e.event} ${e.detail}`));
  assertEquals(names[0], "initialize", where);
  const middle = names.slice(1, reason === "lost" ? -1 : -2);
  assert(middle.every((n) => n === "records"), `only records between: ${where}`);
  if (reason === "lost") assertEquals(names.slice(-1), ["shutdown"], where);
  else assertEquals(names.slice(-2), ["shutdownRequested", "shutdown"], where);
  assertEquals(events.filter((e) => e.event === "shutdown").map((e) => e.detail), [reason], where);
}

Deno.test("assign and idle stop: initialize, batches in offset order with lag, shutdown stopped", async () => {
  await withTopic(2, async (topic) => {
    const { events, group: g } = await prepareRecordRun(topic, 2, 50);
    const run = await runProcessor(
      SCRIPT,
      args(topic, g, events, "--max-batch", "10", "--exit-when-idle", "2"),
    );
    assertEquals(run.code, 0, run.stderr);
    const all = await readEvents(events);
    for (const p of [0, 1]) {
      const mine = of(all, p);
      assertLifecycle(mine, "stopped");
      assertEquals(mine[0].detail, "none", "no committed offset at the start");
      assertEquals(
        deliveredOffsets(mine),
        range(0, 50),
        `partition ${p}: every record once, in order`,
      );
      const batches = mine.filter((e) => e.event === "records");
      assert(batches.every((b) => Number(b.detail.split(" ")[1]) <= 10), "at most --max-batch");
      // Lag: messages behind the end after each batch's last record.
      const last = batches[batches.length - 1];
      assertEquals(last.detail.split(" ")[2], "0", "the last batch is at the end");
      for (const b of batches) {
        const behind = b.detail.split(" ")[2];
        if (behind !== "undefined") assertEquals(Number(behind), 49 - recordRange(b)[1]);
      }
    }
    assertEquals(await committedOffsets(g, topic, 2), [50, 50]);
  });
});

Deno.test("SIGTERM: shutdownRequested then shutdown stopped, which may checkpoint; exit 0", async () => {
  await withTopic(2, async (topic) => {
    const { events, group: g } = await prepareRecordRun(topic, 2, 30);
    const { child, result } = startProcessor(
      SCRIPT,
      args(topic, g, events, "--no-checkpoint", "--checkpoint-in-shutdown"),
    );
    await waitUntil(
      async () => deliveredOffsets(await readEvents(events)).length === 60,
      "every record delivered",
    );
    assertEquals(await committedOffsets(g, topic, 2), [-1001, -1001], "no checkpoint yet");
    await stopProcessor({ child, result });
    const all = await readEvents(events);
    for (const p of [0, 1]) {
      assertLifecycle(of(all, p), "stopped");
      assertEquals(
        of(all, p).filter((e) => e.event === "shutdown-checkpoint").map((e) => e.detail),
        ["ok"],
      );
    }
    assertEquals(await committedOffsets(g, topic, 2), [30, 30]);
  });
});

Deno.test("a checkpoint backwards or past what was delivered is rejected with a typed error", async () => {
  await withTopic(1, async (topic) => {
    const { events, group: g } = await prepareRecordRun(topic, 1, 20);
    const run = await runProcessor(
      SCRIPT,
      args(topic, g, events, "--bad-checkpoints", "--max-batch", "10", "--exit-when-idle", "2"),
    );
    assertEquals(run.code, 0, run.stderr);
    const all = await readEvents(events);
    assertEquals(all.filter((e) => e.event === "bad-checkpoint-accepted"), []);
    const rejected = all.filter((e) => e.event === "bad-checkpoint-rejected");
    assert(rejected.length >= 2, JSON.stringify(all));
    assert(rejected.every((e) => e.detail.endsWith(" invalid")), JSON.stringify(rejected));
    assertEquals(await committedOffsets(g, topic, 1), [20], "good checkpoints still count");
  });
});

Deno.test("kill -9 mid-run: the restart resumes right after the last checkpoint", async () => {
  await withTopic(2, async (topic) => {
    const { events, group: g } = await prepareRecordRun(topic, 2, 60);
    const common = args(topic, g, events, "--max-batch", "5", "--sleep-ms", "150", ...RESTARTABLE);
    const first = startProcessor(SCRIPT, [...common, "--run-id", "a"]);
    await waitUntil(async () => {
      const now = await readEvents(events);
      return [0, 1].every((p) => of(now, p).filter((e) => e.event === "checkpoint").length >= 2);
    }, "two checkpoints per partition");
    first.child.kill("SIGKILL");
    assertEquals((await first.result).code, 137);
    const committed = await committedOffsets(g, topic, 2);
    const before = await readEvents(events);
    for (const p of [0, 1]) {
      assert(committed[p] > 0 && committed[p] < 60, `partition ${p} half done: ${committed}`);
      const logged = of(before, p).filter((e) => e.event === "checkpoint").map((e) =>
        Number(e.detail)
      );
      assert(committed[p] >= Math.max(...logged), "no checkpoint was lost");
      assert(of(before, p).every((e) => e.event !== "shutdown"), "kill -9 runs no shutdown");
    }
    const second = await runProcessor(SCRIPT, [
      ...common.filter((a) => a !== "--sleep-ms" && a !== "150"),
      "--run-id",
      "b",
      "--exit-when-idle",
      "2",
    ]);
    assertEquals(second.code, 0, second.stderr);
    const all = await readEvents(events);
    for (const p of [0, 1]) {
      const again = of(all, p, "b");
      assertLifecycle(again, "stopped");
      assertEquals(again[0].detail, String(committed[p]), "initialize gets the committed offset");
      assertEquals(deliveredOffsets(again), range(committed[p], 60), "resumes right after it");
    }
    assertEquals(await committedOffsets(g, topic, 2), [60, 60]);
  });
});

Deno.test("automatic checkpoints every N records, and at a graceful stop", async () => {
  await withTopic(1, async (topic) => {
    const { events, group: g } = await prepareRecordRun(topic, 1, 50);
    const common = args(topic, g, events, "--no-checkpoint", "--max-batch", "10", ...RESTARTABLE);
    const { child, result } = startProcessor(SCRIPT, [
      ...common,
      "--checkpoint-every-records",
      "20",
    ]);
    await waitUntil(
      async () => deliveredOffsets(await readEvents(events)).length === 50,
      "all records",
    );
    // processRecords of the last batch returned once the next event can be written; give the
    // automatic checkpoint after it a moment, then kill without a graceful stop.
    await sleep(1500);
    child.kill("SIGKILL");
    await result;
    const batches = (await readEvents(events)).filter((e) => e.event === "records");
    // Expected: a checkpoint after each batch that brought the count since the last one to 20.
    let since = 0;
    let expected = -1001;
    for (const b of batches) {
      const [first, last] = recordRange(b);
      since += last - first + 1;
      if (since >= 20) {
        expected = last + 1;
        since = 0;
      }
    }
    assert(expected >= 20, JSON.stringify(batches));
    assertEquals(await committedOffsets(g, topic, 1), [expected]);
    // A graceful stop checkpoints the rest.
    const again = await runProcessor(SCRIPT, [
      ...common,
      "--checkpoint-every-records",
      "1000",
      "--exit-when-idle",
      "2",
      "--run-id",
      "b",
    ]);
    assertEquals(again.code, 0, again.stderr);
    assertEquals(await committedOffsets(g, topic, 1), [50]);
  });
});

Deno.test("automatic checkpoints every T seconds without any call from the processor", async () => {
  await withTopic(1, async (topic) => {
    const { events, group: g } = await prepareRecordRun(topic, 1, 40);
    const { child, result } = startProcessor(
      SCRIPT,
      args(
        topic,
        g,
        events,
        "--no-checkpoint",
        "--max-batch",
        "5",
        "--sleep-ms",
        "250",
        "--checkpoint-every-seconds",
        "0.5",
      ),
    );
    // Mid-run (a later batch still to come), a time-based checkpoint has been made.
    await waitUntil(
      async () => deliveredOffsets(await readEvents(events)).length >= 25,
      "records 0-24 delivered",
    );
    const [committed] = await committedOffsets(g, topic, 1);
    child.kill("SIGKILL");
    await result;
    assert(committed >= 5 && committed % 5 === 0, `committed ${committed}`);
  });
});

/** Runs the recording processor on a topic whose partition 0 has a poison record at 15. */
async function runPoisoned(
  topic: string,
  g: string,
  events: string,
  ...more: string[]
): Promise<{ code: number; stderr: string }> {
  return await runProcessor(
    SCRIPT,
    args(topic, g, events, "--max-batch", "10", "--fail-offset", "15", "--retries", "2", ...more),
  );
}

/** The first offsets of the batches of one partition, in order (`10-19 ...` gives `10-19`). */
function batchRanges(events: RecordEvent[], partition: number): string[] {
  return of(events, partition).filter((e) => e.event === "records").map((e) =>
    e.detail.split(" ")[0]
  );
}

/** What a poison record at 15 in the batch 10-19 leads to with 2 attempts: found alone. */
const POISON_SEARCH = [
  "10-19",
  "10-19",
  "10-10",
  "11-11",
  "12-12",
  "13-13",
  "14-14",
  "15-15",
  "15-15",
];

Deno.test("a throwing processRecords, default policy: retried, the bad record found, then the partition stops there; exit 1", async () => {
  await withTopic(2, async (topic) => {
    // Written before the start, so every batch is 10 records: 0-9, 10-19 (poison), 20-29.
    const { events, group: g } = await prepareRecordRun(topic, 2, 30);
    const run = await runPoisoned(topic, g, events, "--exit-when-idle", "2");
    assertEquals(run.code, 1, run.stderr);
    assert(run.stderr.includes("offset 15 is poison"), run.stderr);
    const all = await readEvents(events);
    // Partition 0 has the poison record (partition 1 too: its offset 15 as well), so both stop.
    for (const p of [0, 1]) {
      // Two attempts of the batch, then one record at a time: the good ones are done (and
      // checkpointed), the poison one fails twice, nothing after it runs.
      assertEquals(batchRanges(all, p), ["0-9", ...POISON_SEARCH]);
      assertLifecycle(of(all, p), "stopped");
    }
    assertEquals(await committedOffsets(g, topic, 2), [15, 15], "up to the poison record");
  });
});

Deno.test("a throwing processRecords, exit policy: the process exits 1 without committing the batch", async () => {
  await withTopic(1, async (topic) => {
    const { events, group: g } = await prepareRecordRun(topic, 1, 30);
    const run = await runPoisoned(
      topic,
      g,
      events,
      "--error-policy",
      "exit",
      "--checkpoint-in-shutdown",
    );
    assertEquals(run.code, 1, run.stderr);
    assert(run.stderr.includes("partition 0 at offset 15"), run.stderr);
    assertEquals(await committedOffsets(g, topic, 1), [15], "the poison record is not committed");
  });
});

Deno.test("a throwing processRecords, skip policy: only the bad record goes to the dead-letter topic", async () => {
  await withTopic(1, async (topic) => {
    const deadLetters = uniqueName("ferry-test-dlq");
    {
      await using admin = new Admin({ "bootstrap.servers": BOOTSTRAP });
      await admin.createTopics([{ topic: deadLetters, partitions: 1 }]);
    }
    try {
      const { events, group: g } = await prepareRecordRun(topic, 1, 30, { headers: true });
      const run = await runPoisoned(
        topic,
        g,
        events,
        "--error-policy",
        "skip",
        "--dead-letter-topic",
        deadLetters,
        "--exit-when-idle",
        "2",
      );
      assertEquals(run.code, 0, run.stderr);
      assert(run.stderr.includes("1 skipped"), run.stderr);
      const all = await readEvents(events);
      assertEquals(batchRanges(all, 0), ["0-9", ...POISON_SEARCH, "16-19", "20-29"]);
      assertEquals(await committedOffsets(g, topic, 1), [30]);
      const decoder = new TextDecoder();
      await using reader = new Consumer({ "bootstrap.servers": BOOTSTRAP, "group.id": group() });
      await reader.assign([{ topic: deadLetters, partition: 0, offset: 0 }]);
      const dead = [];
      const deadline = Date.now() + 20_000;
      while (dead.length < 1 && Date.now() < deadline) {
        dead.push(...await reader.poll({ timeoutMs: 500 }));
      }
      await sleep(500);
      dead.push(...await reader.poll({ timeoutMs: 200 }));
      assertEquals(dead.map((m) => decoder.decode(m.value!)), ["p0-15"]);
      for (const m of dead) {
        assertEquals(decoder.decode(m.key!), `k${15 % 7}`);
        const headers = new Map(m.headers.map((h) => [h.key, decoder.decode(h.value!)]));
        assertEquals(headers.get("n"), "15", "the record's own headers are kept");
        assertEquals(headers.get("ferry.source"), `${topic}/0/15`);
        assert(
          headers.get("ferry.error")!.includes("offset 15 is poison"),
          headers.get("ferry.error"),
        );
      }
    } finally {
      await using admin = new Admin({ "bootstrap.servers": BOOTSTRAP });
      await admin.deleteTopics([deadLetters]);
    }
  });
});

Deno.test("progress moves while one batch runs in many processRecords calls", async () => {
  await withTopic(1, async (topic) => {
    // 40 small records arrive as one batch; --max-batch 5 makes 8 calls of 400 ms each.
    const { events, group: g } = await prepareRecordRun(topic, 1, 40);
    const run = await runProcessor(
      SCRIPT,
      args(
        topic,
        g,
        events,
        "--max-batch",
        "5",
        "--sleep-ms",
        "400",
        "--status-interval",
        "1",
        "--exit-when-idle",
        "2",
      ),
    );
    assertEquals(run.code, 0, run.stderr);
    const counts = [...run.stderr.matchAll(/Progress: (\d+) records, lag (\d+)/g)]
      .map((m) => ({ done: Number(m[1]), lag: Number(m[2]) }));
    assert(
      counts.some((c) => c.done > 0 && c.done < 40 && c.lag > 0 && c.done + c.lag === 40),
      `a progress line in the middle of the batch: ${JSON.stringify(counts)}`,
    );
    assertEquals(deliveredOffsets(await readEvents(events)), range(0, 40));
  });
});
