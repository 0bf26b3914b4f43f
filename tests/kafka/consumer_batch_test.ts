import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, uniqueName, withTopic } from "../support/broker.ts";
import { Consumer, type MessageBatch, Producer } from "../../src/kafka/mod.ts";
import {
  type BatchRun,
  packRuns,
  splitRuns,
  unpackRecords,
} from "../../src/record_processor/batch.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Polls with pollBatch until `count` messages arrived (or 30 s passed). */
async function pollAll(
  consumer: Consumer,
  count: number,
  options: { maxMessages?: number; maxBytes?: number } = {},
): Promise<MessageBatch[]> {
  const batches: MessageBatch[] = [];
  let seen = 0;
  const deadline = Date.now() + 30_000;
  while (seen < count && Date.now() < deadline) {
    const batch = await consumer.pollBatch({ ...options, timeoutMs: 200 });
    if (batch.length > 0) batches.push(batch);
    seen += batch.length;
  }
  return batches;
}

Deno.test("pollBatch packs keys, values, null, empty, headers and timestamps of two partitions", async () => {
  await withTopic(2, async (topic) => {
    {
      await using producer = new Producer({ "bootstrap.servers": BOOTSTRAP });
      for (let i = 0; i < 40; i++) {
        await producer.produce({
          topic,
          partition: i % 2,
          key: i % 5 === 0 ? null : `k${i}`,
          value: i % 7 === 0 ? null : i % 7 === 1 ? new Uint8Array(0) : encoder.encode(`v${i}`),
          headers: i % 3 === 0 ? [{ key: "h", value: encoder.encode(`${i}`) }] : [],
          timestamp: 1_700_000_000_000 + i,
        });
      }
    }
    await using consumer = new Consumer({
      "bootstrap.servers": BOOTSTRAP,
      "group.id": uniqueName("batch"),
      "auto.offset.reset": "earliest",
    });
    consumer.subscribe([topic]);
    // Small polls: messages of one fetch spread over several batches.
    const batches = await pollAll(consumer, 40, { maxMessages: 7 });
    // Runs of several polls packed together, as the record runner sends them.
    const runs = new Map<number, BatchRun[]>();
    for (const batch of batches) {
      assert(batch.length <= 7, `at most maxMessages: ${batch.length}`);
      for (const run of splitRuns(batch)) {
        const partition = batch.partitions[run.from];
        runs.set(partition, [...runs.get(partition) ?? [], run]);
      }
    }
    for (const partition of [0, 1]) {
      assert((runs.get(partition)?.length ?? 0) > 1, "several runs per partition");
      const records = unpackRecords(packRuns(runs.get(partition) ?? []));
      assertEquals(records.map((r) => r.offset), [...Array(20).keys()], `partition ${partition}`);
      for (const record of records) {
        const i = record.offset * 2 + partition;
        assertEquals(record.topic, topic);
        assertEquals(
          record.key === null ? null : decoder.decode(record.key),
          i % 5 ? `k${i}` : null,
        );
        if (i % 7 === 0) assertEquals(record.value, null);
        // An empty value stays empty, not null.
        else if (i % 7 === 1) assertEquals(record.value, new Uint8Array(0));
        else assertEquals(decoder.decode(record.value!), `v${i}`);
        assertEquals(record.timestamp, 1_700_000_000_000 + i);
        assertEquals(
          record.headers.map((h) => `${h.key}=${decoder.decode(h.value!)}`),
          i % 3 === 0 ? [`h=${i}`] : [],
        );
      }
    }
  });
});

Deno.test("pollBatch stops at about maxBytes and grows its buffer for a bigger message", async () => {
  await withTopic(1, async (topic) => {
    const sizes = [1000, 1000, 1000, 300_000, 10, 1000];
    {
      await using producer = new Producer({ "bootstrap.servers": BOOTSTRAP });
      for (const [i, size] of sizes.entries()) {
        await producer.produce({ topic, value: new Uint8Array(size).fill(i + 1) });
      }
    }
    await using consumer = new Consumer({
      "bootstrap.servers": BOOTSTRAP,
      "group.id": uniqueName("batch-bytes"),
      "auto.offset.reset": "earliest",
    });
    consumer.subscribe([topic]);
    const batches = await pollAll(consumer, sizes.length, { maxBytes: 1500 });
    const values: Uint8Array[] = [];
    for (const batch of batches) {
      // Over maxBytes by at most the last message.
      const last = batch.valueLengths[batch.length - 1];
      assert(batch.data.length - last < 1500, `a batch of ${batch.data.length} bytes`);
      for (const record of unpackRecords(packRuns(splitRuns(batch)))) values.push(record.value!);
    }
    assertEquals(values.map((v) => v.length), sizes);
    values.forEach((v, i) => assert(v.every((b) => b === i + 1), `value ${i} intact`));
  });
});
