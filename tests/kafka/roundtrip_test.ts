import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, uniqueName, withTopic } from "../support/broker.ts";
import { type ConsumedMessage, Consumer, type KafkaHeader, Producer } from "../../src/kafka/mod.ts";

const COUNT = 10_000;
const encoder = new TextEncoder();

function valueOf(i: number): Uint8Array {
  const bytes = new Uint8Array((i * 37) % 2000);
  for (let j = 0; j < bytes.length; j++) bytes[j] = (i + j * 7) & 0xff;
  return bytes;
}

function headersOf(i: number): KafkaHeader[] {
  const headers: KafkaHeader[] = [{ key: "index", value: encoder.encode(String(i)) }];
  if (i % 3 === 0) headers.push({ key: "empty", value: null });
  if (i % 5 === 0) headers.push({ key: "index", value: encoder.encode(`again-${i}`) });
  return headers;
}

Deno.test("10 000 messages with keys and headers round-trip through a 4-partition topic", async () => {
  await withTopic(4, async (topic) => {
    const sent = new Map<number, { partition: number; offset: number }>();
    {
      await using producer = new Producer({ "bootstrap.servers": BOOTSTRAP, "linger.ms": 5 });
      const deliveries: Promise<void>[] = [];
      for (let i = 0; i < COUNT; i++) {
        // Every fifth message goes through librdkafka's partitioner, the rest to a chosen one.
        const partition = i % 5 === 4 ? undefined : i % 4;
        const pending = await producer.send({
          topic,
          partition,
          key: `key-${i}`,
          value: valueOf(i),
          headers: headersOf(i),
        });
        deliveries.push(pending.delivered.then((report) => {
          if (partition !== undefined) assertEquals(report.partition, partition);
          sent.set(i, { partition: report.partition, offset: report.offset });
        }));
      }
      await Promise.all(deliveries);
    }
    assertEquals(sent.size, COUNT);

    const received: ConsumedMessage[] = [];
    await using consumer = new Consumer({
      "bootstrap.servers": BOOTSTRAP,
      "group.id": uniqueName("roundtrip"),
      "auto.offset.reset": "earliest",
      "enable.auto.commit": false,
    });
    consumer.subscribe([topic]);
    const deadline = Date.now() + 60_000;
    while (received.length < COUNT && Date.now() < deadline) {
      received.push(...await consumer.poll({ timeoutMs: 200 }));
    }
    // A little longer, to catch any extra message.
    received.push(...await consumer.poll({ timeoutMs: 500 }));
    assertEquals(received.length, COUNT, "every message, none extra");

    const seen = new Set<number>();
    const decoder = new TextDecoder();
    for (const message of received) {
      const key = decoder.decode(message.key!);
      const i = Number(key.slice("key-".length));
      assert(!seen.has(i), `message ${i} arrived twice`);
      seen.add(i);
      assertEquals(message.topic, topic);
      assertEquals(message.partition, sent.get(i)!.partition);
      assertEquals(message.offset, sent.get(i)!.offset);
      assertEquals(message.value ?? new Uint8Array(0), valueOf(i));
      assertEquals(message.headers, headersOf(i));
      assert(message.timestamp !== null && Math.abs(message.timestamp - Date.now()) < 600_000);
    }
  });
});
