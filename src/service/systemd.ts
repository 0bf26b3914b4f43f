/**
 * Where a service's files go and how systemd is asked to act on them: system units in
 * `/etc/systemd/system` with their environment file in `/etc/ferry`, `--user` units in
 * `~/.config/systemd/user` with theirs in `~/.config/ferry`; `systemctl` and `journalctl`, each
 * with `--user` for a user unit; and a clear error where systemd is not there or not running.
 *
 * @module
 */

import { join } from "node:path";

/** Raised when systemd is missing or not running: the message says what to do. */
export class SystemdError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "SystemdError";
  }
}

/** A service's files. */
export interface ServicePaths {
  /** The unit file. */
  unit: string;
  /** The environment file. */
  envFile: string;
}

/**
 * The files of service `name`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { servicePaths } from "./systemd.ts";
 *
 * assert.deepEqual(servicePaths("checksum", false), {
 *   unit: "/etc/systemd/system/checksum.service",
 *   envFile: "/etc/ferry/checksum.env",
 * });
 * assert.equal(
 *   servicePaths("checksum", true, { HOME: "/home/lab" }).unit,
 *   "/home/lab/.config/systemd/user/checksum.service",
 * );
 * ```
 *
 * @param name The service's name.
 * @param user Whether it is a `--user` unit.
 * @param env `HOME` and `XDG_CONFIG_HOME`; default this process's.
 */
export function servicePaths(
  name: string,
  user: boolean,
  env: { HOME?: string; XDG_CONFIG_HOME?: string } = {
    HOME: Deno.env.get("HOME"),
    XDG_CONFIG_HOME: Deno.env.get("XDG_CONFIG_HOME"),
  },
): ServicePaths {
  if (!user) {
    return { unit: `/etc/systemd/system/${name}.service`, envFile: `/etc/ferry/${name}.env` };
  }
  const config = env.XDG_CONFIG_HOME ?? join(env.HOME ?? "~", ".config");
  return {
    unit: join(config, "systemd", "user", `${name}.service`),
    envFile: join(config, "ferry", `${name}.env`),
  };
}

/**
 * Checks that a service name is one systemd accepts and that reads well in commands.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkServiceName } from "./systemd.ts";
 *
 * checkServiceName("ferry-checksum");
 * assert.throws(() => checkServiceName("a b"), /"a b"/);
 * ```
 */
export function checkServiceName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,200}$/.test(name) || name.endsWith(".service")) {
    throw new RangeError(
      `Service name ${JSON.stringify(name)} must be letters, digits, "-", "_", "." or "@" ` +
        '(without ".service").',
    );
  }
}

/** What a `systemctl` or `journalctl` run left. */
export interface ToolResult {
  /** Its exit code. */
  code: number;
  /** Standard output and error, together. */
  output: string;
}

async function which(tool: string): Promise<boolean> {
  for (const folder of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    try {
      if ((await Deno.stat(join(folder, tool))).isFile) return true;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory)) {
        throw error;
      }
    }
  }
  return false;
}

/**
 * Checks that systemd can act on units: `systemctl` is installed and systemd runs as the
 * system's manager (`/run/systemd/system` exists, as `sd_booted()` checks), or, for a user
 * unit, the user's manager answers.
 *
 * @throws {SystemdError} saying what is missing and what to do instead.
 */
export async function requireSystemd(user: boolean): Promise<void> {
  if (!(await which("systemctl"))) {
    throw new SystemdError(
      "systemctl is not installed: `ferry service` needs systemd (Debian: apt-get install " +
        "systemd). Use --dry-run to print the unit and run its ExecStart line under another " +
        "supervisor.",
    );
  }
  try {
    await Deno.stat("/run/systemd/system");
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new SystemdError(
      "systemd is not running on this machine (no /run/systemd/system: a container, or " +
        "another init system): `ferry service` needs systemd as the service manager. Use " +
        "--dry-run to print the unit and run its ExecStart line under another supervisor.",
    );
  }
  if (user) {
    const result = await systemctl(true, ["is-system-running"]);
    if (/Failed to connect|No medium found|DBUS_SESSION_BUS_ADDRESS/.test(result.output)) {
      throw new SystemdError(
        `Your systemd user manager does not answer (${result.output.trim()}): log in ` +
          "through a session (or `loginctl enable-linger $USER`), or install a system unit " +
          "as root without --user.",
      );
    }
  }
}

async function run(tool: string, args: readonly string[]): Promise<ToolResult> {
  const output = await new Deno.Command(tool, {
    args: [...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    output: decoder.decode(output.stdout) + decoder.decode(output.stderr),
  };
}

/** Runs `systemctl [--user] <args>`. */
export function systemctl(user: boolean, args: readonly string[]): Promise<ToolResult> {
  return run("systemctl", [...(user ? ["--user"] : []), ...args]);
}

/**
 * Runs `journalctl` for a service's unit, its output passed through (`--follow` keeps going).
 *
 * @returns The exit code.
 */
export async function journal(
  name: string,
  user: boolean,
  options: { lines: number; follow: boolean },
): Promise<number> {
  const child = new Deno.Command("journalctl", {
    args: [
      ...(user ? ["--user-unit", `${name}.service`] : ["--unit", `${name}.service`]),
      "--lines",
      String(options.lines),
      "--no-pager",
      ...(options.follow ? ["--follow"] : []),
    ],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  return (await child.status).code;
}
