import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { BOOTSTRAP, committedOffsets, uniqueName, withTopic } from "../support/broker.ts";
import { readTopic } from "../support/upload.ts";
import {
  Consumer,
  isFencingError,
  KafkaError,
  Producer,
  TransactionalProducer,
} from "../../src/kafka/mod.ts";

const encoder = new TextEncoder();

/** Reads `topic` as a read_committed consumer: only committed transactions' messages. */
async function committedValues(topic: string, expected: number): Promise<string[]> {
  const messages = await readTopic(topic, expected, { timeoutMs: 10_000 });
  return messages.map((m) => new TextDecoder().decode(m.value ?? new Uint8Array()));
}

Deno.test("transactions: committed messages and offsets are seen, aborted ones never", async () => {
  await withTopic(1, async (input) => {
    await withTopic(1, async (output) => {
      {
        await using plain = new Producer({ "bootstrap.servers": BOOTSTRAP });
        for (let i = 0; i < 5; i++) {
          await plain.produce({ topic: input, value: encoder.encode(`${i}`) });
        }
      }
      const group = uniqueName("txn");
      await using consumer = new Consumer({
        "bootstrap.servers": BOOTSTRAP,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": false,
      });
      consumer.subscribe([input]);
      const read = [];
      const deadline = Date.now() + 30_000;
      while (read.length < 5 && Date.now() < deadline) {
        read.push(...await consumer.poll({ timeoutMs: 200 }));
      }
      assertEquals(read.length, 5);
      await using producer = new TransactionalProducer({
        "bootstrap.servers": BOOTSTRAP,
        "transactional.id": uniqueName("txn-id"),
      });
      await producer.init();
      producer.begin();
      await producer.send({ topic: output, value: encoder.encode("aborted") });
      await producer.sendOffsets([{ topic: input, partition: 0, offset: 5 }], consumer);
      await producer.abort();
      assert(!producer.inTransaction);
      assertEquals(await committedOffsets(group, input, 1), [-1001], "aborted offsets not kept");
      producer.begin();
      await producer.send({ topic: output, value: encoder.encode("committed") });
      await producer.sendOffsets([{ topic: input, partition: 0, offset: 3 }], consumer);
      await producer.commit();
      assertEquals(await committedOffsets(group, input, 1), [3]);
      assertEquals(await committedValues(output, 1), ["committed"]);
    });
  });
});

Deno.test("transactions: a second producer with the same id fences the first", async () => {
  await withTopic(1, async (output) => {
    const id = uniqueName("txn-fence");
    await using first = new TransactionalProducer({
      "bootstrap.servers": BOOTSTRAP,
      "transactional.id": id,
    });
    await first.init();
    first.begin();
    await first.send({ topic: output, value: encoder.encode("zombie") });
    await using second = new TransactionalProducer({
      "bootstrap.servers": BOOTSTRAP,
      "transactional.id": id,
    });
    await second.init();
    second.begin();
    await second.send({ topic: output, value: encoder.encode("new") });
    await second.commit();
    const error = await assertRejects(() => first.commit(), KafkaError);
    assert(isFencingError(error), `a fencing error: ${error.message}`);
    assertEquals(await committedValues(output, 1), ["new"]);
  });
});

Deno.test("transactions: a config without transactional.id is refused", () => {
  let caught: unknown;
  try {
    new TransactionalProducer({ "bootstrap.servers": BOOTSTRAP });
  } catch (error) {
    caught = error;
  }
  assert(caught instanceof Error && /transactional\.id/.test(caught.message));
});
