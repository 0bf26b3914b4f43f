/**
 * The systemd unit of a Ferry service: what it runs (`ExecStart=`, quoted for systemd), as whom,
 * restarting on failure, stopping with SIGTERM and waiting longer than the processor's stop
 * grace, logging to the journal, its secrets from an `EnvironmentFile=` (never in the unit).
 *
 * @module
 */

/** Everything a unit says. */
export interface ServiceUnit {
  /** The service's name (the unit is `<name>.service`). */
  name: string;
  /** One line for `Description=`. */
  description: string;
  /** The command line, program first (absolute). */
  argv: readonly string[];
  /** The working directory (absolute): relative paths in `argv` are relative to it. */
  workingDirectory: string;
  /** The environment file, when the run needs variables (secrets among them). */
  environmentFile?: string;
  /** The names of the variables the environment file holds (for a comment; never values). */
  environmentNames?: readonly string[];
  /** Variables that are not secrets, set in the unit itself (`DENO_DIR`, `XDG_STATE_HOME`). */
  environment?: Readonly<Record<string, string>>;
  /** The user to run as (system units); none: the manager's (root, or the user's own). */
  user?: string;
  /** `TimeoutStopSec=`: how long systemd waits after SIGTERM before SIGKILL, in seconds. */
  timeoutStopSeconds: number;
  /** A `--user` unit (`WantedBy=default.target`) or a system unit (`multi-user.target`). */
  userUnit: boolean;
}

/** Exit status of a usage or configuration error: not restarted (it would fail again). */
const USAGE_EXIT = 2;

/**
 * Quotes one word of a command line for systemd's `ExecStart=`: `%` and `$` doubled (no
 * specifier or variable expansion), backslashes and double quotes escaped, and the word in
 * double quotes when it holds white space, quotes, a backslash or a `;`, or is empty.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { systemdQuote } from "./unit.ts";
 *
 * assert.equal(systemdQuote("--topic"), "--topic");
 * assert.equal(systemdQuote("my data"), '"my data"');
 * assert.equal(systemdQuote("\\.tif$"), '"\\\\.tif$$"');
 * assert.equal(systemdQuote("100%"), "100%%");
 * ```
 */
export function systemdQuote(word: string): string {
  const escaped = word.replaceAll("%", "%%").replaceAll("$", () => "$$"); // "$$" as a replacement means "$"
  if (word !== "" && !/[\s"'\\;]/.test(word)) return escaped;
  return `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

function environmentLine(name: string, value: string): string {
  return `Environment=${systemdQuote(`${name}=${value}`)}`;
}

/**
 * Renders the unit file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderUnit } from "./unit.ts";
 *
 * const text = renderUnit({
 *   name: "checksum", description: "Ferry processor checksum.ts",
 *   argv: ["/usr/bin/deno", "run", "--allow-ffi", "/srv/checksum.ts", "--topic", "raw"],
 *   workingDirectory: "/srv", environmentFile: "/etc/ferry/checksum.env",
 *   timeoutStopSeconds: 60, userUnit: false, user: "lab",
 * });
 * assert.match(text, /^ExecStart=\/usr\/bin\/deno run --allow-ffi \/srv\/checksum.ts --topic raw$/m);
 * assert.match(text, /^Restart=on-failure$/m);
 * assert.match(text, /^TimeoutStopSec=60$/m);
 * assert.match(text, /^WantedBy=multi-user.target$/m);
 * ```
 *
 * @param unit What the unit says.
 * @returns The unit file's text.
 */
export function renderUnit(unit: ServiceUnit): string {
  const lines = [
    "# Written by `ferry service install`; `ferry service uninstall " +
    `${unit.userUnit ? "--user " : ""}${unit.name}\` removes it.`,
    "[Unit]",
    `Description=${unit.description.replaceAll("\n", " ")}`,
    "Wants=network-online.target",
    "After=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${unit.argv.map(systemdQuote).join(" ")}`,
    `WorkingDirectory=${systemdQuote(unit.workingDirectory)}`,
    ...(unit.user === undefined ? [] : [`User=${unit.user}`]),
    ...Object.entries(unit.environment ?? {}).map(([name, value]) => environmentLine(name, value)),
    ...(unit.environmentFile === undefined ? [] : [
      `# ${unit.environmentFile} (mode 0600) holds ${(unit.environmentNames ?? []).join(", ")}.`,
      `EnvironmentFile=${systemdQuote(unit.environmentFile)}`,
    ]),
    "Restart=on-failure",
    "RestartSec=10",
    `RestartPreventExitStatus=${USAGE_EXIT}`,
    // The first SIGTERM stops the processor gracefully (running work finishes within its stop
    // grace); systemd sends SIGKILL only after TimeoutStopSec, longer than that grace.
    "KillSignal=SIGTERM",
    "KillMode=mixed",
    `TimeoutStopSec=${Math.ceil(unit.timeoutStopSeconds)}`,
    "StandardOutput=journal",
    "StandardError=journal",
    `SyslogIdentifier=${unit.name}`,
    "NoNewPrivileges=yes",
    "",
    "[Install]",
    `WantedBy=${unit.userUnit ? "default.target" : "multi-user.target"}`,
    "",
  ];
  return lines.join("\n");
}
