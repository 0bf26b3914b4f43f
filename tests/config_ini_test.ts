import { assert, assertEquals, assertRejects, assertThrows } from "./support/assert.ts";
import { ConfigError } from "../src/config/config_error.ts";
import { parseIni, readIniFile } from "../src/config/ini.ts";
import {
  configFromIni,
  describeKafkaConfig,
  resolveKafkaConfig,
} from "../src/config/kafka_config.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("INI: sections, comments, both separators, continuation lines, DEFAULT", () => {
  const ini = parseIni(
    [
      "# a comment",
      "; another",
      "[DEFAULT]",
      "client.id = shared",
      "[broker]",
      "Bootstrap.Servers = h1:9092",
      "  ,h2:9092",
      "[producer]",
      "linger.ms: 100",
      "empty =",
    ].join("\n"),
    "a.config",
    { env: env({}) },
  );
  assertEquals([...ini.sections.keys()], ["broker", "producer"]);
  const broker = ini.sections.get("broker")!;
  assertEquals(broker.get("bootstrap.servers")?.value, "h1:9092\n,h2:9092");
  assertEquals(broker.get("client.id")?.value, "shared");
  assertEquals(ini.sections.get("producer")!.get("linger.ms"), { value: "100", line: 9 });
  assertEquals(ini.sections.get("producer")!.get("empty")?.value, "");
});

Deno.test("INI: $VAR and ${VAR} are replaced in values that start with $", () => {
  const ini = parseIni(
    "[broker]\nbootstrap.servers = $HOST\nsasl.username = ${USER_1}\n" +
      "sasl.password = pa$$word\nother = ${HOST}:${PORT}\n",
    "a.config",
    { env: env({ HOST: "kafka", USER_1: "ferry", PORT: "9092" }) },
  );
  const broker = ini.sections.get("broker")!;
  assertEquals(broker.get("bootstrap.servers")?.value, "kafka");
  assertEquals(broker.get("sasl.username")?.value, "ferry");
  assertEquals(broker.get("sasl.password")?.value, "pa$$word", "literal: does not start with $");
  assertEquals(broker.get("other")?.value, "kafka:9092");
});

Deno.test("INI: a missing variable names the variable, the file and the line", () => {
  const error = assertThrows(
    () =>
      parseIni("[broker]\n\nbootstrap.servers = $KAFKA_HOST\n", "site.config", { env: env({}) }),
    ConfigError,
    'site.config:3: Environment variable "KAFKA_HOST" is not set',
  );
  assertEquals(error.file, "site.config");
  assertEquals(error.line, 3);
});

Deno.test("INI: malformed lines, keys before a section, duplicates are errors with a line", () => {
  assertThrows(() => parseIni("[broker]\njust text\n", "a"), ConfigError, 'a:2: Line "just text"');
  assertThrows(() => parseIni("x = 1\n", "a"), ConfigError, "a:1: Key line");
  assertThrows(() => parseIni("[a]\n[a]\n", "a"), ConfigError, 'a:2: Section "[a]" appears twice');
  assertThrows(() => parseIni("[a]\nk=1\nK=2\n", "a"), ConfigError, 'a:3: Key "k" appears twice');
});

Deno.test("INI: a missing file is a ConfigError naming it", async () => {
  await assertRejects(
    () => readIniFile("/nonexistent/ferry.config"),
    ConfigError,
    'Config file "/nonexistent/ferry.config" does not exist',
  );
});

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
  const dir = await Deno.makeTempDir();
  try {
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
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
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
