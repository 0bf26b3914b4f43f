/**
 * A file processor's consumer settings (`-X`, a config file's `[consumer]` section) reach only
 * its consumer: the admin client that checks the topic gets none of them, so librdkafka prints
 * no `CONFWARN ... is a consumer property and will be ignored by this producer instance`.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { withTempDir } from "../support/files.ts";
import { FAST_GROUP, processorArgs, runProcessor } from "../support/processor.ts";

Deno.test("consumer properties from -X and [consumer] do not reach the admin client", async () => {
  await withTopic(1, async (topic) => {
    await withTempDir(async (dir) => {
      const config = `${dir}/ferry.config`;
      await Deno.writeTextFile(config, "[consumer]\nmax.poll.interval.ms = 60000\n");
      const run = await runProcessor("tests/fixtures/recording_processor.ts", [
        ...processorArgs(topic, `${dir}/out`),
        "--config",
        config,
        ...FAST_GROUP, // -X session.timeout.ms=6000 -X heartbeat.interval.ms=500
        "--exit-when-idle",
        "1",
      ]);
      assertEquals(run.code, 0, run.stderr);
      assert(!run.stderr.includes("CONFWARN"), run.stderr);
      assert(!run.stderr.includes("will be ignored"), run.stderr);
    });
  });
});
