/**
 * The precedence of the places the brokers can come from (`resolveKafkaConfig`), as a table:
 * a config file, `FERRY_BOOTSTRAP_SERVERS`, `--bootstrap-servers` and `-X bootstrap.servers`,
 * every combination, each later one winning; and the help of every command that reads them
 * (processors, `ferry download`, `ferry upload`) and docs/configuration.md saying the same.
 */

import type { Command } from "commander";
import { assert, assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { withTempDir } from "../../tests/support/files.ts";
import { createDownloadCommand } from "../cli/commands/download.ts";
import { createUploadCommand } from "../cli/commands/upload.ts";
import { processorProgram } from "../command/processor_options.ts";
import { ConfigError } from "./config_error.ts";
import { BOOTSTRAP_ENV, resolveKafkaConfig } from "./resolve.ts";

/** The sources, lowest precedence first, and what each gives. */
const SOURCES = ["file", "env", "flag", "-X"] as const;
type Source = typeof SOURCES[number];
const ORIGIN: Record<Source, string> = {
  file: "", // the file's path and line, filled in below
  env: `$${BOOTSTRAP_ENV}`,
  flag: "--bootstrap-servers",
  "-X": "-X",
};

/** Every subset of the sources. */
function combinations(): Source[][] {
  return [...Array(1 << SOURCES.length).keys()].map((bits) =>
    SOURCES.filter((_, i) => (bits & (1 << i)) !== 0)
  );
}

for (const fileKey of ["bootstrap.servers", "metadata.broker.list"]) {
  Deno.test(`broker precedence table: file (${fileKey}) < ${BOOTSTRAP_ENV} < --bootstrap-servers < -X`, async () => {
    await withTempDir(async (dir) => {
      const withBrokers = `${dir}/brokers.config`;
      await Deno.writeTextFile(withBrokers, `[broker]\n${fileKey} = file:1\nclient.id = c\n`);
      const withoutBrokers = `${dir}/none.config`;
      await Deno.writeTextFile(withoutBrokers, "[broker]\nclient.id = c\n");
      const rows: string[] = [];
      for (const given of combinations()) {
        const has = (source: Source) => given.includes(source);
        const sources = {
          // A config file is always there; only the first one names the brokers.
          configFile: has("file") ? withBrokers : withoutBrokers,
          env: (name: string) => name === BOOTSTRAP_ENV && has("env") ? "env:1" : undefined,
          bootstrapServers: has("flag") ? "flag:1" : undefined,
          overrides: has("-X") ? ["bootstrap.servers=x:1"] : [],
        };
        const label = given.length === 0 ? "(none)" : given.join(" + ");
        const winner = given.at(-1);
        if (winner === undefined) {
          await assertRejects(
            () => resolveKafkaConfig("consumer", sources),
            ConfigError,
            "No Kafka broker given",
          );
          rows.push(`${label} -> error`);
          continue;
        }
        const { config, origins } = await resolveKafkaConfig("consumer", sources);
        const expected = { file: "file:1", env: "env:1", flag: "flag:1", "-X": "x:1" }[winner];
        // One name for the brokers in the result, whichever the file used.
        const names = Object.keys(config).filter((key) =>
          key === "bootstrap.servers" || key === "metadata.broker.list"
        );
        assertEquals(names.length, 1, `${label}: ${names.join(", ")}`);
        assertEquals(config[names[0]], expected, label);
        assertEquals(
          origins[names[0]],
          winner === "file" ? `${withBrokers}:2` : ORIGIN[winner],
          `${label}: origin`,
        );
        assertEquals(config["client.id"], "c", `${label}: the file's other properties stay`);
        rows.push(`${label} -> ${winner}`);
      }
      assertEquals(rows.length, 16);
    });
  });
}

Deno.test("broker precedence: an empty FERRY_BOOTSTRAP_SERVERS is not set; an empty flag is an error", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/f.config`;
    await Deno.writeTextFile(file, "[broker]\nbootstrap.servers = file:1\n");
    const { config } = await resolveKafkaConfig("producer", {
      configFile: file,
      env: (name) => name === BOOTSTRAP_ENV ? "  " : undefined,
    });
    assertEquals(config["bootstrap.servers"], "file:1");
    await assertRejects(
      () => resolveKafkaConfig("producer", { configFile: file, bootstrapServers: " " }),
      ConfigError,
      '"--bootstrap-servers" is empty',
    );
  });
});

/** The help a command prints (`--help`), on one line: wrapping does not matter. */
function helpOf(command: Command): string {
  let text = "";
  command.configureOutput({ writeOut: (chunk) => text += chunk, writeErr: () => {} });
  command.outputHelp();
  return text.replace(/\s+/g, " ");
}

const context = { exitCode: 0, signal: new AbortController().signal, print: () => {} };

Deno.test("help texts state the broker precedence the code has: env over --config, the flag over both", async () => {
  const options = { note: { type: "string" as const, description: "an option of its own" } };
  const processors = {
    "a file processor": processorProgram("p", undefined, options, "files"),
    "a record processor": processorProgram("r", undefined, options, "records"),
    "ferry download": createDownloadCommand(context),
  };
  for (const [what, command] of Object.entries(processors)) {
    const help = helpOf(command);
    // The environment section: FERRY_BOOTSTRAP_SERVERS <what it is> (<its precedence>).
    const line = new RegExp(`${BOOTSTRAP_ENV} [^(]*\\(([^)]*)\\)`).exec(help);
    assert(line !== null, `${what}: --help names ${BOOTSTRAP_ENV}:\n${help}`);
    assert(/wins over --config/.test(line[1]), `${what}: ${line[0]}`);
    assert(/--bootstrap-servers wins/.test(line[1]), `${what}: ${line[0]}`);
  }

  // ferry upload: the flag's own line names the variable as its default ("env:"), and says it
  // wins over --config; the variables are the flags' defaults, so the flag wins over them.
  const upload = helpOf(createUploadCommand(context));
  const flag = /--bootstrap-servers <list> [^(]*\(([^)]*)\)/.exec(upload);
  assert(flag !== null, `ferry upload --help describes --bootstrap-servers:\n${upload}`);
  assert(flag[1].includes(`env: ${BOOTSTRAP_ENV}`), flag[0]);
  assert(/wins over --config/.test(flag[1]), flag[0]);
  assert(/Environment variables:[^.]*defaults of the flags/.test(upload), upload);

  // No help says the opposite anywhere.
  for (const help of [...Object.values(processors).map(helpOf), upload]) {
    assert(!/--config wins over (the )?(env|\$?FERRY_BOOTSTRAP)/i.test(help), help);
  }

  // docs/configuration.md: the same order, lowest first.
  const doc = await Deno.readTextFile(new URL("../../docs/configuration.md", import.meta.url));
  const list = doc.slice(doc.indexOf("## Where the settings come from"));
  const order = ["1. a config file", `2. the \`${BOOTSTRAP_ENV}\``, "3. `--bootstrap-servers`"];
  let at = -1;
  for (const item of order) {
    const next = list.indexOf(item);
    assert(next > at, `docs/configuration.md lists ${item} in this order: ${order.join(", ")}`);
    at = next;
  }
  assert(
    doc.includes("wins over a config file, loses to `--bootstrap-servers`"),
    `docs/configuration.md's table of variables says where ${BOOTSTRAP_ENV} stands`,
  );
});
