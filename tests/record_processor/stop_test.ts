/**
 * The record processor's stop, checkpoint and failure contract against the real broker, run as
 * a user runs it (a child `deno run` of `tests/fixtures/recording_record_processor.ts`):
 * `processRecords`, `shutdownRequested` and `shutdown` never overlap; a batch that outlives
 * `--stop-grace` commits nothing and is read again; checkpoints check their argument at run
 * time; a failing record is found and skipped alone; the lag a batch is told.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, committedOffsets, withTopic } from "../support/broker.ts";
import {
  FAST_GROUP,
  FAST_GROUP_CONFIG,
  runProcessor,
  startProcessor,
  TEST_GROUP_PROTOCOL,
} from "../support/processor.ts";
import {
  deliveredOffsets,
  prepareRecordRun,
  range,
  readEvents,
  type RecordEvent,
} from "../support/records.ts";
import { waitUntil } from "../support/wait.ts";
import { Consumer, KafkaError } from "../../src/kafka/mod.ts";

const SCRIPT = "tests/fixtures/recording_record_processor.ts";

function args(topic: string, group: string, events: string, ...more: string[]): string[] {
  return ["--topic", topic, "--group", group, "--events-file", events, "--workers", "1", ...more];
}

function names(events: RecordEvent[]): string[] {
  return events.map((e) => e.event);
}

/**
 * Starts the recording processor on a 30-record topic with 10-record batches that sleep
 * `sleepMs`, checkpointing only in shutdown; resolves once a batch started.
 */
async function startSlow(
  topic: string,
  sleepMs: number,
  ...more: string[]
): Promise<{ events: string; group: string; started: ReturnType<typeof startProcessor> }> {
  const { events, group } = await prepareRecordRun(topic, 1, 30);
  const started = startProcessor(
    SCRIPT,
    args(
      topic,
      group,
      events,
      ...["--max-batch", "10", "--sleep-ms", String(sleepMs), "--no-checkpoint"],
      ...["--checkpoint-in-shutdown", "--log-ends", ...more],
    ),
  );
  await waitUntil(async () => names(await readEvents(events)).includes("records"), "a batch");
  return { events, group, started };
}

Deno.test("SIGTERM during a slow batch: shutdownRequested waits for it, then checkpoints it", async () => {
  await withTopic(1, async (topic) => {
    const { events, group, started: { child, result } } = await startSlow(topic, 3000);
    child.kill("SIGTERM");
    const run = await result;
    assertEquals(run.code, 0, run.stderr);
    // The KCL order: the running batch ends, no new one starts, then the shutdown calls.
    assertEquals(
      names(await readEvents(events)),
      [
        "initialize",
        "records",
        "records-end",
        "shutdownRequested",
        "shutdown",
        "shutdown-checkpoint",
      ],
    );
    assertEquals(await committedOffsets(group, topic, 1), [10], "the finished batch only");
  });
});

Deno.test("a batch outliving --stop-grace is given up: no shutdown beside it, nothing committed, read again", async () => {
  await withTopic(1, async (topic) => {
    const { events, group, started: { child, result } } = await startSlow(
      topic,
      20000,
      "--stop-grace",
      "1",
    );
    const signalled = Date.now();
    child.kill("SIGTERM");
    const run = await result;
    const seconds = (Date.now() - signalled) / 1000;
    assert(seconds < 10, `stopped ${seconds} s after SIGTERM with a 1 s grace`);
    assertEquals(run.code, 1, run.stderr);
    assert(run.stderr.includes("still running 1 s after the stop"), run.stderr);
    // The instance's checkpoint in shutdownRequested would have committed the unfinished
    // batch: it is never called beside the batch.
    assertEquals(names(await readEvents(events)), ["initialize", "records"]);
    assertEquals(await committedOffsets(group, topic, 1), [-1001], "nothing committed");
    // The restart reads the unfinished batch again: nothing lost.
    const again = await Deno.makeTempFile();
    const rerun = await runProcessor(
      SCRIPT,
      args(topic, group, again, "--max-batch", "10", "--exit-when-idle", "2"),
    );
    assertEquals(rerun.code, 0, rerun.stderr);
    assertEquals(deliveredOffsets(await readEvents(again)), range(0, 30));
    assertEquals(await committedOffsets(group, topic, 1), [30]);
  });
});

Deno.test("checkpoints to a string, NaN, negative, fractional or future offset are invalid and commit nothing", async () => {
  await withTopic(1, async (topic) => {
    const { events, group } = await prepareRecordRun(topic, 1, 10);
    const run = await runProcessor(
      SCRIPT,
      args(topic, group, events, "--odd-checkpoints", "--no-checkpoint", "--exit-when-idle", "2"),
    );
    assertEquals(run.code, 0, run.stderr);
    const all = await readEvents(events);
    assertEquals(all.filter((e) => e.event === "odd-checkpoint-accepted"), []);
    const rejected = all.filter((e) => e.event === "odd-checkpoint-rejected");
    assertEquals(
      rejected.map((e) => e.detail.split(" ").slice(0, 2).join(" ")),
      [
        '{offset:"2"} invalid',
        '"2" invalid',
        "{offset:NaN} invalid",
        "{offset:-1} invalid",
        "{offset:1.5} invalid",
        "null invalid",
        "{offset:last+5} invalid",
      ],
    );
    // The offending value is quoted in the message.
    assert(rejected[0].detail.includes('at offset "2" (a string)'), rejected[0].detail);
    assertEquals(await committedOffsets(group, topic, 1), [-1001], "nothing committed");
  });
});

Deno.test("a RecordError names the bad record: the records before it run once, skip drops it alone", async () => {
  await withTopic(1, async (topic) => {
    const { events, group } = await prepareRecordRun(topic, 1, 30);
    const run = await runProcessor(
      SCRIPT,
      args(
        topic,
        group,
        events,
        ...["--max-batch", "10", "--fail-offset", "15", "--record-error", "--retries", "2"],
        ...["--error-policy", "skip", "--exit-when-idle", "2"],
      ),
    );
    assertEquals(run.code, 0, run.stderr);
    assert(run.stderr.includes("29 records in"), run.stderr);
    assert(run.stderr.includes("1 skipped"), run.stderr);
    const batches = (await readEvents(events)).filter((e) => e.event === "records")
      .map((e) => e.detail.split(" ")[0]);
    assertEquals(batches, ["0-9", "10-19", "15-19", "16-19", "20-29"]);
    assertEquals(await committedOffsets(group, topic, 1), [30]);
  });
});

Deno.test("lag: messagesBehindLatest and millisBehindLatest against a known backlog", async () => {
  await withTopic(1, async (topic) => {
    // Record i is stamped base + i seconds: 30 records span 29 s.
    const { events, group } = await prepareRecordRun(topic, 1, 30, {
      timestampBase: Date.now() - 3_600_000,
    });
    const run = await runProcessor(
      SCRIPT,
      args(topic, group, events, "--max-batch", "10", "--exit-when-idle", "2"),
    );
    assertEquals(run.code, 0, run.stderr);
    const batches = (await readEvents(events)).filter((e) => e.event === "records")
      .map((e) => e.detail.split(" "));
    assertEquals(batches.map((b) => b[0]), ["0-9", "10-19", "20-29"]);
    // Behind the newest record (29): in records, and in ms between the timestamps (the newest
    // was fetched already, so exact; caught up is 0, however old the records are).
    assertEquals(batches.map((b) => b[2]), ["20", "10", "0"]);
    assertEquals(batches.map((b) => b[3]), ["20000", "10000", "0"]);
  });
});

// The classic protocol lets a newcomer with a member's static identity fence that member; the
// consumer protocol (KIP-848) refuses the newcomer instead (UNRELEASED_INSTANCE_ID).
if (TEST_GROUP_PROTOCOL === "consumer") {
  Deno.test("another process with the same static identity is refused (consumer protocol): the processor keeps its partition and commits", async () => {
    await withTopic(1, async (topic) => {
      const { events, group } = await prepareRecordRun(topic, 1, 20);
      const identity = `refused-${crypto.randomUUID().slice(0, 8)}`;
      const { result } = startProcessor(
        SCRIPT,
        args(
          topic,
          group,
          events,
          ...["--max-batch", "10", "--sleep-ms", "3000", "--exit-when-idle", "3", ...FAST_GROUP],
          ...["-X", `group.instance.id=${identity}`],
        ),
        { timeoutMs: 120_000 },
      );
      await waitUntil(async () => names(await readEvents(events)).includes("records"), "a batch");
      await using impostor = new Consumer({
        "bootstrap.servers": BOOTSTRAP,
        "group.id": group,
        "group.instance.id": identity,
        ...FAST_GROUP_CONFIG,
        "enable.auto.commit": false,
      });
      impostor.subscribe([topic]);
      let refusal: unknown;
      const deadline = Date.now() + 30_000;
      while (refusal === undefined && Date.now() < deadline) {
        try {
          await impostor.poll({ timeoutMs: 100, maxMessages: 1 });
        } catch (error) {
          refusal = error;
        }
      }
      assert(
        refusal instanceof KafkaError && refusal.message.includes("UNRELEASED_INSTANCE_ID"),
        `the impostor is refused: ${refusal}`,
      );
      assertEquals(impostor.assignment().length, 0, "the impostor got nothing");
      const run = await result;
      assertEquals(run.code, 0, run.stderr);
      const all = names(await readEvents(events));
      assertEquals(all.filter((e) => e === "checkpoint-failed"), [], run.stderr);
      assertEquals(await committedOffsets(group, topic, 1), [20], "both batches committed");
    });
  });
}

if (TEST_GROUP_PROTOCOL === "classic") {
  Deno.test("fenced by another process with the same static identity: the checkpoint is lost, nothing committed", async () => {
    await withTopic(1, async (topic) => {
      const { events, group } = await prepareRecordRun(topic, 1, 20);
      const identity = `fenced-${crypto.randomUUID().slice(0, 8)}`;
      const { result } = startProcessor(
        SCRIPT,
        args(
          topic,
          group,
          events,
          ...["--max-batch", "10", "--sleep-ms", "6000", ...FAST_GROUP],
          ...["-X", `group.instance.id=${identity}`],
        ),
        { timeoutMs: 120_000 },
      );
      await waitUntil(async () => names(await readEvents(events)).includes("records"), "a batch");
      // A second consumer takes the same identity: the broker fences the processor's member.
      await using impostor = new Consumer({
        "bootstrap.servers": BOOTSTRAP,
        "group.id": group,
        "group.instance.id": identity,
        ...FAST_GROUP_CONFIG,
        "enable.auto.commit": false,
      });
      impostor.subscribe([topic]);
      const deadline = Date.now() + 30_000;
      while (impostor.assignment().length === 0 && Date.now() < deadline) {
        await impostor.poll({ timeoutMs: 100, maxMessages: 1 });
      }
      assertEquals(impostor.assignment().length, 1, "the impostor joined");
      const run = await result;
      assertEquals(run.code, 1, run.stderr);
      const all = names(await readEvents(events));
      // The batch's checkpoint after the fencing: kind lost (not failed), and no retry of it.
      assertEquals(
        all.filter((e) => e.startsWith("checkpoint")),
        ["checkpoint-failed"],
        run.stderr,
      );
      assertEquals(
        (await readEvents(events)).find((e) => e.event === "checkpoint-failed")?.detail,
        "lost",
      );
      assertEquals(all.filter((e) => e === "records").length, 1, "not retried");
      assertEquals(
        (await readEvents(events)).filter((e) => e.event.startsWith("shutdown")).map((e) =>
          `${e.event} ${e.detail}`
        ),
        ["shutdown lost"],
        "no shutdownRequested for a partition that is not ours",
      );
      assertEquals(await committedOffsets(group, topic, 1), [-1001], "nothing committed");
    });
  });
}
