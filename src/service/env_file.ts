/**
 * A service's environment file: the variables its config file names (`$VAR`, as OpenMSIStream's
 * `InstallService` collects them) and those given with `--env`, with their values now, written
 * readable by its owner only (mode 0600), outside the unit file, so that secrets (a SASL
 * password) never appear in the unit or in `systemctl show`.
 *
 * @module
 */

import { dirname } from "node:path";
import { UsageError } from "../command/exit_codes.ts";
import { configVariables } from "../cli/permissions.ts";

/** One variable of the environment file. */
export interface EnvEntry {
  /** The name. */
  name: string;
  /** The value. */
  value: string;
}

/**
 * Collects the variables: each `--env NAME` (its value now) or `--env NAME=VALUE`, then each
 * variable the config file names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { collectEnv } from "./env_file.ts";
 *
 * const entries = await collectEnv(["KAFKA_PASSWORD", "MODE=fast"], undefined, (name) =>
 *   name === "KAFKA_PASSWORD" ? "s3cret" : undefined);
 * assert.deepEqual(entries, [
 *   { name: "KAFKA_PASSWORD", value: "s3cret" },
 *   { name: "MODE", value: "fast" },
 * ]);
 * ```
 *
 * @param given The `--env` values.
 * @param configFile The run's config file, whose `$VAR`s are collected.
 * @param env Reads a variable; default `Deno.env.get`.
 * @returns The entries, in order, each name once.
 * @throws {UsageError} for a bad name or a variable that is not set.
 */
export async function collectEnv(
  given: readonly string[],
  configFile: string | undefined,
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): Promise<EnvEntry[]> {
  const entries = new Map<string, string>();
  const add = (name: string, value: string | undefined, where: string) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new UsageError(`Environment variable name ${JSON.stringify(name)} is not valid.`);
    }
    if (value === undefined) {
      throw new UsageError(
        `Environment variable ${JSON.stringify(name)} (${where}) is not set: set it when ` +
          "installing; its value goes into the service's environment file.",
      );
    }
    if (/[\n\r]/.test(value)) {
      throw new UsageError(`Environment variable ${JSON.stringify(name)} holds a line break.`);
    }
    entries.set(name, value);
  };
  for (const item of given) {
    const at = item.indexOf("=");
    if (at < 0) add(item, env(item), "--env");
    else add(item.slice(0, at), item.slice(at + 1), "--env");
  }
  if (configFile !== undefined) {
    for (const name of await configVariables(configFile)) {
      if (!entries.has(name)) add(name, env(name), `named in ${JSON.stringify(configFile)}`);
    }
  }
  return [...entries].map(([name, value]) => ({ name, value }));
}

/**
 * The file's text, one `NAME="value"` per line, quoted for systemd's `EnvironmentFile=`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderEnvFile } from "./env_file.ts";
 *
 * assert.equal(renderEnvFile([{ name: "P", value: 'a"b\\c $x' }]), 'P="a\\"b\\\\c $x"\n');
 * ```
 */
export function renderEnvFile(entries: readonly EnvEntry[]): string {
  return entries
    .map(({ name, value }) =>
      `${name}="${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"\n`
    )
    .join("");
}

/**
 * Writes the file with mode 0600 (created so, and set so when it existed), its folder with
 * 0700 when created.
 *
 * @param path Where.
 * @param entries The variables.
 * @param owner The user and group id to give it to (a system unit's `User=` reads it through
 *   systemd, as root, so root keeps it by default).
 */
export async function writeEnvFile(
  path: string,
  entries: readonly EnvEntry[],
  owner?: { uid: number; gid: number },
): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(temporary, renderEnvFile(entries), { mode: 0o600, createNew: true });
  await Deno.chmod(temporary, 0o600); // whatever the umask
  if (owner !== undefined) await Deno.chown(temporary, owner.uid, owner.gid);
  await Deno.rename(temporary, path);
}
