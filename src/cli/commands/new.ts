/**
 * `ferry new <name>`: writes a starter processor script, with comments, ready to run.
 *
 * @module
 */

import { Command } from "commander";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { ExitCode, UsageError } from "../../command/exit_codes.ts";
import type { CliContext } from "../context.ts";

/** The JSR specifier of Ferry's public API. */
export const JSR_SPECIFIER = "jsr:@ferry/ferry";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

interface NewFlags {
  dir: string;
  jsr?: boolean;
}

/**
 * The starter script for a processor named `name` that imports Ferry from `specifier`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { starterScript } from "./new.ts";
 *
 * const text = starterScript("tally", "jsr:@ferry/ferry");
 * assert.match(text, /import \{ defineProcessor \} from "jsr:@ferry\/ferry";/);
 * assert.match(text, /name: "tally"/);
 * ```
 *
 * @param name The processor's name (letters, digits, `.`, `_`, `-`).
 * @param specifier Where to import Ferry from: a relative path to `mod.ts`, or a JSR specifier.
 * @param config The checkout's `deno.json`, when the script is outside the checkout and imports
 * its `mod.ts` (Deno then needs `--config` to find Ferry's dependencies).
 * @returns The script's text.
 */
export function starterScript(name: string, specifier: string, config?: string): string {
  const run = `deno run -A${config === undefined ? "" : ` --config ${config}`} ${name}.ts`;
  return `/**
 * ${name}: a Ferry processor. Ferry rebuilds every file uploaded to a Kafka topic (with
 * \`ferry upload\` or OpenMSIStream) and calls \`process\` on it, in several worker threads.
 *
 * Run it (the topic must exist; --exit-when-idle stops once every file is done):
 *
 *     ${run} --topic my-topic \\
 *       --bootstrap-servers 127.0.0.1:39092 --exit-when-idle
 *
 * Without --exit-when-idle it keeps running and takes new files as they arrive (Ctrl-C stops
 * it gracefully). A file done once is not done again on the next start with the same --group.
 * \`--help\` lists every option: --workers, --output-dir, --mode disk (rebuild files on disk
 * instead of in memory), --config (an OpenMSIStream-style INI file), --download-regex, ...
 *
 * @module
 */

import { defineProcessor } from "${specifier}";

const processor = defineProcessor({
  // Shown in log lines, and part of the default consumer group "ferry-${name}-<topic>".
  name: "${name}",
  description: "Appends the path, size and first line of every file to a CSV file.",

  // Your own command-line options, next to the built-in ones: this adds --results-file.
  // Their values arrive typed in context.options.
  options: {
    resultsFile: { type: "string", description: "results file name", default: "results.csv" },
  },

  // Optional: runs once in each worker before its first file (open connections here).
  initialize(context) {
    context.logger.debug("Worker {index} ready.", { index: context.workerIndex });
  },

  // Runs on every rebuilt file whose SHA-512 checked out. file.relativePath is the path as
  // uploaded (such as "run1/scan.csv"), file.size its size, file.sha512 its hash, file.bytes its
  // content (with --mode disk, file.path is the rebuilt file instead). Return nothing for
  // success; throw (or return an Error) to mark the file failed: it is retried on the next start.
  async process(file, lock, context) {
    const bytes = file.bytes ?? await Deno.readFile(file.path!);
    const head = new TextDecoder().decode(bytes.subarray(0, 200));
    const firstLine = head.split("\\n")[0].trim();
    const line = [JSON.stringify(file.relativePath), file.size, JSON.stringify(firstLine)];

    // Several workers run process() at the same time; lock.run() lets one at a time in, so
    // lines appended to one shared file never interleave.
    await lock.run(() =>
      Deno.writeTextFile(
        \`\${context.outputDir}/\${context.options.resultsFile}\`,
        line.join(",") + "\\n",
        { append: true },
      )
    );
  },

  // Optional: runs once in each worker when the run stops.
  shutdown(context) {
    context.logger.debug("Worker {index} done.", { index: context.workerIndex });
  },
});

// Parses the command line and runs; inside Ferry's workers this line does nothing.
if (import.meta.main) await processor.runFromCommandLine();
`;
}

/**
 * How a script in `dir` imports this checkout's `mod.ts`: a relative path, plus the checkout's
 * `deno.json` when `dir` is outside the checkout (its import map is found only from inside).
 * The JSR specifier when Ferry itself was not loaded from local files.
 *
 * @param dir The folder the script is written to.
 * @returns The import specifier, and the config file to run with if one is needed.
 */
export function localSpecifier(dir: string): { specifier: string; config?: string } {
  const mod = new URL("../../../mod.ts", import.meta.url);
  if (mod.protocol !== "file:") return { specifier: JSR_SPECIFIER };
  const modPath = fromFileUrl(mod);
  const path = relative(resolve(dir), modPath).split("\\").join("/");
  const specifier = path.startsWith(".") ? path : `./${path}`;
  const root = dirname(modPath);
  const inside = !relative(root, resolve(dir)).startsWith("..");
  return inside ? { specifier } : { specifier, config: join(root, "deno.json") };
}

/**
 * Builds the `new` subcommand.
 *
 * @example
 * ```ts ignore
 * import { Command } from "commander";
 * import { createNewCommand } from "./new.ts";
 * const context = { exitCode: 0, signal: new AbortController().signal, print: () => {} };
 * new Command("ferry").addCommand(createNewCommand(context));
 * ```
 *
 * @param context Where the action reports its exit code and prints what to do next.
 * @returns The command.
 */
export function createNewCommand(context: CliContext): Command {
  return new Command("new")
    .summary("write a starter processor script")
    .description(
      "Write <name>.ts, a commented processor script ready to run: it appends the path, size " +
        "and first line of every file rebuilt from a topic to a CSV file. An existing file is " +
        "never overwritten (exit 2).",
    )
    .argument("<name>", "the processor's name (letters, digits, '.', '_', '-'); file <name>.ts")
    .option("-d, --dir <dir>", "folder to write the script into", ".")
    .option("--jsr", `import Ferry from JSR ("${JSR_SPECIFIER}") instead of this checkout`)
    .addHelpText(
      "after",
      `
Examples:
  ferry new tally                 # writes ./tally.ts, importing this checkout's mod.ts
  ferry new tally --dir scripts   # writes scripts/tally.ts
  ferry new tally --jsr           # imports ${JSR_SPECIFIER}`,
    )
    .action(async (name: string, flags: NewFlags) => {
      context.exitCode = await writeStarter(name, flags, context);
    });
}

async function writeStarter(name: string, flags: NewFlags, context: CliContext): Promise<number> {
  const base = name.endsWith(".ts") ? name.slice(0, -3) : name;
  if (!NAME.test(base)) {
    throw new UsageError(
      `Processor name ${JSON.stringify(name)} must start with a letter or digit and hold only ` +
        `letters, digits, ".", "_" or "-".`,
    );
  }
  const path = join(flags.dir, `${base}.ts`);
  const { specifier, config } = flags.jsr
    ? { specifier: JSR_SPECIFIER, config: undefined }
    : localSpecifier(dirname(path));
  await Deno.mkdir(flags.dir, { recursive: true });
  try {
    await Deno.writeTextFile(path, starterScript(base, specifier, config), { createNew: true });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new UsageError(
        `File ${JSON.stringify(path)} exists already; choose another name or --dir, or remove it.`,
      );
    }
    throw error;
  }
  context.print(`Wrote ${path} (processor "${base}", importing ${specifier}). Run it:`);
  const run = `deno run -A${config === undefined ? "" : ` --config ${config}`} ${path}`;
  context.print(`  ${run} --topic <topic> --bootstrap-servers 127.0.0.1:39092 --exit-when-idle`);
  context.print(`Results go to ${base}-output/results.csv; all options: ${run} --help`);
  return ExitCode.OK;
}
