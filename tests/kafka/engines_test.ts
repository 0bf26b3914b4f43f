/**
 * The engines Ferry runs on, as the loaded librdkafka and the test broker make them: `ferry
 * --version` and a processor's debug log name the librdkafka that was loaded; the broker
 * answers Ferry's own ApiVersions request; and `--group-protocol consumer` (KIP-848) either
 * runs (librdkafka 2.10+ against Kafka 4.x: every record once) or is refused before anything
 * starts, naming what is missing (exit 2). CI runs this file on both sets of engines
 * (`scripts/test.sh --engines new`).
 */

import { assert, assertEquals } from "../support/assert.ts";
import {
  BOOTSTRAP,
  committedOffsets,
  requireBroker,
  SASL_PASSWORD,
  saslConfig,
  withTopic,
} from "../support/broker.ts";
import { ferry } from "../support/cli.ts";
import { runProcessor } from "../support/processor.ts";
import { deliveredOffsets, prepareRecordRun, readEvents } from "../support/records.ts";
import { ApiKey, brokerApiVersions } from "../../src/kafka/api_versions.ts";
import { hasLibraryFeature, librdkafkaVersion, loadedLibraryPath } from "../../src/kafka/mod.ts";

const SCRIPT = "tests/fixtures/recording_record_processor.ts";

/** Whether the test broker serves the consumer group protocol librdkafka speaks (v1+). */
async function brokerHasConsumerProtocol(): Promise<boolean> {
  const apis = await brokerApiVersions({ "bootstrap.servers": BOOTSTRAP });
  assert(apis !== undefined, "a plaintext listener is asked");
  return (apis.get(ApiKey.CONSUMER_GROUP_HEARTBEAT)?.max ?? -1) >= 1;
}

Deno.test("ferry --version names Ferry's version and the librdkafka it loads", async () => {
  const run = await ferry(["--version"], {
    env: { FERRY_RDKAFKA_PATH: Deno.env.get("FERRY_RDKAFKA_PATH") ?? "" },
  });
  assertEquals(run.code, 0, run.stderr);
  const version = librdkafkaVersion();
  const path = loadedLibraryPath();
  assertEquals(run.stdout, `ferry 0.1.0\nlibrdkafka ${version} (${path})\n`);
});

Deno.test("the broker answers Ferry's ApiVersions request, over plaintext and before SASL", async () => {
  await requireBroker();
  for (const config of [{ "bootstrap.servers": BOOTSTRAP }, saslConfig(SASL_PASSWORD)]) {
    const apis = await brokerApiVersions(config);
    assert(apis !== undefined);
    assert(apis.has(18), "ApiVersions itself is listed");
    assert(apis.has(0) && apis.has(1), "Produce and Fetch are listed");
  }
});

Deno.test("--group-protocol consumer: every record once where library and broker have it, else exit 2 naming what is missing", async () => {
  await withTopic(2, async (topic) => {
    const { events, group } = await prepareRecordRun(topic, 2, 30);
    const run = await runProcessor(SCRIPT, [
      ...["--topic", topic, "--group", group, "--events-file", events],
      ...["--group-protocol", "consumer", "--exit-when-idle", "2", "--log-level", "debug"],
    ]);
    const version = librdkafkaVersion();
    if (!hasLibraryFeature("consumerGroupProtocol")) {
      assertEquals(run.code, 2, run.stderr);
      assert(
        run.stderr.includes(
          `"consumer" (KIP-848) needs librdkafka 2.10.0 or newer, and this ` +
            `is ${version}`,
        ),
        run.stderr,
      );
      assertEquals(await readEvents(events), [], "nothing started");
    } else if (!await brokerHasConsumerProtocol()) {
      assertEquals(run.code, 2, run.stderr);
      assert(run.stderr.includes("needs a broker that serves it (Kafka 4.0 or newer)"), run.stderr);
      assertEquals(await readEvents(events), [], "nothing started");
    } else {
      assertEquals(run.code, 0, run.stderr);
      // Start-up names the library (debug).
      assert(
        run.stderr.includes(`Loaded librdkafka ${version} from ${loadedLibraryPath()}.`),
        run.stderr,
      );
      const all = await readEvents(events);
      for (const partition of [0, 1]) {
        const offsets = deliveredOffsets(all.filter((e) => e.partition === partition));
        assertEquals(offsets, [...Array(30).keys()], `partition ${partition}: every record once`);
      }
      assertEquals(await committedOffsets(group, topic, 2), [30, 30]);
    }
  });
});

Deno.test("group.protocol consumer in the config file with session.timeout.ms: exit 2 naming the property (or the library)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = `${dir}/ferry.config`;
    await Deno.writeTextFile(
      config,
      `[broker]\nbootstrap.servers = ${BOOTSTRAP}\n\n[consumer]\ngroup.protocol = consumer\n` +
        `session.timeout.ms = 6000\n`,
    );
    const run = await runProcessor(
      SCRIPT,
      ["--config", config, "--topic", "t", "--events-file", `${dir}/events`],
      60_000,
      { bootstrap: false },
    );
    assertEquals(run.code, 2, run.stderr);
    assert(
      hasLibraryFeature("consumerGroupProtocol")
        ? run.stderr.includes(`"session.timeout.ms" cannot be set`)
        : run.stderr.includes(`needs librdkafka 2.10.0 or newer`),
      run.stderr,
    );
    // --group-protocol classic wins over the file: the classic protocol takes the property.
    const classic = await runProcessor(
      SCRIPT,
      [
        ...["--config", config, "--topic", "no-such-topic-x", "--events-file", `${dir}/events`],
        "--group-protocol",
        "classic",
      ],
      60_000,
      { bootstrap: false },
    );
    assert(!classic.stderr.includes("group.protocol"), classic.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
