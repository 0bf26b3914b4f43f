/**
 * `ferry service install|uninstall|status|logs|start|stop|restart`: runs a processor (a script,
 * `ferry download`, `ferry upload --watch`, or a compiled binary) as a systemd service, a
 * system unit or a `--user` unit (OpenMSIStream's `InstallService` and `ManageService`). The
 * unit (`src/service/unit.ts`) runs the processor with the narrowest permissions `ferry
 * permissions` computes (`src/service/run_line.ts`), restarts it on failure, stops it with
 * SIGTERM and waits longer than its stop grace, logs to the journal, and reads the variables
 * its config file names (secrets) from an environment file only its owner reads
 * (`src/service/env_file.ts`).
 *
 * @module
 */

import { basename, extname } from "node:path";
import { Command } from "commander";
import { UsageError } from "../../command/exit_codes.ts";
import { collect } from "../kafka_options.ts";
import type { CliContext, FlagAliases } from "../context.ts";
import { collectEnv, writeEnvFile } from "../../service/env_file.ts";
import { runLine } from "../../service/run_line.ts";
import {
  checkServiceName,
  journal,
  requireSystemd,
  servicePaths,
  systemctl,
  SystemdError,
} from "../../service/systemd.ts";
import { renderUnit } from "../../service/unit.ts";

/** OpenMSIStream's `InstallService`/`ManageService` flag names Ferry accepts. */
export const SERVICE_ALIASES: FlagAliases = {
  "--service_name": "--name",
  "--service-name": "--name",
  "--remove_env_vars": "--remove-env-file",
  "--remove-env-vars": "--remove-env-file",
};

/** Seconds systemd waits beyond the processor's stop grace before it kills it. */
const STOP_MARGIN_SECONDS = 30;

interface InstallFlags {
  name?: string;
  user?: boolean;
  runAs?: string;
  env: string[];
  start: boolean;
  dryRun?: boolean;
}

/** The service name when none is given: `ferry-<script name>`, `ferry-download`, `ferry-upload`. */
function defaultName(words: readonly string[]): string {
  const first = words[0] ?? "";
  const base = basename(first, extname(first)).replace(/[^A-Za-z0-9_.-]/g, "-");
  return `ferry-${base}`;
}

function checkedName(name: string): string {
  try {
    checkServiceName(name);
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
  return name;
}

async function userIds(name: string): Promise<{ uid: number; gid: number } | undefined> {
  const passwd = await Deno.readTextFile("/etc/passwd");
  for (const line of passwd.split("\n")) {
    const fields = line.split(":");
    if (fields[0] === name) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  return undefined;
}

async function install(words: string[], flags: InstallFlags, context: CliContext): Promise<void> {
  const user = flags.user ?? false;
  const name = checkedName(flags.name ?? defaultName(words));
  if (user && flags.runAs !== undefined) {
    throw new UsageError('"--run-as" is for system units: a --user unit runs as its user.');
  }
  const runAs = user ? undefined : flags.runAs ?? Deno.env.get("SUDO_USER");
  if (runAs !== undefined && !flags.dryRun && (await userIds(runAs)) === undefined) {
    throw new UsageError(`User ${JSON.stringify(runAs)} (--run-as) does not exist.`);
  }
  const line = await runLine(words);
  const entries = await collectEnv(flags.env, line.configFile);
  // The variables the environment file sets are read by the processor: --allow-env them.
  const withEnv = entries.length === 0
    ? line
    : await runLine(words, { envNames: entries.map((e) => e.name) });
  const paths = servicePaths(name, user);
  const unit = renderUnit({
    name,
    description: line.description,
    argv: withEnv.argv,
    workingDirectory: Deno.cwd(),
    ...(entries.length === 0 ? {} : {
      environmentFile: paths.envFile,
      environmentNames: entries.map((e) => e.name),
    }),
    environment: withEnv.environment,
    ...(runAs === undefined ? {} : { user: runAs }),
    timeoutStopSeconds: line.stopGraceSeconds + STOP_MARGIN_SECONDS,
    userUnit: user,
  });
  if (flags.dryRun) {
    context.print(unit.trimEnd());
    return;
  }
  await requireSystemd(user);
  if (!user && Deno.uid() !== 0) {
    throw new UsageError(
      "Installing a system unit writes /etc/systemd/system and needs root: run it with sudo, " +
        "or install a unit of your own with --user.",
    );
  }
  if (entries.length > 0) {
    // A system unit's file is read by systemd itself (root): root keeps it, mode 0600.
    await writeEnvFile(paths.envFile, entries);
  }
  await Deno.mkdir(paths.unit.slice(0, paths.unit.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(paths.unit, unit, { mode: 0o644 });
  await checked(systemctl(user, ["daemon-reload"]), "daemon-reload");
  await checked(systemctl(user, ["enable", `${name}.service`]), `enable ${name}`);
  if (flags.start) await checked(systemctl(user, ["start", `${name}.service`]), `start ${name}`);
  context.print(`Installed ${paths.unit}${entries.length > 0 ? ` and ${paths.envFile}` : ""}.`);
  context.print(
    `${flags.start ? "Started" : "Enabled"} ${name}.service; see \`ferry service status ` +
      `${user ? "--user " : ""}${name}\` and \`ferry service logs ${
        user ? "--user " : ""
      }${name}\`.`,
  );
}

async function checked(result: Promise<{ code: number; output: string }>, what: string) {
  const { code, output } = await result;
  if (code !== 0) {
    throw new SystemdError(`systemctl ${what} failed (exit ${code}): ${output.trim()}`);
  }
}

async function uninstall(
  name: string,
  flags: { user?: boolean; removeEnvFile?: boolean },
  context: CliContext,
): Promise<void> {
  const user = flags.user ?? false;
  checkedName(name);
  await requireSystemd(user);
  const paths = servicePaths(name, user);
  const disabled = await systemctl(user, ["disable", "--now", `${name}.service`]);
  if (disabled.code !== 0 && !/not (be )?found|does not exist/i.test(disabled.output)) {
    throw new SystemdError(`systemctl disable --now ${name} failed: ${disabled.output.trim()}`);
  }
  const removed: string[] = [];
  for (const path of [paths.unit, ...(flags.removeEnvFile ? [paths.envFile] : [])]) {
    try {
      await Deno.remove(path);
      removed.push(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  await checked(systemctl(user, ["daemon-reload"]), "daemon-reload");
  await systemctl(user, ["reset-failed", `${name}.service`]);
  context.print(
    removed.length === 0
      ? `No unit file for ${name} (${paths.unit}); it is stopped and disabled.`
      : `Stopped and removed ${name}: ${removed.join(", ")}.`,
  );
}

/**
 * Builds the `service` subcommand.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createServiceCommand } from "./service.ts";
 *
 * const context = { exitCode: 0, signal: new AbortController().signal, print: () => {} };
 * const command = createServiceCommand(context);
 * assert.deepEqual(command.commands.map((c) => c.name()).slice(0, 4), [
 *   "install", "uninstall", "status", "logs",
 * ]);
 * ```
 *
 * @param context Where actions print and set their exit code.
 * @returns The command.
 */
export function createServiceCommand(context: CliContext): Command {
  const service = new Command("service")
    .summary("run a processor as a systemd service (install, uninstall, status, logs)")
    .description(
      "Run a processor as a systemd service (OpenMSIStream's InstallService and " +
        "ManageService): a system unit (as root), or a unit of your own with --user.",
    );
  service.command("install")
    .summary("write, enable and start the unit of a processor command")
    .description(
      "Write a systemd unit that runs the processor command given after -- (a processor " +
        "script, download ..., upload --watch ..., or a compiled binary) with the narrowest " +
        "Deno permissions (as `ferry permissions`), Restart=on-failure, SIGTERM and a " +
        "TimeoutStopSec 30 s above its --stop-grace, logs to the journal; the variables its " +
        "config file names ($VAR, such as a SASL password) and those given with --env go into " +
        "an environment file of mode 0600 (/etc/ferry/<name>.env, or ~/.config/ferry/ with " +
        "--user), never into the unit. Then enable and start it.",
    )
    .argument("<command...>", "the processor command, after --")
    .option(
      "--name <name>",
      "the service's name (alias --service_name; default ferry-<script name>, ferry-download, " +
        "ferry-upload)",
    )
    .option("--user", "a unit of your own (~/.config/systemd/user), not a system unit")
    .option(
      "--run-as <user>",
      "system units: the user it runs as (default: $SUDO_USER under sudo, else root)",
    )
    .option(
      "--env <NAME[=VALUE]>",
      "also put this variable (its value now, or VALUE) in the environment file (repeatable)",
      collect,
      [],
    )
    .option("--no-start", "enable the unit without starting it now")
    .option("--dry-run", "print the unit and write nothing")
    .addHelpText(
      "after",
      `
Environment variables: SUDO_USER (the default of --run-as), HOME and XDG_CONFIG_HOME (where --user
units and environment files go), DENO_DIR (Deno's cache, which the unit keeps using),
XDG_STATE_HOME (where upload --watch keeps its upload log), and each variable the config file
names ($VAR), whose value goes into the environment file.

Examples:
  ferry service install --dry-run --name checksum -- examples/checksum.ts --topic raw \\
    --output-dir /data/checksums --config /etc/ferry/lab.config
  sudo ferry service install --run-as lab -- download --topic raw --output-dir /data/raw
  ferry service install --user -- upload --watch /data/instrument --topic raw -c lab.config`,
    )
    .action(async (words: string[], flags: InstallFlags) => {
      await install(words, flags, context);
    });
  service.command("uninstall")
    .summary("stop, disable and remove a service's unit")
    .argument("<name>", "the service's name")
    .option("--user", "a --user unit")
    .option(
      "--remove-env-file",
      "also remove its environment file (alias --remove_env_vars)",
    )
    .action(async (name: string, flags: { user?: boolean; removeEnvFile?: boolean }) => {
      await uninstall(name, flags, context);
    });
  service.command("status")
    .summary("systemctl status of a service")
    .argument("<name>", "the service's name")
    .option("--user", "a --user unit")
    .action(async (name: string, flags: { user?: boolean }) => {
      checkedName(name);
      await requireSystemd(flags.user ?? false);
      const result = await systemctl(flags.user ?? false, [
        "status",
        "--no-pager",
        "--full",
        `${name}.service`,
      ]);
      context.print(result.output.trimEnd());
      context.exitCode = result.code === 0 ? 0 : 1;
    });
  service.command("logs")
    .summary("a service's lines in the journal")
    .argument("<name>", "the service's name")
    .option("--user", "a --user unit")
    .option("-n, --lines <n>", "how many of the last lines", (v) => Number(v), 100)
    .option("-f, --follow", "keep printing new lines")
    .action(async (name: string, flags: { user?: boolean; lines: number; follow?: boolean }) => {
      checkedName(name);
      await requireSystemd(flags.user ?? false);
      context.exitCode = await journal(name, flags.user ?? false, {
        lines: flags.lines,
        follow: flags.follow ?? false,
      });
    });
  for (const verb of ["start", "stop", "restart"]) {
    service.command(verb)
      .summary(`systemctl ${verb} a service`)
      .argument("<name>", "the service's name")
      .option("--user", "a --user unit")
      .action(async (name: string, flags: { user?: boolean }) => {
        checkedName(name);
        await requireSystemd(flags.user ?? false);
        await checked(systemctl(flags.user ?? false, [verb, `${name}.service`]), `${verb} ${name}`);
      });
  }
  return service;
}
