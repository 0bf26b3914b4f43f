/**
 * OpenMSIStream-style INI files (`parseIni`, `readIniFile`): sections, comments, continuation
 * lines, `$VAR` values, and errors naming the file and line.
 */

import { assertEquals, assertRejects, assertThrows } from "../../tests/support/assert.ts";
import { ConfigError } from "./config_error.ts";
import { parseIni, readIniFile } from "./ini.ts";

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
