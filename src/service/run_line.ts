/**
 * What a service runs: the processor command line given to `ferry service install` (after `--`)
 * turned into the unit's absolute command line with the narrowest Deno permissions
 * (`src/cli/permissions.ts`, what `ferry permissions` prints). Four kinds: a processor script
 * (`deno run`), `download` (`ferry download`), `upload --watch` (`ferry upload`), and a binary
 * compiled with `deno compile` (its permissions were fixed when it was compiled).
 *
 * @module
 */

import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { UsageError } from "../command/exit_codes.ts";
import { userStateHome } from "../upload/upload_log.ts";
import { normalizeAliases } from "../command/processor_options.ts";
import {
  definesRecordProcessor,
  processorPermissions,
  recordMemberPermissions,
} from "../cli/permissions.ts";
import type { CliContext, FlagAliases } from "../cli/context.ts";
import { createDownloadCommand, DOWNLOAD_ALIASES } from "../cli/commands/download.ts";
import { createUploadCommand, UPLOAD_ALIASES } from "../cli/commands/upload.ts";
import { WATCH_V8_FLAGS } from "../upload/watcher.ts";

/** The kind of program a service runs. */
export type RunKind = "script" | "download" | "upload" | "binary";

/** The command line a unit runs, and what it needs around it. */
export interface RunLine {
  /** The kind of program. */
  kind: RunKind;
  /** The command line, program first, every path Ferry added absolute. */
  argv: string[];
  /** The processor's stop grace in seconds (`--stop-grace`, default 30). */
  stopGraceSeconds: number;
  /** The config file the run reads, when it has one. */
  configFile?: string;
  /** Variables that are not secrets, for the unit's `Environment=`. */
  environment: Record<string, string>;
  /** A short description of the program, for the unit's `Description=`. */
  description: string;
}

/** Where the run line is built: for tests; defaults are this process's. */
export interface RunLineContext {
  /** The Deno executable; default `Deno.execPath()`. */
  deno?: string;
  /** Ferry's folder (holding `cli.ts`); default this copy's. */
  ferryRoot?: string;
  /** The working directory relative paths resolve against; default `Deno.cwd()`. */
  cwd?: string;
  /** Environment variables; default `Deno.env.get`. */
  env?: (name: string) => string | undefined;
  /** More variable names the run reads (from the environment file). */
  envNames?: readonly string[];
}

/** The value of a flag in `args` (`--flag v`, `--flag=v`, any of its spellings), or undefined. */
export function flagValue(args: readonly string[], names: readonly string[]): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") break;
    for (const name of names) {
      if (arg === name && i + 1 < args.length) value = args[i + 1];
      else if (arg.startsWith(`${name}=`)) value = arg.slice(name.length + 1);
    }
  }
  return value;
}

const OUTPUT_DIR = ["--output-dir", "-o", "--output_dir"];
const CONFIG = ["--config", "-c"];
const LOG_FILE = ["--log-file", "--logger_file_path", "--logger-file-path"];
const REPORTING = [
  "--heartbeat-topic",
  "--heartbeat_topic_name",
  "--log-topic",
  "--log_topic_name",
];

function stopGrace(args: readonly string[]): number {
  const given = flagValue(args, ["--stop-grace"]);
  if (given === undefined) return 30;
  const seconds = Number(given);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new UsageError(`"--stop-grace" is ${JSON.stringify(given)}, not a number of seconds.`);
  }
  return seconds;
}

/**
 * Reads a `ferry download` or `ferry upload` command line with that command's own parser (its
 * action is not run): its operands and option values, or a usage error for an unknown option, so
 * that a mistake shows at install time rather than in the journal.
 */
function parseFerryCommand(
  name: string,
  create: (context: CliContext) => Command,
  aliases: FlagAliases,
  args: readonly string[],
): { operands: string[]; options: Record<string, unknown> } {
  const context = { exitCode: 0, signal: new AbortController().signal, print: () => {} };
  const command = create(context);
  const { operands, unknown } = command.parseOptions(normalizeAliases(args, aliases));
  if (unknown.length > 0) {
    throw new UsageError(
      `Option ${JSON.stringify(unknown[0])} is not one of \`ferry ${name}\`'s (see ` +
        `\`ferry ${name} --help\`).`,
    );
  }
  return { operands, options: command.opts() };
}

function localFerryRoot(): string {
  return fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");
}

async function isFile(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    const info = await Deno.stat(path);
    return info.isFile ? info : undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Builds the unit's command line from the processor command given to `ferry service install`.
 *
 * @example
 * ```ts ignore
 * import { runLine } from "./run_line.ts";
 * const line = await runLine(["examples/checksum.ts", "--topic", "raw", "--output-dir", "out"]);
 * // line.argv: ["/…/deno", "run", "--allow-ffi", "--allow-read=…", …, "/…/examples/checksum.ts", "--topic", …]
 * ```
 *
 * @param words The processor command: a script and its arguments, `download …`,
 *   `upload --watch …`, or a compiled binary and its arguments.
 * @param context Where it runs (defaults: this process).
 * @returns The command line and what the unit needs.
 * @throws {UsageError} for a command that cannot run as a service, or a missing output
 *   directory.
 */
export async function runLine(
  words: readonly string[],
  context: RunLineContext = {},
): Promise<RunLine> {
  if (words.length === 0) {
    throw new UsageError(
      "No processor command given: put it after --, such as `ferry service install --name " +
        "checksum -- examples/checksum.ts --topic raw --output-dir out`.",
    );
  }
  const cwd = context.cwd ?? Deno.cwd();
  const env = context.env ?? ((name: string) => Deno.env.get(name));
  const deno = context.deno ?? Deno.execPath();
  const root = context.ferryRoot ?? localFerryRoot();
  const [first, ...args] = words;
  const abs = (path: string) => isAbsolute(path) ? path : resolve(cwd, path);
  const configGiven = flagValue(args, CONFIG);
  const configFile = configGiven === undefined ? undefined : abs(configGiven);
  const logFile = flagValue(args, LOG_FILE);
  const grace = stopGrace(args);
  const sys = REPORTING.some((flag) => flagValue(args, [flag]) !== undefined) &&
      flagValue(args, ["--heartbeat-program-id", "--heartbeat_program_id"]) === undefined
    ? ["hostname"] // the default program id of heartbeats and log messages
    : [];
  // --metrics-port listens on loopback: that port only (any port for 0, a free one).
  const metricsPort = flagValue(args, ["--metrics-port"]);
  const net = metricsPort === undefined
    ? []
    : [metricsPort === "0" ? "127.0.0.1" : `127.0.0.1:${metricsPort}`];
  // Processors and downloads join their group as static members, named after the host.
  const memberSys = [...new Set([...sys, "hostname"])];
  const denoDir = env("DENO_DIR") ?? join(env("HOME") ?? "/root", ".cache", "deno");
  const common = {
    configFile,
    logFile: logFile === undefined ? undefined : abs(logFile),
    env: context.envNames,
    sys,
    net,
    ferryRoot: root,
  };
  const denoRun = (permissions: { flags: string[]; denoConfig?: string }) => [
    deno,
    "run",
    ...(permissions.denoConfig === undefined ? [] : ["--config", permissions.denoConfig]),
    ...permissions.flags,
  ];
  if (first === "download") {
    const parsed = parseFerryCommand("download", createDownloadCommand, DOWNLOAD_ALIASES, args);
    const outputDir = parsed.options.outputDir as string | undefined ?? parsed.operands[0];
    if (outputDir === undefined) {
      throw new UsageError(
        "The download command has no output directory: give --output-dir DIR (the service's " +
          "permissions cover it).",
      );
    }
    const cli = join(root, "cli.ts");
    const permissions = await processorPermissions({
      script: cli,
      outputDir: abs(outputDir),
      ...common,
      sys: memberSys,
    });
    return {
      kind: "download",
      argv: [...denoRun(permissions), WATCH_V8_FLAGS, cli, "download", ...args],
      stopGraceSeconds: grace,
      configFile,
      environment: { DENO_DIR: denoDir },
      description: `Ferry download into ${abs(outputDir)}`,
    };
  }
  if (first === "upload") {
    const parsed = parseFerryCommand("upload", createUploadCommand, UPLOAD_ALIASES, args);
    if (parsed.options.watch !== true) {
      throw new UsageError(
        "A service runs `upload --watch`: a one-off upload ends, and systemd would not keep it " +
          "running. Add --watch.",
      );
    }
    const folder = parsed.operands[0];
    if (folder === undefined) {
      throw new UsageError("The upload command names no folder to watch.");
    }
    // The upload log's place is fixed in the unit, so that the service uses the same log as
    // the uploads run by hand, whichever user it runs as.
    const stateHome = env("XDG_STATE_HOME") ?? join(env("HOME") ?? "/root", ".local", "state");
    const logDir = parsed.options.uploadLogDir as string | undefined;
    const cli = join(root, "cli.ts");
    const permissions = await processorPermissions({
      script: cli,
      read: [abs(folder)],
      write: [logDir === undefined ? join(stateHome, "ferry") : abs(logDir)],
      ...common,
      env: [...context.envNames ?? [], "XDG_STATE_HOME", "HOME"],
    });
    return {
      kind: "upload",
      argv: [...denoRun(permissions), WATCH_V8_FLAGS, cli, "upload", ...args],
      stopGraceSeconds: grace,
      configFile,
      environment: { DENO_DIR: denoDir, XDG_STATE_HOME: stateHome },
      description: `Ferry upload --watch of ${abs(folder)}`,
    };
  }
  const path = abs(first);
  if (/\.(ts|tsx|js|mjs|mts)$/.test(first)) {
    if (await isFile(path) === undefined) {
      throw new UsageError(`Script ${JSON.stringify(first)} does not exist.`);
    }
    const records = definesRecordProcessor(await Deno.readTextFile(path));
    const outputDir = flagValue(args, OUTPUT_DIR);
    if (outputDir === undefined && !records) {
      throw new UsageError(
        `Give the processor's --output-dir: the service's permissions cover that folder only ` +
          `(${JSON.stringify(first)} runs a file processor).`,
      );
    }
    // A record processor claims its static-membership slot in the state folder.
    const member = records ? recordMemberPermissions(env) : { write: [], env: [] };
    const permissions = await processorPermissions({
      script: path,
      ...(outputDir === undefined ? {} : { outputDir: abs(outputDir) }),
      ...common,
      write: member.write,
      env: [...context.envNames ?? [], ...member.env],
      sys: memberSys,
    });
    return {
      kind: "script",
      argv: [...denoRun(permissions), WATCH_V8_FLAGS, path, ...args],
      stopGraceSeconds: grace,
      configFile,
      // The unit finds the same slots as the processor run by hand.
      environment: records
        ? { DENO_DIR: denoDir, XDG_STATE_HOME: userStateHome(env) }
        : { DENO_DIR: denoDir },
      description: `Ferry ${records ? "record processor" : "processor"} ${path}`,
    };
  }
  const info = await isFile(path);
  if (info === undefined) {
    throw new UsageError(
      `${JSON.stringify(first)} is not a processor script (.ts, .js), "download", "upload" or ` +
        "an executable file.",
    );
  }
  if (info.mode !== null && (info.mode & 0o111) === 0) {
    throw new UsageError(`${JSON.stringify(first)} is not executable (chmod +x it).`);
  }
  return {
    kind: "binary",
    argv: [path, ...args],
    stopGraceSeconds: grace,
    configFile,
    environment: {},
    description: `Ferry processor ${path} (compiled)`,
  };
}
