/**
 * A consumer-group rebalance in the middle of large multi-chunk files: while four files of 60
 * chunks (one per partition, as Ferry uploads) and one spread over every partition (as
 * OpenMSIStream may upload) are being produced slowly, a second process joins the group and
 * later leaves it. Partitions move in the middle of files; every file is still processed, none
 * recorded twice, and each rebuilt file matches its hash (the worker checks it).
 */

import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { fileChunks, type TestFile } from "../support/chunks.ts";
import {
  assertEveryFileOnce,
  FAST_GROUP,
  killIfRunning,
  processorArgs,
  readCalls,
  startProcessor,
} from "../support/processor.ts";
import { sleep, waitUntil } from "../support/wait.ts";
import { chunkKey } from "../../src/chunks/key.ts";
import { encodeChunk } from "../../src/chunks/encode.ts";
import { Producer } from "../../src/kafka/mod.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";
const PARTITIONS = 4;
const CHUNK = 32 * 1024;
const CHUNKS = 60;
const JOIN_MS = 8_000;

function args(topic: string, out: string, group: string, run: string): string[] {
  return [
    ...processorArgs(topic, out, group),
    "--run-id",
    run,
    "--log-file",
    `${out}.log`,
    ...FAST_GROUP,
  ];
}

Deno.test("a second process joins and leaves the group in the middle of large files", async () => {
  await withTopic(PARTITIONS, async (topic) => {
    const group = `rebalance-${crypto.randomUUID().slice(0, 8)}`;
    const outA = await Deno.makeTempDir();
    const outB = await Deno.makeTempDir();
    const files: TestFile[] = [...Array(PARTITIONS + 1).keys()].map((i) => ({
      path: `large/file-${i}.bin`,
      bytes: testBytes(CHUNKS * CHUNK - i * 100, 700 + i),
    }));
    const a = startProcessor(SCRIPT, args(topic, outA, group, "a"));
    let b: ReturnType<typeof startProcessor> | undefined;
    try {
      // The log file is written in batches: give each process time to join instead.
      await sleep(JOIN_MS);
      const chunks = files.map((file) => fileChunks(file, CHUNK));
      await using producer = new Producer({ "bootstrap.servers": BOOTSTRAP, "linger.ms": 5 });
      const deliveries: Promise<unknown>[] = [];
      for (let i = 0; i < CHUNKS; i++) {
        if (i === 15) {
          b = startProcessor(SCRIPT, args(topic, outB, group, "b"));
          await sleep(JOIN_MS);
        }
        if (i === 40) {
          b!.child.kill("SIGTERM");
          assertEquals((await b!.result).code, 0, "b left cleanly");
        }
        for (let f = 0; f < files.length; f++) {
          // Files 0..3 each in their own partition; the last one spread over all of them.
          const partition = f < PARTITIONS ? f : i % PARTITIONS;
          const pending = await producer.send({
            topic,
            partition,
            key: chunkKey(chunks[f][i]),
            value: encodeChunk(chunks[f][i]),
          });
          deliveries.push(pending.delivered);
        }
        await sleep(30);
      }
      await Promise.all(deliveries);
      await waitUntil(
        async () => new Set((await readCalls(outA)).map((c) => c.path)).size === files.length,
        "a processed every file",
        60_000,
      );
    } finally {
      a.child.kill("SIGTERM");
      if (b) {
        killIfRunning(b.child);
      }
    }
    assertEquals((await a.result).code, 0);
    const logA = await Deno.readTextFile(`${outA}.log`);
    const logB = await Deno.readTextFile(`${outB}.log`);
    assert(/revoked/.test(logA), `a gave partitions to b:\n${logA}`);
    assert(/Assigned partitions/.test(logB), `b took partitions:\n${logB}`);
    const outcome = await assertEveryFileOnce(
      [outA, outB],
      topic,
      group,
      files.map((f) => f.path),
    );
    for (const file of files) {
      assertEquals(outcome.callsPerPath.get(file.path), 1, `"${file.path}" processed once`);
    }
  });
});
