/**
 * The SASL password never reaches a log record or an error, at any log level: librdkafka's own
 * debug output (`debug=all`, routed through LogTape) is captured whole and searched, for the
 * right password and for a wrong one, and so is every error the clients throw or report.
 */

import { inspect } from "node:util";
import type { LogRecord } from "@logtape/logtape";
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import {
  requireBroker,
  SASL_BOOTSTRAP,
  SASL_PASSWORD,
  SASL_USERNAME,
  saslConfig,
  uniqueName,
} from "../support/broker.ts";
import { captureLogs } from "../support/logs.ts";
import {
  Admin,
  Consumer,
  ErrorCode,
  type KafkaConfig,
  KafkaError,
  Offset,
  Producer,
} from "../../src/kafka/mod.ts";

/** The SASL listener's settings with librdkafka's debug output (`debug=all`) switched on. */
function sasl(password: string, extra: KafkaConfig = {}): KafkaConfig {
  return saslConfig(password, { "debug": "all", ...extra });
}

/**
 * Every string in a value, unescaped (`inspect` and `JSON.stringify` escape quotes and
 * backslashes, which could hide a password), keys included.
 */
function strings(value: unknown, seen = new Set<unknown>()): string {
  if (typeof value === "string") return value;
  if (value === null || typeof value !== "object") return String(value);
  if (seen.has(value)) return "";
  seen.add(value);
  const parts = Object.entries(value).map(([key, item]) => `${key}=${strings(item, seen)}`);
  if (value instanceof Error) {
    parts.push(value.name, value.message, value.stack ?? "", strings(value.cause, seen));
  }
  return parts.join("\n");
}

/** A record as text: category, level, the rendered message, the raw template, properties. */
function recordText(record: LogRecord): string {
  return [
    record.category.join("."),
    record.level,
    record.message.map((part) => strings(part)).join(""),
    strings(record.rawMessage),
    strings(record.properties),
  ].join(" ");
}

/** An error as text: name, message, stack, own properties and its cause, all of it. */
function errorText(error: unknown): string {
  return [strings(error), inspect(error, { depth: 10, showHidden: true })].join("\n");
}

function assertNowhere(secret: string, records: LogRecord[], errors: unknown[]): void {
  const leaks = records.map(recordText).filter((text) => text.includes(secret));
  assertEquals(leaks, [], "log records containing the password");
  for (const error of errors) {
    const text = errorText(error);
    assert(!text.includes(secret), `an error contains the password: ${text}`);
  }
}

function facilityRecords(records: LogRecord[], facility: string): LogRecord[] {
  return records.filter((r) => r.properties.facility === facility);
}

Deno.test("right password, debug=all: the password is in no log record and no error", async () => {
  await requireBroker();
  const errors: unknown[] = [];
  const onError = (error: KafkaError) => errors.push(error);
  const topic = uniqueName("ferry-redaction");
  const records = await captureLogs(async () => {
    await using admin = new Admin(sasl(SASL_PASSWORD), { onError });
    await admin.createTopics([{ topic, partitions: 1 }]);
    try {
      {
        await using producer = new Producer(sasl(SASL_PASSWORD), { onError });
        await producer.produce({ topic, value: new TextEncoder().encode("hello") });
      }
      await using consumer = new Consumer(
        sasl(SASL_PASSWORD, { "group.id": uniqueName("ferry-redaction") }),
        { onError },
      );
      await consumer.assign([{ topic, partition: 0, offset: Offset.BEGINNING }]);
      const deadline2 = Date.now() + 15_000;
      let received = 0;
      while (received === 0 && Date.now() < deadline2) {
        received += (await consumer.poll({ timeoutMs: 500 })).length;
      }
      assertEquals(received, 1);
    } finally {
      await admin.deleteTopics([topic]);
    }
  }, "debug");
  // The capture did see librdkafka's debug output, the SASL exchange included.
  assert(records.length > 200, `only ${records.length} records`);
  assert(records.some((r) => r.level === "debug"), "debug records captured");
  assert(facilityRecords(records, "SASL").length > 0, "SASL debug records captured");
  assert(
    records.some((r) => recordText(r).includes("sasl.password = [redacted]")),
    "librdkafka's configuration dump captured",
  );
  assertNowhere(SASL_PASSWORD, records, errors);
});

Deno.test("wrong password, debug=all: the password is in no log record and no error", async () => {
  await requireBroker();
  const password = `wrong-${crypto.randomUUID()}`;
  const errors: unknown[] = [];
  const records = await captureLogs(async () => {
    // No onError for the admin: its report goes to the log at warning level.
    await using admin = new Admin(sasl(password));
    errors.push(await assertRejects(() => admin.metadata({ timeoutMs: 30_000 }), KafkaError));
    errors.push(await assertRejects(() => admin.deleteTopics(["x"]), KafkaError));

    await using producer = new Producer(sasl(password), { onError: (e) => errors.push(e) });
    errors.push(
      await assertRejects(
        () => producer.produce({ topic: "ferry-redaction-nowhere", value: null }),
        KafkaError,
      ),
    );
    errors.push(await assertRejects(() => producer.send({ topic: "t", value: null }), KafkaError));

    await using consumer = new Consumer(
      sasl(password, { "group.id": uniqueName("ferry-redaction") }),
      { onError: (e) => errors.push(e) },
    );
    consumer.subscribe(["ferry-redaction-nowhere"]);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      try {
        await consumer.poll({ timeoutMs: 500 });
      } catch (error) {
        errors.push(error);
        break;
      }
    }
    errors.push(await assertRejects(() => consumer.commit(), KafkaError));
  }, "debug");
  // The failure itself was captured: librdkafka's line and the client's report.
  assert(records.length > 100, `only ${records.length} records`);
  assert(
    records.some((r) =>
      r.level === "error" && recordText(r).includes("Authentication failed: Invalid username")
    ),
    "librdkafka's authentication failure line captured",
  );
  assert(
    records.some((r) =>
      r.level === "warning" && recordText(r).includes(`Authentication failed with the Kafka broker`)
    ),
    "the admin's report captured",
  );
  const authErrors = errors.filter((e) =>
    e instanceof KafkaError && e.code === ErrorCode.AUTHENTICATION
  );
  assert(authErrors.length >= 7, `only ${authErrors.length} authentication errors`);
  assertNowhere(password, records, errors);
  assertNowhere(SASL_PASSWORD, records, errors);
});

Deno.test("a password librdkafka does print (in bootstrap.servers and client.id) is redacted", async () => {
  // librdkafka redacts sasl.password in its own output, so above only Ferry's redaction of its
  // own messages is tested. Here the password sits where librdkafka prints it: a URL-style
  // bootstrap address (user:password@host, which librdkafka cannot resolve) and the client id.
  const password = `pasted-${crypto.randomUUID()}`;
  const errors: unknown[] = [];
  const records = await captureLogs(async () => {
    await using admin = new Admin(
      sasl(password, {
        "bootstrap.servers": `${SASL_USERNAME}:${password}@${SASL_BOOTSTRAP}`,
        "client.id": `ferry-${password}`,
      }),
      { onError: (e) => errors.push(e) },
    );
    errors.push(await assertRejects(() => admin.metadata({ timeoutMs: 1_500 }), KafkaError));
  }, "debug");
  assert(
    records.some((r) => recordText(r).includes(`${SASL_USERNAME}:***@`)),
    "librdkafka printed the address, redacted",
  );
  assert(
    errors.some((e) => e instanceof KafkaError && e.message.includes(`${SASL_USERNAME}:***@`)),
  );
  assertNowhere(password, records, errors);
});
