/**
 * The `ferry` program: wires the subcommands (each in its own module under `commands/`), maps
 * OpenMSIStream's snake_case flags to Ferry's, and turns errors into exit codes: usage and
 * configuration errors exit 2, runtime errors exit 1.
 *
 * @module
 */

import { Command, CommanderError } from "commander";
import { getLogger } from "@logtape/logtape";
import { ConfigError } from "../config/config_error.ts";
import { KafkaConfigError } from "../kafka/mod.ts";
import { createDownloadCommand, DOWNLOAD_ALIASES } from "./commands/download.ts";
import { createMigrateCommand, MIGRATE_ALIASES } from "./commands/migrate.ts";
import { createNewCommand } from "./commands/new.ts";
import { createPermissionsCommand } from "./commands/permissions.ts";
import { createStatusCommand } from "./commands/status.ts";
import { createRetryCommand } from "./commands/retry.ts";
import { createUploadCommand, UPLOAD_ALIAS_MARKER, UPLOAD_ALIASES } from "./commands/upload.ts";
import type { CliContext, FlagAliases } from "./context.ts";
import { ExitCode, UsageError } from "../command/exit_codes.ts";
import { closeLogging } from "../command/logging.ts";
import { stderrTerminal } from "../command/terminal.ts";
import { StopSignals } from "../command/stop_signals.ts";
import { StandardOutput } from "./output.ts";
import { createTopicCommand } from "./commands/topic.ts";
import { createServiceCommand, SERVICE_ALIASES } from "./commands/service.ts";
import { createRepartitionCommand } from "./commands/repartition.ts";
import { FERRY_VERSION, versionText } from "./version.ts";

/** A subcommand: how to build it, and the OpenMSIStream flag names it accepts. */
export interface SubcommandSpec {
  /** The subcommand's name, as typed. */
  name: string;
  /** Builds the commander command. */
  create(context: CliContext): Command;
  /** snake_case aliases of its flags. */
  aliases?: FlagAliases;
  /** A flag added to the arguments when any alias was used (OpenMSIStream's defaults). */
  aliasMarker?: string;
}

/** The subcommands of `ferry`; other modules add theirs here. */
export const SUBCOMMANDS: SubcommandSpec[] = [
  {
    name: "upload",
    create: createUploadCommand,
    aliases: UPLOAD_ALIASES,
    aliasMarker: UPLOAD_ALIAS_MARKER,
  },
  { name: "new", create: createNewCommand },
  { name: "download", create: createDownloadCommand, aliases: DOWNLOAD_ALIASES },
  { name: "status", create: createStatusCommand },
  { name: "retry", create: createRetryCommand },
  { name: "permissions", create: createPermissionsCommand },
  { name: "topic", create: createTopicCommand },
  { name: "migrate", create: createMigrateCommand, aliases: MIGRATE_ALIASES },
  { name: "service", create: createServiceCommand, aliases: SERVICE_ALIASES },
  { name: "repartition", create: createRepartitionCommand },
];

const logger = getLogger(["ferry", "cli"]);

/**
 * Standard output of the program: results, `--help`, `--version`. A reader that went away
 * (`ferry status DIR | head -1`) ends the output quietly; the exit status stays the command's.
 */
const stdout = new StandardOutput();

/**
 * Rewrites OpenMSIStream's flag spellings (`--topic_name X`, `--chunk_size=1024`) into Ferry's
 * for the subcommand named in `args`; other arguments are kept. After `--` nothing is touched.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyAliases } from "./program.ts";
 *
 * assert.deepEqual(
 *   applyAliases(["upload", "d", "--topic_name", "t", "--chunk_size=1024"], [
 *     { name: "upload", create: () => { throw new Error(); }, aliases: {
 *       "--topic_name": "--topic", "--chunk_size": "--chunk-size" } },
 *   ]),
 *   ["upload", "d", "--topic", "t", "--chunk-size=1024"],
 * );
 * ```
 *
 * @param args The arguments after the program name.
 * @param specs The subcommands.
 * @returns The rewritten arguments.
 */
export function applyAliases(args: readonly string[], specs: readonly SubcommandSpec[]): string[] {
  const name = args.find((a) => !a.startsWith("-"));
  const spec = specs.find((s) => s.name === name);
  const aliases = spec?.aliases ?? {};
  const out: string[] = [];
  let rest = false;
  let aliased = false;
  for (const arg of args) {
    if (rest || !arg.startsWith("--")) {
      if (arg === "--" && !rest && aliased && spec?.aliasMarker) out.push(spec.aliasMarker);
      out.push(arg);
      if (arg === "--") rest = true;
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const renamed = aliases[flag];
    if (renamed !== undefined) aliased = true;
    out.push(renamed === undefined ? arg : renamed + (eq === -1 ? "" : arg.slice(eq)));
  }
  if (!rest && aliased && spec?.aliasMarker) out.push(spec.aliasMarker);
  return out;
}

function applyToAll(command: Command, fn: (c: Command) => void): void {
  fn(command);
  for (const sub of command.commands) applyToAll(sub, fn);
}

/**
 * Builds the program (exposed for tests and for help output).
 *
 * @param context The run's context.
 * @param specs The subcommands; default {@linkcode SUBCOMMANDS}.
 * @returns The commander program, with exit overridden (it throws instead of exiting).
 */
export function createProgram(
  context: CliContext,
  specs: readonly SubcommandSpec[] = SUBCOMMANDS,
): Command {
  const program = new Command("ferry")
    .description(
      "Move data files through Apache Kafka in OpenMSIStream's chunk format and run your " +
        "TypeScript on them.",
    )
    .option("-V, --version", "output Ferry's version and the librdkafka it loads")
    .on("option:version", () => {
      stdout.writeLine(versionText());
      throw new CommanderError(0, "commander.version", FERRY_VERSION);
    })
    .addHelpText(
      "after",
      `
Environment variables (flags win):
  FERRY_BOOTSTRAP_SERVERS   Kafka bootstrap servers
  FERRY_TOPIC               topic
  FERRY_CONFIG              OpenMSIStream-style INI config file
  FERRY_CONFIG_DIR          where --config NAME finds NAME.config (default ~/.config/ferry;
                            OpenMSIStream's OPENMSISTREAM_CONFIG_FILE_DIR is read too)
  FERRY_LOG_LEVEL           console log level
  FERRY_RDKAFKA_PATH        full path of librdkafka (default: the system library)

Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.
Run "ferry <command> --help" for a command's options.`,
    );
  for (const spec of specs) program.addCommand(spec.create(context));
  applyToAll(program, (c) => {
    c.exitOverride();
    c.showHelpAfterError("(run with --help for the options)");
    c.configureOutput({
      writeOut: (text) => stdout.write(text),
      writeErr: (text) => stderrTerminal.writeLine(text.replace(/\n$/, "")),
    });
  });
  return program;
}

/**
 * Runs `ferry` with `args` (the arguments after the program name); resolves with the exit code.
 * The first SIGINT/SIGTERM (or `quit` typed on a terminal) aborts the context's signal (the command finishes what it can and
 * prints its summary); a second one exits at once with 130.
 *
 * @example
 * ```ts ignore
 * import { runCli } from "./program.ts";
 * Deno.exit(await runCli(Deno.args));
 * ```
 *
 * @param args The command-line arguments.
 * @returns The exit code.
 */
export async function runCli(args: readonly string[]): Promise<number> {
  const controller = new AbortController();
  const context: CliContext = {
    exitCode: ExitCode.OK,
    signal: controller.signal,
    print: (line) => stdout.writeLine(line),
  };
  using _signals = new StopSignals(() => {
    logger.warn("Stopping (a second Ctrl-C stops at once).");
    controller.abort();
  });
  try {
    const program = createProgram(context);
    await program.parseAsync(applyAliases(args, SUBCOMMANDS), { from: "user" });
    return context.exitCode;
  } catch (error) {
    return reportError(error);
  } finally {
    await closeLogging();
  }
}

function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // Help and version exit 0; every parsing error (already printed by commander) exits 2.
    return error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
  }
  if (
    error instanceof UsageError || error instanceof ConfigError ||
    error instanceof KafkaConfigError
  ) {
    stderrTerminal.writeLine(`ferry: ${error.message}`);
    return ExitCode.USAGE;
  }
  const message = error instanceof Error ? error.message : String(error);
  stderrTerminal.writeLine(`ferry: ${message}`);
  logger.debug("{stack}", { stack: error instanceof Error ? error.stack ?? "" : "" });
  return ExitCode.FAILURE;
}
