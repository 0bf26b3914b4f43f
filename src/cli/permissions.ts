/**
 * The narrowest Deno permissions a processor script runs with, and the `deno run` line that
 * grants them (what `ferry permissions` prints).
 *
 * - `--allow-ffi`, unscoped: Ferry reads librdkafka's structures with `Deno.UnsafePointerView`,
 *   which Deno allows only with `--allow-ffi` for every library (denoland/deno#15511); a scoped
 *   `--allow-ffi=<librdkafka>` loads the library but fails at the first pointer read. FFI is
 *   native code in the process anyway: grant it only to code you trust.
 * - `--allow-read`: the output directory; Ferry's own modules and the script's folder (workers
 *   read the modules they load); the config file and the log file when given.
 * - `--allow-write`: the output directory (and the log file when given); for a record processor,
 *   the folder where it claims its static-membership slot (`<state home>/ferry/members`, with
 *   `--allow-env=XDG_STATE_HOME,HOME` to find it).
 * - `--allow-env`: the variables Ferry reads (`FERRY_CONFIG`, `FERRY_TOPIC`,
 *   `FERRY_BOOTSTRAP_SERVERS`, `FERRY_LOG_LEVEL`, `FERRY_RDKAFKA_PATH`), `CLICOLOR_FORCE` (read
 *   by `--help`), and those the config file names (`$VAR`, `${VAR}`).
 * - No `--allow-net`: librdkafka opens its sockets natively, outside Deno's permission checks.
 *   No `--allow-run`; `--allow-sys=hostname` when asked for (`ferry permissions` and the service
 *   units ask for it: a processor's static group membership id includes the host name).
 *
 * Workers inherit the script's permissions.
 *
 * The line also runs from any folder: every path in it is absolute, and when the `deno.json`
 * Deno finds for the script (from the script's folder up) does not map the npm packages Ferry's
 * modules import, it passes this checkout's `deno.json` with `--config` (a script `ferry new`
 * wrote outside the checkout has its own `deno.json`, and needs none).
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../config/config_error.ts";
import { parseIni } from "../config/ini.ts";
import { PROCESSOR_ENVIRONMENT } from "../command/processor_options.ts";
import { mapsFerryDependencies, nearestConfig } from "./deno_config.ts";
import { membersFolder } from "../processor/membership.ts";

/**
 * The environment variables a processor reads: Ferry's own (as `--help` lists them), and
 * `CLICOLOR_FORCE`, which commander reads to colour `--help` (Deno lets the other colour
 * variables, `NO_COLOR` and `FORCE_COLOR`, be read without a permission).
 */
export const PROCESSOR_ENV_VARS: readonly string[] = [
  ...Object.keys(PROCESSOR_ENVIRONMENT),
  "CLICOLOR_FORCE",
];

/**
 * Whether a processor script defines a record processor, judged from its source: it calls
 * `defineRecordProcessor` and not `defineProcessor`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { definesRecordProcessor } from "./permissions.ts";
 * assert.equal(definesRecordProcessor("export default defineRecordProcessor({})"), true);
 * assert.equal(definesRecordProcessor("export default defineProcessor({})"), false);
 * ```
 *
 * @param source The script's text.
 * @returns True for a record processor.
 */
export function definesRecordProcessor(source: string): boolean {
  return source.includes("defineRecordProcessor") && !/defineProcessor\s*[(<]/.test(source);
}

/**
 * What a record processor needs beyond a file processor's permissions: write access to the
 * folder where it claims its static-membership slot, and the variables that locate it (see
 * `membersFolder` in `src/processor/membership.ts`). Without them it joins its group as a
 * dynamic member, and a restart waits for a rebalance.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordMemberPermissions } from "./permissions.ts";
 * const extra = recordMemberPermissions((name) => name === "HOME" ? "/home/ada" : undefined);
 * assert.deepEqual(extra, {
 *   write: ["/home/ada/.local/state/ferry/members"],
 *   env: ["XDG_STATE_HOME", "HOME"],
 * });
 * ```
 *
 * @param env Reads an environment variable (default: this process's).
 * @returns The folders to write and the variables to read.
 */
export function recordMemberPermissions(
  env?: (name: string) => string | undefined,
): { write: string[]; env: string[] } {
  return { write: [membersFolder(env)], env: ["XDG_STATE_HOME", "HOME"] };
}

/** What {@linkcode processorPermissions} needs to know about a run. */
export interface PermissionRequest {
  /** The processor script. */
  script: string;
  /** The run's output directory (a record processor, `ferry upload`: none). */
  outputDir?: string;
  /** More paths the run reads (`ferry upload`: the folder it uploads). */
  read?: readonly string[];
  /** More paths the run writes (`ferry upload`: its upload log's folder). */
  write?: readonly string[];
  /** More environment variables the run reads. */
  env?: readonly string[];
  /** What `--allow-sys` grants (`hostname`, for a heartbeat's program id), if anything. */
  sys?: readonly string[];
  /** What `--allow-net` grants (`127.0.0.1:9100`, for a metrics endpoint), if anything. */
  net?: readonly string[];
  /** The config file, when the run uses one. */
  configFile?: string;
  /** A log file outside the output directory, when the run uses one. */
  logFile?: string;
  /** Ferry's own folder (holding `mod.ts` and `src/`); default: this copy's, when local. */
  ferryRoot?: string;
  /**
   * The `deno.json` to run with (`--config`); `null` for none; default: worked out (see the
   * module notes).
   */
  denoConfig?: string | null;
}

/** The permission flags of a run and the absolute paths they name. */
export interface ProcessorPermissions {
  /** The `deno run` flags, in order. */
  flags: string[];
  /** The absolute script path. */
  script: string;
  /** The absolute output directory, when the run has one. */
  outputDir?: string;
  /** The absolute config file, when given. */
  configFile?: string;
  /** The `deno.json` Deno must be given with `--config`, when the script needs one. */
  denoConfig?: string;
}

/** Ferry's folder in this copy, or undefined when it was loaded from a remote URL. */
function localFerryRoot(): string | undefined {
  const url = new URL("../../", import.meta.url);
  return url.protocol === "file:" ? fileURLToPath(url).replace(/\/$/, "") : undefined;
}

/**
 * The environment variables a config file names (`$VAR`, `${VAR}`), read without needing
 * them to be set.
 */
export async function configVariables(configFile: string): Promise<string[]> {
  const names = new Set<string>();
  let text: string;
  try {
    text = await Deno.readTextFile(configFile);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new ConfigError(`Config file ${JSON.stringify(configFile)} does not exist.`);
  }
  parseIni(text, configFile, {
    env: (name) => {
      names.add(name);
      return "";
    },
  });
  return [...names];
}

/**
 * Works out the narrowest permissions for running a processor script (see the module notes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { processorPermissions } from "./permissions.ts";
 *
 * const p = await processorPermissions({
 *   script: "/srv/jobs/checksum.ts",
 *   outputDir: "/data/out",
 *   ferryRoot: "/opt/ferry",
 * });
 * assert.deepEqual(p.flags, [
 *   "--allow-ffi",
 *   "--allow-read=/opt/ferry/mod.ts,/opt/ferry/src,/srv/jobs,/data/out",
 *   "--allow-write=/data/out",
 *   "--allow-env=FERRY_CONFIG,FERRY_CONFIG_DIR,FERRY_TOPIC,FERRY_BOOTSTRAP_SERVERS,FERRY_LOG_LEVEL," +
 *   "FERRY_RDKAFKA_PATH,CLICOLOR_FORCE",
 * ]);
 * // No deno.json maps Ferry's npm packages for /srv/jobs: Ferry's own is passed with --config.
 * assert.equal(p.denoConfig, "/opt/ferry/deno.json");
 * ```
 *
 * @param request The script, output directory, config and log files.
 * @returns The flags and the absolute paths.
 * @throws {ConfigError} when the config file does not parse.
 * @throws {RangeError} when a path contains a comma.
 */
export async function processorPermissions(
  request: PermissionRequest,
): Promise<ProcessorPermissions> {
  const script = resolve(request.script);
  const outputDir = request.outputDir === undefined ? undefined : resolve(request.outputDir);
  const extraRead = (request.read ?? []).map((path) => resolve(path));
  const extraWrite = (request.write ?? []).map((path) => resolve(path));
  const configFile = request.configFile === undefined ? undefined : resolve(request.configFile);
  const logFile = request.logFile === undefined ? undefined : resolve(request.logFile);
  const root = request.ferryRoot ?? localFerryRoot();
  const read = [
    ...(root === undefined ? [] : [`${root}/mod.ts`, `${root}/src`]),
    dirname(script),
    ...(outputDir === undefined ? [] : [outputDir]),
    ...extraRead,
    ...extraWrite,
    ...(configFile === undefined ? [] : [configFile]),
    ...(logFile === undefined ? [] : [logFile]),
  ];
  const write = [
    ...(outputDir === undefined ? [] : [outputDir]),
    ...extraWrite,
    ...(logFile === undefined ? [] : [logFile]),
  ];
  const env = [...PROCESSOR_ENV_VARS];
  for (const name of request.env ?? []) if (!env.includes(name)) env.push(name);
  if (configFile !== undefined) {
    for (const name of await configVariables(configFile)) if (!env.includes(name)) env.push(name);
  }
  for (const path of [...read, ...write]) {
    if (path.includes(",")) {
      throw new RangeError(
        `Path ${JSON.stringify(path)} contains a ",", which Deno's permission lists cannot ` +
          "hold: use a path without one.",
      );
    }
  }
  const unique = (paths: string[]) => [...new Set(paths)];
  const denoConfig = request.denoConfig === undefined
    ? await neededDenoConfig(script, root)
    : request.denoConfig ?? undefined;
  return {
    flags: [
      "--allow-ffi",
      `--allow-read=${unique(read).join(",")}`,
      ...(write.length === 0 ? [] : [`--allow-write=${unique(write).join(",")}`]),
      `--allow-env=${env.join(",")}`,
      ...(request.sys === undefined || request.sys.length === 0
        ? []
        : [`--allow-sys=${request.sys.join(",")}`]),
      ...(request.net === undefined || request.net.length === 0
        ? []
        : [`--allow-net=${request.net.join(",")}`]),
    ],
    script,
    ...(outputDir === undefined ? {} : { outputDir }),
    ...(configFile === undefined ? {} : { configFile }),
    ...(denoConfig === undefined ? {} : { denoConfig }),
  };
}

/**
 * The `deno.json` a script must run with: none when the one Deno finds for it (from its folder
 * up) maps Ferry's npm dependencies or is Ferry's own; otherwise Ferry's (when local).
 */
async function neededDenoConfig(
  script: string,
  root: string | undefined,
): Promise<string | undefined> {
  const found = await nearestConfig(dirname(script));
  const ferryConfig = root === undefined ? undefined : join(root, "deno.json");
  if (found !== undefined && (found.path === ferryConfig || mapsFerryDependencies(found))) {
    return undefined;
  }
  return ferryConfig;
}

/**
 * Quotes a word for a POSIX shell when it needs it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shellQuote } from "./permissions.ts";
 *
 * assert.equal(shellQuote("--allow-read=/a,/b"), "--allow-read=/a,/b");
 * assert.equal(shellQuote("/my data"), "'/my data'");
 * assert.equal(shellQuote("it's"), "'it'\\''s'");
 * ```
 */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_\/.,=:@%+-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The `deno run` command line for a run with these permissions: Deno's `--config` when needed,
 * the flags, the script, then `--output-dir` and Ferry's `--config` (add the topic and the
 * rest).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { denoRunLine } from "./permissions.ts";
 *
 * assert.equal(
 *   denoRunLine({ flags: ["--allow-ffi"], script: "/s/p.ts", outputDir: "/o" }),
 *   "deno run --allow-ffi /s/p.ts --output-dir /o",
 * );
 * ```
 */
export function denoRunLine(permissions: ProcessorPermissions): string {
  const words = [
    "deno",
    "run",
    ...(permissions.denoConfig === undefined ? [] : ["--config", permissions.denoConfig]),
    ...permissions.flags,
    permissions.script,
    ...(permissions.outputDir === undefined ? [] : ["--output-dir", permissions.outputDir]),
    ...(permissions.configFile === undefined ? [] : ["--config", permissions.configFile]),
  ];
  return words.map(shellQuote).join(" ");
}
