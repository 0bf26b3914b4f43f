/**
 * The binding's errors without a broker: bad configuration fails at once naming the key, secrets
 * never reach a message, nothing listening fails within a bounded time, `close()` is idempotent.
 * A missing librdkafka (a process of its own): `tests/kafka/library_load_test.ts`.
 */

import { assert, assertEquals, assertRejects, assertThrows } from "../../tests/support/assert.ts";
import { freePort } from "../../tests/support/net.ts";
import {
  Admin,
  Consumer,
  ErrorCode,
  isFencingError,
  KafkaConfigError,
  KafkaError,
  librdkafkaVersion,
  Producer,
} from "./mod.ts";

Deno.test("librdkafka's version is exposed", () => {
  assert(/^\d+\.\d+\.\d+/.test(librdkafkaVersion()), librdkafkaVersion());
});

Deno.test("an unknown configuration key fails at once, naming the key", () => {
  const error = assertThrows(
    () => new Producer({ "bootstrap.servers": "127.0.0.1:1", "bootstrap.server": "x" }),
    KafkaConfigError,
    '"bootstrap.server"',
  );
  assertEquals(error.property, "bootstrap.server");
  assert(error.message.includes("No such configuration property"), error.message);
});

Deno.test("an invalid configuration value fails at once with librdkafka's message", () => {
  const error = assertThrows(
    () => new Consumer({ "bootstrap.servers": "127.0.0.1:1", "session.timeout.ms": "soon" }),
    KafkaConfigError,
    '"session.timeout.ms"',
  );
  assert(error.message.includes("Invalid value"), error.message);
});

Deno.test("a secret in a rejected value never reaches the error message", () => {
  // librdkafka rejects the mechanism in rd_kafka_new and quotes it in its message.
  const error = assertThrows(
    () =>
      new Producer({
        "bootstrap.servers": "127.0.0.1:1",
        "security.protocol": "sasl_plaintext",
        "sasl.password": "hunter2-secret",
        "sasl.mechanisms": "hunter2-secret",
      }),
    KafkaError,
    "***",
  );
  assert(!error.message.includes("hunter2-secret"), error.message);
});

Deno.test("nothing listening at the bootstrap address: a clear error within a bounded time", async () => {
  const address = `127.0.0.1:${freePort()}`; // nothing listening there
  const started = Date.now();
  await using admin = new Admin({ "bootstrap.servers": address }, { onError: () => {} });
  const error = await assertRejects(
    () => admin.metadata({ timeoutMs: 3_000 }),
    KafkaError,
    address,
  );
  assert(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  assert(error.message.includes("No answer from the Kafka broker"), error.message);

  // A producer fails its messages after message.timeout.ms instead of hanging.
  await using producer = new Producer(
    { "bootstrap.servers": address, "message.timeout.ms": 2_000 },
    { onError: () => {} },
  );
  const produced = Date.now();
  await assertRejects(
    () => producer.produce({ topic: "nowhere", value: new Uint8Array([1]) }),
    KafkaError,
    "timed out",
  );
  assert(Date.now() - produced < 10_000, `took ${Date.now() - produced} ms`);
});

Deno.test("close() is idempotent", async () => {
  const producer = new Producer({ "bootstrap.servers": "127.0.0.1:1" });
  const first = producer.close();
  const second = producer.close();
  assert(first === second);
  await first;
  await assertRejects(() => producer.send({ topic: "t", value: null }), Error, "closed");
});

Deno.test("isFencingError: a newer transactional producer fences the older one", () => {
  for (
    const code of [ErrorCode.FENCED, ErrorCode.PRODUCER_FENCED, ErrorCode.INVALID_PRODUCER_EPOCH]
  ) {
    assert(isFencingError(new KafkaError(code, "X", "Commit failed.", { fatal: true })));
  }
  const abortable = new KafkaError(ErrorCode.TIMED_OUT, "_TIMED_OUT", "x", { abortable: true });
  assert(abortable.abortable && !isFencingError(abortable));
  assert(!new KafkaError(ErrorCode.TIMED_OUT, "_TIMED_OUT", "x").abortable);
});
