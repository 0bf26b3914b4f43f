/**
 * A processor's own options from the section of the config file named after it, through
 * `parseProcessorArguments` as a processor's command line reads them: file values typed as the
 * options are, flags winning over the file, the file over the defaults, a required option
 * satisfied by either, and mistakes reported with the file, line and key.
 */

import { assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { withTempDir } from "../../tests/support/files.ts";
import { parseProcessorArguments } from "../command/processor_options.ts";
import { UsageError } from "../command/exit_codes.ts";
import type { OptionSpecs } from "../processor/definition.ts";
import { ConfigError } from "./config_error.ts";

const OPTIONS = {
  resultsFile: { type: "string", description: "CSV file name", default: "checksums.csv" },
  maxFiles: { type: "number", description: "stop after this many" },
  verbose: { type: "boolean", description: "say more" },
  noCheckpoint: { type: "boolean", description: "do not checkpoint" },
  label: { type: "string", description: "a tag", required: true },
} satisfies OptionSpecs;

const BROKER = "[broker]\nbootstrap.servers = 127.0.0.1:1\n";

/** Parses `args` for the processor "checksum" with a config file holding `text`. */
async function parse(
  text: string,
  args: string[] = [],
  kind: "files" | "records" = "files",
): Promise<Record<string, unknown>> {
  return await withTempDir(async (dir) => {
    const file = `${dir}/x.config`;
    await Deno.writeTextFile(file, text);
    const parsed = await parseProcessorArguments(
      "checksum",
      undefined,
      OPTIONS,
      ["--topic", "t", "--config", file, ...args],
      kind,
    );
    return parsed.options;
  });
}

/** The message of the error `parse` fails with, with the temporary folder's path cut off. */
async function failure(
  type: typeof ConfigError | typeof UsageError,
  text: string,
  args: string[] = [],
): Promise<string> {
  const error = await assertRejects(() => parse(text, args), type);
  return error.message.replaceAll(/\/\S*\/x\.config/g, "x.config");
}

Deno.test("own options from the [checksum] section: typed, snake_case or kebab-case keys", async () => {
  const options = await parse(
    BROKER +
      "[checksum]\nresults_file = x.csv\nmax-files = 3\nverbose = yes\nno_checkpoint = on\n" +
      "label = from the file\n",
  );
  assertEquals(options, {
    resultsFile: "x.csv",
    maxFiles: 3,
    verbose: true,
    noCheckpoint: true,
    label: "from the file",
  });
  // Record processors read the same section; the section name is case-insensitive, and so is
  // a key spelt as the option's camelCase name.
  assertEquals(
    (await parse(BROKER + "[Checksum]\nlabel = L\nResultsFile = y.csv\n", [], "records"))
      .resultsFile,
    "y.csv",
  );
});

Deno.test("own options: flags win over the file, the file over the defaults", async () => {
  const section = "[checksum]\nresults_file = x.csv\nmax_files = 3\nverbose = false\n" +
    "no_checkpoint = false\nlabel = file\n";
  assertEquals(
    await parse(BROKER + section, [
      "--results-file",
      "flag.csv",
      "--max-files",
      "5",
      "--verbose",
      "--no-checkpoint",
      "--label",
      "flag",
    ]),
    { resultsFile: "flag.csv", maxFiles: 5, verbose: true, noCheckpoint: true, label: "flag" },
  );
  // Neither flag nor file: the default, or nothing.
  assertEquals(await parse(BROKER + "[checksum]\nlabel = L\n"), {
    resultsFile: "checksums.csv",
    maxFiles: undefined,
    verbose: undefined,
    noCheckpoint: false,
    label: "L",
  });
  assertEquals((await parse(BROKER, ["--label", "L"])).resultsFile, "checksums.csv");
});

Deno.test("own options: a required one may come from either; missing from both is a usage error", async () => {
  assertEquals((await parse(BROKER, ["--label", "flag"])).label, "flag");
  assertEquals((await parse(BROKER + "[checksum]\nlabel = file\n")).label, "file");
  assertEquals(
    await failure(UsageError, BROKER),
    'Option "--label" is required: give it, or "label" in the "[checksum]" section of the ' +
      "config file.",
  );
});

Deno.test("own options: a [DEFAULT] key (a Kafka property for every section) is no mistake in the processor's", async () => {
  const options = await parse("[DEFAULT]\nclient.id = c\n" + BROKER + "[checksum]\nlabel = L\n");
  assertEquals(options.label, "L");
});

Deno.test("own options: mistakes in the section name the file, line and key", async () => {
  const start = BROKER + "[checksum]\nlabel = L\n";
  assertEquals(
    await failure(ConfigError, start + "result_file = x.csv\n"),
    'x.config:5: Key "result_file" in section "[checksum]" is not an option of this ' +
      "processor; its options are results_file, max_files, verbose, no_checkpoint, label.",
  );
  assertEquals(
    await failure(ConfigError, start + "max_files = many\n"),
    'x.config:5: Key "max_files" must be a number, got "many".',
  );
  assertEquals(
    await failure(ConfigError, start + "verbose = sure\n"),
    'x.config:5: Key "verbose" must be true or false (also yes/no, on/off, 1/0), got "sure".',
  );
  const twice = await failure(ConfigError, start + "results_file = a\nresults-file = b\n");
  assertEquals(
    twice,
    'x.config:6: Key "results-file" in section "[checksum]" sets the same option as the key ' +
      "at x.config:5; keep one of them.",
  );
  // Another processor's section is still not one Ferry knows.
  assertEquals(
    await failure(ConfigError, start + "[summary]\nx = 1\n"),
    'x.config:5: Section "[summary]" is not one Ferry knows; expected [broker], [producer], ' +
      "[consumer] or [checksum] (this processor's options).",
  );
});
