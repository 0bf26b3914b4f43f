/**
 * A producing processor with --exactly-once while the broker stops and starts again, on a broker
 * of the test's own (on free ports, or `FERRY_TEST_EOS_RESTART_PORT`): the transactions that fail
 * are aborted and done again, and a `read_committed` reader of the output topic counts one
 * result per file.
 */

import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { OwnBroker, ownBrokerPort, uniqueName } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { processorArgs, startProcessor } from "../support/processor.ts";
import { countBy, readCommitted } from "../support/results.ts";
import { sleep } from "../support/wait.ts";
import { upload } from "../../src/upload/uploader.ts";

const SCRIPT = "tests/fixtures/producing_processor.ts";

Deno.test("results exactly once with the broker restarted mid-run", async () => {
  await using broker = await OwnBroker.start(ownBrokerPort("FERRY_TEST_EOS_RESTART_PORT"));
  const input = uniqueName("eos-restart-in");
  const output = uniqueName("eos-restart-out");
  await broker.createTopic(input, 4);
  await broker.createTopic(output, 2);
  const root = await Deno.makeTempDir({ prefix: "ferry-eos-restart-" });
  try {
    const names: string[] = [];
    await Deno.mkdir(join(root, "up"));
    for (let i = 0; i < 100; i++) {
      names.push(`f${i}.dat`);
      await Deno.writeFile(join(root, "up", `f${i}.dat`), testBytes(3_000 + i * 37, i + 7));
    }
    const uploaded = await upload(join(root, "up"), {
      kafka: { "bootstrap.servers": broker.bootstrap },
      topic: input,
      chunkSize: 1024,
      uploadLogDir: false,
    });
    assertEquals(uploaded.uploaded, names.length);
    const processor = startProcessor(SCRIPT, [
      "--bootstrap-servers",
      broker.bootstrap,
      // The outage (the broker's stop, 4 s, and its start) outlasts the default failover time
      // (10 s): the member's session ends, its partitions are lost, the transactions that fail
      // meanwhile are aborted, and once it is assigned again the files settled but not
      // committed have their results produced again, from the registry, exactly once.
      ...processorArgs(input, join(root, "out"), uniqueName("eos-restart")),
      "--output-topic",
      output,
      "--exactly-once",
      "--sleep-ms",
      "60",
      "--exit-when-idle",
      "5",
    ], { bootstrap: false, timeoutMs: 180_000 });
    await sleep(4000);
    await broker.stop();
    await sleep(4000);
    await broker.start();
    const run = await processor.result;
    assertEquals(run.code, 0, run.stderr);
    assert(/is unreachable/.test(run.stderr), `the outage was noticed:\n${run.stderr}`);
    const messages = await readCommitted(output, names.length, 30_000, broker.bootstrap);
    const counts = countBy(messages, "ferry-source-path");
    assertEquals(
      names.filter((n) => counts.get(n) !== 1).map((n) => `${n}: ${counts.get(n) ?? 0}`),
      [],
      `each file's result once\n${run.stderr}`,
    );
    assertEquals(counts.size, names.length);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
