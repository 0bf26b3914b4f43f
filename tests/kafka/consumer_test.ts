import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, uniqueName, withTopic } from "../support/broker.ts";
import { Admin, Consumer, Producer } from "../../src/kafka/mod.ts";
import { hasLibraryFeature } from "../../src/kafka/library_features.ts";

const MiB = 1024 * 1024;

Deno.test("an 8 MiB message round-trips", async () => {
  await withTopic(1, async (topic) => {
    const value = new Uint8Array(8 * MiB);
    for (let i = 0; i < value.length; i += 4096) value[i] = (i / 4096) & 0xff;
    value[value.length - 1] = 0x7f;
    {
      await using producer = new Producer({
        "bootstrap.servers": BOOTSTRAP,
        "message.max.bytes": 10 * MiB,
      });
      const report = await producer.produce({ topic, value, key: "big" });
      assertEquals(report.offset, 0);
    }
    await using consumer = new Consumer({
      "bootstrap.servers": BOOTSTRAP,
      "group.id": uniqueName("big"),
      "auto.offset.reset": "earliest",
      "fetch.max.bytes": 10 * MiB,
      "max.partition.fetch.bytes": 10 * MiB,
      "receive.message.max.bytes": 12 * MiB,
    });
    consumer.subscribe([topic]);
    const deadline = Date.now() + 30_000;
    let received: Uint8Array | null = null;
    while (received === null && Date.now() < deadline) {
      const [message] = await consumer.poll({ timeoutMs: 500 });
      if (message) received = message.value;
    }
    assert(received !== null, "the message arrived");
    assertEquals(received.length, value.length);
    assertEquals(received, value);
  });
});

Deno.test("pause stops a partition, resume restarts it; positions and watermarks follow", async () => {
  await withTopic(2, async (topic) => {
    {
      await using producer = new Producer({ "bootstrap.servers": BOOTSTRAP });
      for (let i = 0; i < 20; i++) {
        await producer.produce({ topic, partition: i % 2, value: new Uint8Array([i]) });
      }
    }
    await using consumer = new Consumer({
      "bootstrap.servers": BOOTSTRAP,
      "group.id": uniqueName("pause"),
    });
    await consumer.assign([{ topic, partition: 0, offset: -2 }, {
      topic,
      partition: 1,
      offset: -2,
    }]);
    consumer.pause([{ topic, partition: 1 }]);
    const seen: number[] = [];
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      for (const m of await consumer.poll({ timeoutMs: 200 })) seen.push(m.partition);
      if (seen.length >= 10) break;
    }
    await consumer.poll({ timeoutMs: 500 }).then((ms) => seen.push(...ms.map((m) => m.partition)));
    assertEquals(seen.length, 10);
    assert(seen.every((p): boolean => p === 0), "nothing from the paused partition");
    consumer.resume([{ topic, partition: 1 }]);
    while (seen.length < 20) {
      for (const m of await consumer.poll({ timeoutMs: 200 })) seen.push(m.partition);
    }
    assertEquals(seen.filter((p) => p === 1).length, 10);
    assertEquals(consumer.position([{ topic, partition: 1 }])[0].offset, 10);
    assertEquals(await consumer.queryWatermarks(topic, 1), { low: 0, high: 10 });
  });
});

Deno.test("topics are created with a partition count, described and deleted", async () => {
  await using admin = new Admin({ "bootstrap.servers": BOOTSTRAP });
  const topic = uniqueName("admin");
  await admin.createTopics([{ topic, partitions: 3 }]);
  await admin.createTopics([{ topic, partitions: 3 }], { ifNotExists: true });
  assertEquals(await admin.partitionCount(topic), 3);
  await admin.deleteTopics([topic]);
  const deadline = Date.now() + 10_000;
  let gone = false;
  while (!gone && Date.now() < deadline) {
    gone = (await admin.metadata({ topics: [topic] })).topics[0].partitions.length === 0;
  }
  assert(gone, "the topic is gone");
});

Deno.test("a consumer closed right after it subscribed closes cleanly", async () => {
  // librdkafka before 2.3.0 aborts the process when a cooperative-sticky consumer is destroyed
  // between its first JoinGroup answer and its first assignment (confluentinc/librdkafka#4312):
  // there, close waits for the first assignment. A child process, so that an abort fails the
  // test instead of ending the run.
  await withTopic(2, async (topic) => {
    const source = `
      import { Consumer } from ${
      JSON.stringify(new URL("../../src/kafka/mod.ts", import.meta.url).href)
    };
      const events = [];
      const consumer = new Consumer({
        "bootstrap.servers": ${JSON.stringify(BOOTSTRAP)},
        "group.id": ${JSON.stringify(uniqueName("early-close"))},
        "partition.assignment.strategy": "cooperative-sticky",
      }, { onRebalance: (event) => { events.push(event.kind); } });
      consumer.subscribe([${JSON.stringify(topic)}]);
      await consumer.close();
      console.log(JSON.stringify(events));
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", new URL("../../deno.json", import.meta.url).pathname, "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = out.stdin.getWriter();
    await writer.write(new TextEncoder().encode(source));
    await writer.close();
    const result = await out.output();
    const stderr = new TextDecoder().decode(result.stderr);
    assertEquals(result.code, 0, stderr);
    const events: string[] = JSON.parse(new TextDecoder().decode(result.stdout));
    if (!hasLibraryFeature("earlyCloseSafe")) {
      assertEquals(events, ["assigned", "revoked"], "close waited for the first assignment");
    }
  });
});

Deno.test("lent values (borrowValues) hold the messages' bytes until the next poll, and close frees them", async () => {
  await withTopic(1, async (topic) => {
    const values = Array.from({ length: 30 }, (_, i) => new Uint8Array(100_000).fill(i + 1));
    {
      await using producer = new Producer({ "bootstrap.servers": BOOTSTRAP });
      for (const value of values) await producer.produce({ topic, partition: 0, value });
    }
    await using consumer = new Consumer({
      "bootstrap.servers": BOOTSTRAP,
      "group.id": uniqueName("lend"),
    });
    await consumer.assign([{ topic, partition: 0, offset: -2 }]);
    const seen: number[] = [];
    const deadline = Date.now() + 30_000;
    while (seen.length < values.length && Date.now() < deadline) {
      const batch = await consumer.poll({ timeoutMs: 200, maxMessages: 7, borrowValues: true });
      // Every value of the batch is intact until the next poll (none freed meanwhile).
      for (const message of batch) {
        assertEquals(message.value, values[message.offset], `offset ${message.offset}`);
        seen.push(message.offset);
      }
    }
    assertEquals(seen, values.map((_, i) => i));
    // Values lent by the last poll are freed by close (it would hang on messages not freed).
  });
});
