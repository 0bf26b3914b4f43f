/**
 * `configForRole`: each client gets only the properties its role reads, checked against
 * librdkafka itself (no broker needed): the properties it drops are exactly those librdkafka
 * warns about (`CONFWARN ... will be ignored by this producer instance`), and what it keeps
 * draws no warning.
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import { captureLogs, formatLines } from "../../tests/support/logs.ts";
import { freePort } from "../../tests/support/net.ts";
import { sleep } from "../../tests/support/wait.ts";
import { configForRole, type KafkaConfig } from "./config.ts";
import { Admin, Consumer, hasLibraryFeature, Producer } from "./mod.ts";

/** A user's configuration with consumer-only, producer-only and common properties. */
function mixed(): KafkaConfig {
  return {
    "bootstrap.servers": `127.0.0.1:${freePort()}`, // nothing listening: no broker needed
    "client.id": "ferry-test",
    "socket.keepalive.enable": true,
    "security.protocol": "plaintext",
    // Consumer only.
    "group.id": "g",
    "group.instance.id": "g-1",
    "session.timeout.ms": "6000",
    "heartbeat.interval.ms": "500",
    "max.poll.interval.ms": "60000",
    "partition.assignment.strategy": "cooperative-sticky",
    "auto.offset.reset": "earliest",
    "enable.auto.commit": "false",
    "auto.commit.interval.ms": "1000",
    "enable.auto.offset.store": "false",
    "enable.partition.eof": "false",
    "coordinator.query.interval.ms": "60000",
    "queued.min.messages": "1000",
    "queued.max.messages.kbytes": "1024",
    "fetch.wait.max.ms": "100",
    "fetch.min.bytes": "1",
    "fetch.max.bytes": "1048576",
    "fetch.error.backoff.ms": "100",
    "max.partition.fetch.bytes": "1048576",
    "check.crcs": "false",
    "isolation.level": "read_committed",
    // Producer only.
    "acks": "all",
    "linger.ms": "5",
    "batch.size": "100000",
    "batch.num.messages": "1000",
    "queue.buffering.max.messages": "1000",
    "queue.buffering.max.kbytes": "1024",
    "compression.type": "lz4",
    "compression.level": "1",
    "enable.idempotence": "true",
    "message.timeout.ms": "30000",
    "request.timeout.ms": "30000",
    "message.send.max.retries": "3",
    "retry.backoff.ms": "100", // common from librdkafka 2.3.0 on
    "partitioner": "murmur2_random",
    "sticky.partitioning.linger.ms": "10",
    "transaction.timeout.ms": "60000",
  };
}

Deno.test("configForRole keeps common properties and drops the other roles' ones", () => {
  const config = mixed();
  const before = { ...config };
  const consumer = configForRole(config, "consumer");
  const producer = configForRole(config, "producer");
  const admin = configForRole(config, "admin");
  assertEquals(config, before, "the input is not changed");
  for (const common of ["bootstrap.servers", "client.id", "security.protocol"]) {
    assert(common in consumer && common in producer && common in admin, common);
  }
  assert("session.timeout.ms" in consumer && !("session.timeout.ms" in producer));
  assert("linger.ms" in producer && !("linger.ms" in consumer));
  assert(!("group.id" in admin) && !("enable.idempotence" in admin) && !("acks" in admin));
  // retry.backoff.ms: a producer's only before librdkafka 2.3.0, everyone's since.
  const common = hasLibraryFeature("commonRetryBackoff") ? ["retry.backoff.ms"] : [];
  assertEquals(
    Object.keys(admin).sort(),
    ["bootstrap.servers", "client.id", ...common, "security.protocol", "socket.keepalive.enable"],
  );
});

/** Aliases in {@linkcode mixed}: librdkafka's warnings name the property they stand for. */
const ALIASES: Record<string, string> = {
  "acks": "request.required.acks",
  "linger.ms": "queue.buffering.max.ms",
  "compression.type": "compression.codec",
  "max.partition.fetch.bytes": "fetch.message.max.bytes",
};

/** The properties librdkafka says it ignores (CONFWARN) while the clients `create` makes run. */
async function ignoredBy(create: () => AsyncDisposable[]): Promise<string[]> {
  const records = await captureLogs(async () => {
    const clients = create();
    try {
      await sleep(1_000); // the warnings arrive as log events on each client's queue
    } finally {
      for (const client of clients) await client[Symbol.asyncDispose]();
    }
  }, "warning");
  const lines = formatLines(records).filter((line) => line.includes("CONFWARN"));
  return lines.map((line) => /property (\S+) is a/.exec(line)?.[1] ?? line).sort();
}

Deno.test("configForRole drops exactly what librdkafka would ignore, so no client warns", async () => {
  const config = mixed();
  const quiet = { onError: () => {} };
  const notFor = (role: "consumer" | "producer") =>
    Object.keys(config).filter((key) => !(key in configForRole(config, role)))
      .map((key) => ALIASES[key] ?? key).sort();

  // The unfiltered configuration: librdkafka names every property it ignores.
  assertEquals(
    await ignoredBy(() => [new Producer(config, quiet)]),
    notFor("producer"),
    "consumer-only properties on a producer",
  );
  assertEquals(
    await ignoredBy(() => [new Consumer(config, quiet)]),
    notFor("consumer"),
    "producer-only properties on a consumer",
  );

  // Filtered for each role: not one warning.
  assertEquals(
    await ignoredBy(() => [
      new Producer(configForRole(config, "producer"), quiet),
      new Consumer(configForRole(config, "consumer"), quiet),
      new Admin(configForRole(config, "admin"), quiet),
    ]),
    [],
  );
});
