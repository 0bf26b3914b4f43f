/**
 * The broker's SASL_PLAINTEXT listener (mechanism PLAIN): the right credentials work end to
 * end; a wrong password fails fast, for every client type, with an error that says
 * authentication failed and names the address (never the password), instead of a timeout.
 */

import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import {
  requireBroker,
  SASL_BOOTSTRAP,
  SASL_PASSWORD,
  SASL_USERNAME,
  saslConfig,
  uniqueName,
} from "../support/broker.ts";
import { Admin, Consumer, ErrorCode, KafkaError, Offset, Producer } from "../../src/kafka/mod.ts";

/** Far below any timeout in play (metadata 30 s, message.timeout.ms 300 s). */
const FAST_MS = 5_000;

function wrongPassword(): string {
  return `wrong-${crypto.randomUUID()}`;
}

/** Checks the error a wrong password must give, and returns it. */
function assertAuthError(error: unknown, password: string): KafkaError {
  assert(error instanceof KafkaError, `expected a KafkaError, got ${error}`);
  assertEquals(error.code, ErrorCode.AUTHENTICATION);
  assertEquals(error.codeName, "_AUTHENTICATION");
  assert(error.fatal, "an authentication failure is terminal");
  assert(!error.retriable, "an authentication failure is not retriable");
  assert(error.message.includes("Authentication failed"), error.message);
  assert(error.message.includes(SASL_BOOTSTRAP), error.message);
  assert(error.message.includes(`user "${SASL_USERNAME}"`), error.message);
  assert(!error.message.includes(password), error.message);
  return error;
}

/** Prints how fast a failure came, to keep an eye on it in the test output. */
function note(line: string): void {
  // deno-lint-ignore no-console
  console.log(line);
}

async function elapsed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await fn();
  return [value, Math.round(performance.now() - started)];
}

Deno.test("right credentials: create a topic, produce and consume a message through the SASL listener", async () => {
  await requireBroker();
  const topic = uniqueName("ferry-auth");
  const errors: KafkaError[] = [];
  const onError = (error: KafkaError) => errors.push(error);
  await using admin = new Admin(saslConfig(SASL_PASSWORD), { onError });
  await admin.createTopics([{ topic, partitions: 1 }]);
  try {
    {
      await using producer = new Producer(saslConfig(SASL_PASSWORD), { onError });
      const report = await producer.produce({
        topic,
        key: "k",
        value: new TextEncoder().encode("through SASL/PLAIN"),
        headers: [{ key: "h", value: new Uint8Array([7]) }],
      });
      assertEquals(report, { topic, partition: 0, offset: 0 });
    }
    await using consumer = new Consumer(
      { ...saslConfig(SASL_PASSWORD), "group.id": uniqueName("ferry-auth") },
      { onError },
    );
    await consumer.assign([{ topic, partition: 0, offset: Offset.BEGINNING }]);
    const deadline2 = Date.now() + 15_000;
    let messages = await consumer.poll({ timeoutMs: 500 });
    while (messages.length === 0 && Date.now() < deadline2) {
      messages = await consumer.poll({ timeoutMs: 500 });
    }
    assertEquals(messages.length, 1);
    assertEquals(new TextDecoder().decode(messages[0].value!), "through SASL/PLAIN");
    assertEquals(new TextDecoder().decode(messages[0].key!), "k");
    assertEquals(messages[0].headers, [{ key: "h", value: new Uint8Array([7]) }]);
  } finally {
    await admin.deleteTopics([topic]);
  }
  assertEquals(errors.map((e) => e.message), [], "no client reported an error");
});

Deno.test("wrong password: Admin.metadata and createTopics reject fast with an authentication error", async () => {
  await requireBroker();
  const password = wrongPassword();
  const reported: KafkaError[] = [];
  const admin = new Admin(saslConfig(password), { onError: (error) => reported.push(error) });
  let closed = false;
  try {
    const [error, ms] = await elapsed(() =>
      assertRejects(() => admin.metadata({ timeoutMs: 30_000 }), KafkaError)
    );
    assertAuthError(error, password);
    assert(ms < FAST_MS, `metadata took ${ms} ms to fail`);
    note(`wrong password: Admin.metadata rejected after ${ms} ms`);

    // The client is unusable now: every call rejects at once with the same error.
    const [again, againMs] = await elapsed(() =>
      assertRejects(() => admin.createTopics([{ topic: "never", partitions: 1 }]), KafkaError)
    );
    assert(again === error && admin.fatalError === error, "the same terminal error");
    assert(againMs < 100, `took ${againMs} ms`);

    // Reported once, although librdkafka repeats it on every reconnect.
    assertEquals(reported.filter((e) => e.code === ErrorCode.AUTHENTICATION), [error]);

    // close waits for rd_kafka_metadata to return on its thread, but not for the 30 s timeout.
    const [, closeMs] = await elapsed(() => admin.close());
    closed = true;
    assert(closeMs < 2_000, `close took ${closeMs} ms`);
  } finally {
    if (!closed) await admin.close();
  }

  // An admin request (not a blocking call) on a fresh client fails as fast.
  await using fresh = new Admin(saslConfig(password), { onError: () => {} });
  const [error, ms] = await elapsed(() =>
    assertRejects(
      () => fresh.createTopics([{ topic: uniqueName("never"), partitions: 1 }]),
      KafkaError,
    )
  );
  assertAuthError(error, password);
  assert(ms < FAST_MS, `createTopics took ${ms} ms to fail`);
  note(`wrong password: Admin.createTopics rejected after ${ms} ms`);
});

Deno.test("wrong password: a producer's produce rejects fast, and so does every later send", async () => {
  await requireBroker();
  const password = wrongPassword();
  await using producer = new Producer(saslConfig(password), { onError: () => {} });
  const pending = await producer.send({ topic: "ferry-auth-nowhere", value: new Uint8Array([1]) });
  const [[first, second], ms] = await elapsed(() =>
    Promise.all([
      assertRejects(() => pending.delivered, KafkaError),
      assertRejects(
        () => producer.produce({ topic: "ferry-auth-nowhere", value: new Uint8Array([2]) }),
        KafkaError,
      ),
    ])
  );
  assertAuthError(first, password);
  assert(second === first, "every pending delivery fails with the same error");
  assert(ms < FAST_MS, `the deliveries took ${ms} ms to fail`);
  note(`wrong password: Producer.produce rejected after ${ms} ms`);
  assertEquals(producer.inFlight, 0);

  const [later, laterMs] = await elapsed(() =>
    assertRejects(() => producer.send({ topic: "ferry-auth-nowhere", value: null }), KafkaError)
  );
  assert(later === first, "a later send fails with the same error");
  assert(laterMs < 100, `took ${laterMs} ms`);
});

Deno.test("wrong password: a consumer's poll rejects fast, and keeps rejecting", async () => {
  await requireBroker();
  const password = wrongPassword();
  const reported: KafkaError[] = [];
  await using consumer = new Consumer(
    { ...saslConfig(password), "group.id": uniqueName("ferry-auth") },
    { onError: (error) => reported.push(error) },
  );
  consumer.subscribe(["ferry-auth-nowhere"]);
  const [error, ms] = await elapsed(async () => {
    // A processor's loop: it must end with the error, not spin on empty polls.
    for (let polls = 0; polls < 100; polls++) {
      try {
        await consumer.poll({ timeoutMs: 1_000 });
      } catch (error) {
        return error;
      }
    }
    throw new Error("poll never rejected");
  });
  assertAuthError(error, password);
  assert(ms < FAST_MS, `poll took ${ms} ms to fail`);
  note(`wrong password: Consumer.poll rejected after ${ms} ms`);
  assert(consumer.fatalError === error);
  assert(reported.includes(error as KafkaError), "onError was told, with fatal set");

  const [again, againMs] = await elapsed(() =>
    assertRejects(() => consumer.poll({ timeoutMs: 1_000 }), KafkaError)
  );
  assert(again === error, "the same terminal error");
  assert(againMs < 100, `took ${againMs} ms`);
});
