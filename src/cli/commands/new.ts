/**
 * `ferry new <name>`: writes a starter processor script, with comments, ready to run with a
 * plain `deno run` from any folder. Outside this checkout it also writes a `deno.json` beside
 * the script (see `src/cli/deno_config.ts`) mapping `@ferry/ferry` to this checkout's `mod.ts`
 * (or to JSR with `--jsr`) and Ferry's npm dependencies; an existing `deno.json` is never
 * changed (the printed command then names the checkout's with `--config`).
 *
 * @module
 */

import { Command } from "commander";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ExitCode, UsageError } from "../../command/exit_codes.ts";
import {
  configIn,
  FERRY_IMPORT,
  type FerryCheckout,
  ferryCheckout,
  isInside,
  JSR_PACKAGE,
  mapsFerryDependencies,
  starterDenoJson,
} from "../deno_config.ts";
import { shellQuote } from "../permissions.ts";
import type { CliContext } from "../context.ts";

/** The JSR specifier of Ferry's public API (not published yet: it does not resolve today). */
export const JSR_SPECIFIER = JSR_PACKAGE;

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
 * @param specifier Where to import Ferry from: `@ferry/ferry` (mapped by the `deno.json`
 * beside the script), a relative path to `mod.ts`, or a JSR specifier.
 * @param config A `deno.json` to run with (`--config`), when the one Deno finds for the script
 * does not map Ferry's dependencies.
 * @returns The script's text.
 */
export function starterScript(name: string, specifier: string, config?: string): string {
  const run = `deno run -A${config === undefined ? "" : ` --config ${shellQuote(config)}`} ${
    shellQuote(`${name}.ts`)
  }`;
  return `/**
 * ${name}: a Ferry processor. Ferry rebuilds every file uploaded to a Kafka topic (with
 * \`ferry upload\` or OpenMSIStream) and calls \`process\` on it, in several worker threads.
 *
 * Run it (the topic must exist; --exit-when-idle stops once every file is done):
 *
 *     ${run} --topic my-topic \\
 *       --bootstrap-servers 127.0.0.1:19092 --exit-when-idle
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
    .option(
      "--jsr",
      `map Ferry to JSR ("${JSR_SPECIFIER}", not published yet) instead of this checkout`,
    )
    .addHelpText(
      "after",
      `
Outside this checkout, a deno.json is written beside the script (unless one exists: it is never
changed) mapping "${FERRY_IMPORT}" to this checkout's mod.ts and Ferry's npm dependencies, so a
plain \`deno run -A <name>.ts\` works from any folder. ${JSR_SPECIFIER} is not published yet:
a script made with --jsr does not run until it is.

Examples:
  ferry new tally                 # writes ./tally.ts (and ./deno.json outside the checkout)
  ferry new tally --dir scripts   # writes scripts/tally.ts
  ferry new tally --jsr           # maps ${FERRY_IMPORT} to ${JSR_SPECIFIER}`,
    )
    .action(async (name: string, flags: NewFlags) => {
      context.exitCode = await writeStarter(name, flags, context);
    });
}

/** How the starter script imports Ferry, and what `ferry new` does about `deno.json`. */
export interface StarterPlan {
  /** The import specifier in the script. */
  specifier: string;
  /** The `deno.json` to write beside the script (its path and text), if any. */
  write?: { path: string; text: string };
  /** A `deno.json` the printed command passes with `--config`, if needed. */
  config?: string;
  /** A line to print about the choice (an existing `deno.json` left alone, JSR). */
  notes: string[];
}

/**
 * Works out how a script in `dir` imports Ferry (see the module notes).
 *
 * @param dir The folder the script goes into.
 * @param jsr Whether `--jsr` was given.
 * @param checkout This copy of Ferry, when local.
 * @returns The plan.
 */
export async function planStarter(
  dir: string,
  jsr: boolean,
  checkout: FerryCheckout | undefined,
): Promise<StarterPlan> {
  const notes: string[] = [];
  const jsrTarget = `${JSR_PACKAGE}@^${checkout?.version ?? "0.1.0"}`;
  if (jsr || checkout === undefined) {
    notes.push(
      `Note: ${JSR_PACKAGE} is not published yet, so the script does not run until it is` +
        (checkout === undefined ? "." : "; without --jsr it uses this checkout."),
    );
  }
  if (!jsr && checkout !== undefined && isInside(checkout.root, dir)) {
    // The checkout's deno.json applies: a relative import of mod.ts needs nothing else.
    const path = relative(resolve(dir), checkout.mod).split("\\").join("/");
    return { specifier: path.startsWith(".") ? path : `./${path}`, notes };
  }
  const target = jsr || checkout === undefined
    ? jsrTarget
    : Deno.build.os === "windows"
    ? pathToFileURL(checkout.mod).href
    : checkout.mod;
  const existing = await configIn(dir);
  if (existing === undefined) {
    const path = join(dir, "deno.json");
    notes.unshift(`Wrote ${path}, mapping "${FERRY_IMPORT}" to ${target}.`);
    return {
      specifier: FERRY_IMPORT,
      write: {
        path,
        text: starterDenoJson(
          target,
          checkout?.imports ?? {},
          target === checkout?.mod || target.startsWith("file:") ? checkout?.compileInclude : [],
        ),
      },
      notes,
    };
  }
  const mapsFerry = existing.imports[FERRY_IMPORT] !== undefined &&
    (jsr || checkout === undefined || mapsFerryDependencies(existing));
  if (mapsFerry) {
    notes.unshift(
      `Using ${existing.path}, which maps "${FERRY_IMPORT}" to ${existing.imports[FERRY_IMPORT]}.`,
    );
    return { specifier: FERRY_IMPORT, notes };
  }
  if (jsr || checkout === undefined) {
    notes.unshift(`${existing.path} exists already and was left as it is.`);
    return { specifier: jsrTarget, notes };
  }
  const path = relative(resolve(dir), checkout.mod).split("\\").join("/");
  notes.unshift(
    `${existing.path} exists already and does not map "${FERRY_IMPORT}": left as it is, so the ` +
      `script imports ${checkout.mod} and runs with --config ${checkout.denoJson} (or add ` +
      `"${FERRY_IMPORT}" and Ferry's npm packages from that file to its "imports").`,
  );
  return {
    specifier: path.startsWith(".") ? path : `./${path}`,
    config: checkout.denoJson,
    notes,
  };
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
  try {
    await Deno.lstat(path);
    throw new UsageError(
      `File ${JSON.stringify(path)} exists already; choose another name or --dir, or remove it.`,
    );
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await Deno.mkdir(flags.dir, { recursive: true });
  const plan = await planStarter(flags.dir, flags.jsr ?? false, await ferryCheckout());
  try {
    await Deno.writeTextFile(path, starterScript(base, plan.specifier, plan.config), {
      createNew: true,
    });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new UsageError(
        `File ${JSON.stringify(path)} exists already; choose another name or --dir, or remove it.`,
      );
    }
    throw error;
  }
  if (plan.write !== undefined) {
    try {
      await Deno.writeTextFile(plan.write.path, plan.write.text, { createNew: true });
    } catch (error) {
      // Written by someone else in between: theirs stays.
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
  }
  context.print(`Wrote ${path} (processor "${base}", importing ${plan.specifier}).`);
  for (const note of plan.notes) context.print(note);
  const run = `deno run -A${
    plan.config === undefined ? "" : ` --config ${shellQuote(plan.config)}`
  } ${shellQuote(path)}`;
  context.print("Run it (from any folder, with the path to the script):");
  context.print(`  ${run} --topic <topic> --bootstrap-servers 127.0.0.1:19092 --exit-when-idle`);
  context.print(`Results go to ${base}-output/results.csv; all options: ${run} --help`);
  return ExitCode.OK;
}
