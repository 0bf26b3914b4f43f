/**
 * A record processor's consumer settings (`-X`, a config file's `[consumer]` section) reach
 * only its consumer: its dead-letter producer and its admin client get the properties their
 * roles read, so librdkafka prints no `CONFWARN ... will be ignored by this producer instance`.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, uniqueName, withTopic } from "../support/broker.ts";
import { FAST_GROUP, runProcessor } from "../support/processor.ts";
import { prepareRecordRun, readEvents } from "../support/records.ts";
import { Admin } from "../../src/kafka/mod.ts";

const SCRIPT = "tests/fixtures/recording_record_processor.ts";

Deno.test("consumer properties from -X and [consumer] do not reach the dead-letter producer or the admin client", async () => {
  await withTopic(1, async (topic) => {
    const deadLetters = uniqueName("ferry-test-dlq");
    await using admin = new Admin({ "bootstrap.servers": BOOTSTRAP });
    await admin.createTopics([{ topic: deadLetters, partitions: 1 }]);
    const config = await Deno.makeTempFile({ suffix: ".config" });
    try {
      await Deno.writeTextFile(
        config,
        "[consumer]\nmax.poll.interval.ms = 60000\nisolation.level = read_committed\n" +
          "[producer]\nlinger.ms = 50\n",
      );
      const { events, group } = await prepareRecordRun(topic, 1, 10);
      const run = await runProcessor(SCRIPT, [
        "--topic",
        topic,
        "--group",
        group,
        "--events-file",
        events,
        "--config",
        config,
        ...FAST_GROUP, // -X session.timeout.ms=6000 -X heartbeat.interval.ms=500
        "--max-batch",
        "10",
        "--fail-offset",
        "5",
        "--retries",
        "1",
        "--error-policy",
        "skip",
        "--dead-letter-topic",
        deadLetters,
        "--exit-when-idle",
        "1",
      ]);
      assertEquals(run.code, 0, run.stderr);
      assert(run.stderr.includes("1 skipped"), run.stderr);
      assert(
        (await readEvents(events)).some((e) => e.event === "records"),
        "the processor ran",
      );
      assert(!run.stderr.includes("CONFWARN"), run.stderr);
      assert(!run.stderr.includes("will be ignored"), run.stderr);
    } finally {
      await admin.deleteTopics([deadLetters]);
      await Deno.remove(config);
    }
  });
});
