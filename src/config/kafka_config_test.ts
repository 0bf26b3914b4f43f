/**
 * Kafka client settings from a config file (`configFromIni`, `resolveKafkaConfig`): sections
 * for a role, precedence of the file, the environment and the flags, clear errors, and
 * descriptions without secrets.
 */

import { assert, assertEquals, assertRejects, assertThrows } from "../../tests/support/assert.ts";
import { withTempDir } from "../../tests/support/files.ts";
import { ConfigError } from "./config_error.ts";
import { parseIni } from "./ini.ts";
import { configFromIni, describeKafkaConfig, resolveKafkaConfig } from "./resolve.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("Kafka config from an OpenMSIStream config file: broker + role, serializers dropped", () => {
  const text = [
    "[broker]",
    "bootstrap.servers = $HOST",
    "[producer]",
    "batch.size = 2000000",
    "key.serializer = StringSerializer",
    "value.serializer = DataFileChunkSerializer",
    "[consumer]",
    "group.id = create_new",
    "value.deserializer = DataFileChunkDeserializer",
    "[heartbeat]",
    "x = 1",
  ].join("\n");
  const ini = parseIni(text, "o.config", { env: env({ HOST: "h:1" }) });
  const producer = configFromIni(ini, "producer");
  assertEquals(producer.config, { "bootstrap.servers": "h:1", "batch.size": "2000000" });
  assertEquals(producer.origins["batch.size"], "o.config:4");
  assertEquals(configFromIni(ini, "consumer").config, {
    "bootstrap.servers": "h:1",
    "group.id": "create_new",
  });
});

Deno.test("Kafka config: unknown and [kafkacrypto] sections are refused", () => {
  assertThrows(
    () => configFromIni(parseIni("[brokers]\na=1\n", "x.config"), "producer"),
    ConfigError,
    'x.config:1: Section "[brokers]" is not one Ferry knows',
  );
  assertThrows(
    () => configFromIni(parseIni("[broker]\na=1\n[kafkacrypto]\nnode_id=n\n", "x"), "producer"),
    ConfigError,
    "KafkaCrypto",
  );
});

Deno.test("Kafka config precedence: file < FERRY_BOOTSTRAP_SERVERS < --bootstrap-servers < -X", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/f.config`;
    await Deno.writeTextFile(file, "[broker]\nbootstrap.servers = file:1\nclient.id = c\n");
    const a = await resolveKafkaConfig("producer", { configFile: file, env: env({}) });
    assertEquals(a.config["bootstrap.servers"], "file:1");
    const b = await resolveKafkaConfig("producer", {
      configFile: file,
      env: env({ FERRY_BOOTSTRAP_SERVERS: "env:1" }),
    });
    assertEquals(b.config["bootstrap.servers"], "env:1");
    assertEquals(b.origins["bootstrap.servers"], "$FERRY_BOOTSTRAP_SERVERS");
    const c = await resolveKafkaConfig("producer", {
      configFile: file,
      bootstrapServers: "flag:1",
      overrides: ["client.id=x", "linger.ms = 7"],
      env: env({ FERRY_BOOTSTRAP_SERVERS: "env:1" }),
    });
    assertEquals(c.config, {
      "bootstrap.servers": "flag:1",
      "client.id": "x",
      "linger.ms": "7",
    });
  });
});

Deno.test("Kafka config: no broker at all, or a bad -X, is a clear error", async () => {
  await assertRejects(
    () => resolveKafkaConfig("producer", { env: env({}) }),
    ConfigError,
    "No Kafka broker given",
  );
  await assertRejects(
    () => resolveKafkaConfig("producer", { bootstrapServers: "h:1", overrides: ["linger.ms"] }),
    ConfigError,
    'Override "linger.ms" is not of the form "key=value"',
  );
});

Deno.test("Kafka config descriptions never contain secrets", () => {
  const text = describeKafkaConfig({
    config: {
      "bootstrap.servers": "h:1",
      "sasl.username": "ferry",
      "sasl.password": "ferry-secret",
      "ssl.key.password": "k3y",
    },
    origins: { "sasl.password": "x.config:5" },
  });
  assert(!text.includes("ferry-secret") && !text.includes("k3y"), text);
  assert(text.includes("sasl.username=ferry"), text);
  assert(text.includes("sasl.password=*** (x.config:5)"), text);
});
