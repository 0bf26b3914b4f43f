/**
 * Where `--config NAME` is found, OpenMSIStream's way (1.8.8, `argument_parsing.config_path`):
 * a name without a "." gets `.config` appended; the path is taken as given (relative to the
 * working folder) when that file exists, else looked up in the config folder:
 * `$FERRY_CONFIG_DIR`, else `$OPENMSISTREAM_CONFIG_FILE_DIR` (OpenMSIStream's own variable),
 * else `$XDG_CONFIG_HOME/ferry`, else `~/.config/ferry`. So `--config prod` reads `prod.config`
 * here or in the config folder.
 *
 * @module
 */

import { isAbsolute, join } from "node:path";
import { ConfigError } from "./config_error.ts";
import { type EnvLookup, processEnv } from "./ini.ts";

/** The extension OpenMSIStream gives a bare config name. */
export const CONFIG_EXTENSION = ".config";

/**
 * The config folder a bare `--config NAME` is looked up in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { configFolder } from "./config_path.ts";
 *
 * assert.equal(configFolder((n) => ({ FERRY_CONFIG_DIR: "/etc/lab" })[n]), "/etc/lab");
 * assert.equal(configFolder((n) => ({ HOME: "/home/me" })[n]), "/home/me/.config/ferry");
 * ```
 */
export function configFolder(env: EnvLookup = processEnv): string | undefined {
  for (const name of ["FERRY_CONFIG_DIR", "OPENMSISTREAM_CONFIG_FILE_DIR"]) {
    const value = env(name);
    if (value !== undefined && value.trim() !== "") return value;
  }
  const xdg = env("XDG_CONFIG_HOME");
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, "ferry");
  const home = env("HOME") ?? env("USERPROFILE");
  return home === undefined ? undefined : join(home, ".config", "ferry");
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw error;
  }
}

/**
 * Finds the file `--config` names.
 *
 * @param given What the user gave.
 * @param env How environment variables are read.
 * @returns The path of the file to read.
 * @throws {ConfigError} naming every place looked in when none has it.
 */
export async function findConfigFile(given: string, env: EnvLookup = processEnv): Promise<string> {
  const name = given.includes(".") ? given : given + CONFIG_EXTENSION;
  if (await isFile(name)) return name;
  const folder = isAbsolute(name) ? undefined : configFolder(env);
  if (folder !== undefined && await isFile(join(folder, name))) return join(folder, name);
  const places = [JSON.stringify(name)];
  if (folder !== undefined) places.push(JSON.stringify(join(folder, name)));
  throw new ConfigError(
    `Config file ${JSON.stringify(given)} does not exist (looked for ${places.join(" and ")}); ` +
      "give its path, or put it in the config folder ($FERRY_CONFIG_DIR, default " +
      "~/.config/ferry).",
  );
}
