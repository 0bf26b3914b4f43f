/**
 * The broker stopped and started again while files are being uploaded and processed, on a
 * broker of the test's own (on free ports, or `FERRY_TEST_RESTART_PORT`): the upload waits and
 * finishes, the processor reports the outage, reconnects and processes every file, none twice.
 */

import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { OwnBroker, ownBrokerPort, uniqueName } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import {
  assertEveryFileOnce,
  FAST_GROUP,
  processorArgs,
  readCalls,
  startProcessor,
} from "../support/processor.ts";
import { sleep, waitUntil } from "../support/wait.ts";
import { upload } from "../../src/upload/uploader.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";
const PARTITIONS = 4;
const CHUNK = 8 * 1024;

async function writeFiles(dir: string, prefix: string, count: number, seed: number) {
  await Deno.mkdir(dir, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${i}.bin`;
    await Deno.writeFile(join(dir, name), testBytes(10_000 + (i * 7919) % 50_000, seed + i));
    names.push(name);
  }
  return names;
}

Deno.test("the broker restarted during upload and processing: every file once", async () => {
  await using broker = await OwnBroker.start(ownBrokerPort("FERRY_TEST_RESTART_PORT"));
  const topic = uniqueName("ferry-restart");
  await broker.createTopic(topic, PARTITIONS);
  const root = await Deno.makeTempDir({ prefix: "ferry-restart-" });
  const out = join(root, "out");
  const group = uniqueName("restart");
  const kafka = { "bootstrap.servers": broker.bootstrap };
  const first = await writeFiles(join(root, "a"), "a", 20, 1);
  const second = await writeFiles(join(root, "b"), "b", 40, 100);
  const processor = startProcessor(SCRIPT, [
    "--bootstrap-servers",
    broker.bootstrap,
    ...processorArgs(topic, out, group),
    "--sleep-ms",
    "20",
    ...FAST_GROUP,
  ], { bootstrap: false });
  try {
    const a = await upload(join(root, "a"), {
      kafka,
      topic,
      chunkSize: CHUNK,
      uploadLogDir: false,
    });
    assertEquals(a.uploaded, first.length);
    await waitUntil(async () => (await readCalls(out)).length >= 5, "the first files processed");
    // The second batch goes up while the broker stops and starts again.
    let acked = 0;
    let restart: Promise<void> | undefined;
    let uploadedDuringOutage = 0;
    let down = false;
    const b = await upload(join(root, "b"), {
      kafka,
      topic,
      chunkSize: CHUNK,
      uploadLogDir: false,
      concurrency: 1,
      maxInFlightBytes: 2 * CHUNK,
      deliveryTimeoutMs: 120_000,
      onKafkaError: () => {},
      events: {
        chunkAcked: () => {
          if (down) uploadedDuringOutage++;
          if (++acked !== 40) return;
          restart = (async () => {
            await broker.stop();
            down = true;
            uploadedDuringOutage = 0;
            await sleep(2000);
            down = false;
            await broker.start();
          })();
        },
      },
    });
    assert(restart !== undefined, "the broker was restarted during the upload");
    await restart;
    assertEquals(uploadedDuringOutage, 0, "nothing acknowledged while the broker was down");
    assertEquals(b.uploaded, second.length, JSON.stringify(b.outcomes));
    const all = [...first, ...second];
    await waitUntil(
      async () => new Set((await readCalls(out)).map((c) => c.path)).size >= all.length,
      "every file processed",
      60_000,
    );
  } finally {
    processor.child.kill("SIGTERM");
  }
  const run = await processor.result;
  assertEquals(run.code, 0, run.stderr);
  assert(/The Kafka broker 127\.0\.0\.1:\d+ is unreachable/.test(run.stderr), run.stderr);
  assert(/is reachable again after [\d.]+ s; continuing/.test(run.stderr), run.stderr);
  const outcome = await assertEveryFileOnce(out, topic, group, [...first, ...second]);
  const repeats = [...outcome.callsPerPath.values()].filter((n) => n > 1).length;
  // deno-lint-ignore no-console
  console.log(`${outcome.processed.length} files processed, ${repeats} processed twice`);
  await Deno.remove(root, { recursive: true });
});
