/**
 * The broker away for longer than the client's timeouts (session 6 s, socket 10 s), on a broker
 * of the test's own (on free ports, or `FERRY_TEST_OUTAGE_LONG_PORT`). By default the processor says
 * the broker is unreachable, keeps its state, and continues when it returns; with
 * `--broker-timeout` it exits 1 with a clear error once the broker has been away that long, and
 * the next run picks up where it stopped. Either way: every file once, none recorded twice.
 */

import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { OwnBroker, ownBrokerPort, uniqueName } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import {
  assertEveryFileOnce,
  FAST_GROUP,
  killIfRunning,
  processorArgs,
  readCalls,
  runProcessor,
  startProcessor,
} from "../support/processor.ts";
import { sleep, waitUntil } from "../support/wait.ts";
import { upload } from "../../src/upload/uploader.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";
const PARTITIONS = 2;
const OUTAGE_MS = 15_000;

async function uploadFiles(
  broker: OwnBroker,
  topic: string,
  dir: string,
  prefix: string,
  count: number,
): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    names.push(`${prefix}-${i}.bin`);
    await Deno.writeFile(join(dir, names[i]), testBytes(5_000 + i * 313, prefix.length * 100 + i));
  }
  const summary = await upload(dir, {
    kafka: { "bootstrap.servers": broker.bootstrap },
    topic,
    chunkSize: 4096,
    uploadLogDir: false,
  });
  assertEquals(summary.uploaded, count);
  return names;
}

function args(broker: OwnBroker, topic: string, out: string, group: string): string[] {
  return [
    "--bootstrap-servers",
    broker.bootstrap,
    ...processorArgs(topic, out, group),
    ...FAST_GROUP,
    "-X",
    "socket.timeout.ms=10000",
  ];
}

async function processedPaths(out: string): Promise<Set<string>> {
  return new Set((await readCalls(out)).map((c) => c.path));
}

Deno.test("the broker away longer than the client's timeouts", async (t) => {
  await using broker = await OwnBroker.start(ownBrokerPort("FERRY_TEST_OUTAGE_LONG_PORT"));
  const root = await Deno.makeTempDir({ prefix: "ferry-outage-long-" });

  await t.step("by default: reported, state kept, continues when it returns", async () => {
    const topic = uniqueName("ferry-away");
    await broker.createTopic(topic, PARTITIONS);
    const out = join(root, "out-wait");
    const group = uniqueName("away");
    const before = await uploadFiles(broker, topic, join(root, "w1"), "before", 20);
    const processor = startProcessor(SCRIPT, args(broker, topic, out, group), {
      bootstrap: false,
    });
    let after: string[] = [];
    try {
      await waitUntil(async () => (await processedPaths(out)).size >= before.length, "batch 1");
      await broker.stop();
      await sleep(OUTAGE_MS);
      const early = await Promise.race([processor.result, Promise.resolve(undefined)]);
      assertEquals(early, undefined, "the processor is still running after the outage");
      await broker.start();
      after = await uploadFiles(broker, topic, join(root, "w2"), "after", 20);
      await waitUntil(
        async () => (await processedPaths(out)).size >= before.length + after.length,
        "batch 2 processed after the broker came back",
      );
    } finally {
      processor.child.kill("SIGTERM");
    }
    const run = await processor.result;
    assertEquals(run.code, 0, run.stderr);
    assert(/The Kafka broker 127\.0\.0\.1:\d+ is unreachable/.test(run.stderr), run.stderr);
    assert(/is reachable again after [\d.]+ s; continuing/.test(run.stderr), run.stderr);
    const outcome = await assertEveryFileOnce(out, topic, group, [...before, ...after]);
    for (const [path, calls] of outcome.callsPerPath) {
      assertEquals(calls, 1, `"${path}" processed once: the registry outlived the outage`);
    }
  });

  await t.step(
    "with --broker-timeout: exits 1 with a clear error, the next run resumes",
    async () => {
      const topic = uniqueName("ferry-gone");
      await broker.createTopic(topic, PARTITIONS);
      const out = join(root, "out-limit");
      const group = uniqueName("gone");
      const before = await uploadFiles(broker, topic, join(root, "l1"), "first", 20);
      const processor = startProcessor(SCRIPT, [
        ...args(broker, topic, out, group),
        "--broker-timeout",
        "5",
      ], { bootstrap: false });
      let stoppedAt = 0;
      try {
        await waitUntil(async () => (await processedPaths(out)).size >= before.length, "batch 1");
        await broker.stop();
        stoppedAt = Date.now();
        const timer = setTimeout(() => processor.child.kill("SIGKILL"), 40_000);
        const run = await processor.result;
        clearTimeout(timer);
        const seconds = (Date.now() - stoppedAt) / 1000;
        assertEquals(run.code, 1, run.stderr);
        assert(
          run.stderr.includes(`The Kafka broker "${broker.bootstrap}" was unreachable for 5 s`),
          run.stderr,
        );
        assert(seconds < 30, `exited ${seconds} s after the broker stopped`);
        // deno-lint-ignore no-console
        console.log(`exited ${seconds.toFixed(1)} s after the broker stopped (limit 5 s)`);
      } finally {
        killIfRunning(processor.child);
      }
      await broker.start();
      const after = await uploadFiles(broker, topic, join(root, "l2"), "second", 10);
      const run = await runProcessor(
        SCRIPT,
        [...args(broker, topic, out, group), "--exit-when-idle", "3", "--run-id", "1"],
        60_000,
        { bootstrap: false },
      );
      assertEquals(run.code, 0, run.stderr);
      const outcome = await assertEveryFileOnce(out, topic, group, [...before, ...after]);
      for (const [path, calls] of outcome.callsPerPath) {
        assertEquals(calls, 1, `"${path}" processed once across the two runs`);
      }
    },
  );
  await Deno.remove(root, { recursive: true });
});
