/**
 * Running a command line exactly as a user types it: `bash -c <line>`, with this Deno first on
 * the PATH (so a printed `deno run ...` line runs as printed), bounded by a timeout.
 *
 * @module
 */

import { dirname } from "node:path";
import type { CliRun } from "./cli.ts";
import { killAfter } from "./processor.ts";

/** How {@linkcode shell} runs a line. */
export interface ShellOptions {
  /** The working directory. */
  cwd: string;
  /** Extra environment variables (FERRY_BOOTSTRAP_SERVERS is cleared unless given). */
  env?: Record<string, string>;
  /** Killed (SIGKILL, code 137) after this long; default 120 s. */
  timeoutMs?: number;
}

/** The path of the `deno` running the tests, and where to find it on the PATH. */
export const DENO_DIR_ON_PATH: string = dirname(Deno.execPath());

/**
 * Runs `line` with `bash -c` in `options.cwd`; `set -o pipefail` is on, so a pipeline fails
 * when any of its commands does.
 */
export async function shell(line: string, options: ShellOptions): Promise<CliRun> {
  const child = new Deno.Command("bash", {
    args: ["-c", `set -o pipefail\n${line}`],
    cwd: options.cwd,
    env: {
      PATH: `${DENO_DIR_ON_PATH}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
      FERRY_BOOTSTRAP_SERVERS: "",
      NO_COLOR: "1",
      ...options.env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  killAfter(child, options.timeoutMs ?? 120_000);
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
