/**
 * Running the `ferry` command as a user does: a child `deno run` of `cli.ts`, its exit code and
 * output, bounded by a timeout.
 *
 * @module
 */

import { killAfter } from "./processor.ts";

/** What a finished command left behind. */
export interface CliRun {
  /** The exit code (137 when killed at the timeout). */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** How {@linkcode ferry} and {@linkcode startFerry} run the command. */
export interface CliOptions {
  /** Extra environment variables (FERRY_BOOTSTRAP_SERVERS is cleared unless given). */
  env?: Record<string, string>;
  /** The working directory; default this process's. */
  cwd?: string;
  /** Deno permission flags; default `["-A"]`. */
  permissions?: readonly string[];
  /** Killed after this long; default 120 s. */
  timeoutMs?: number;
}

/** The path of this checkout's `cli.ts`. */
export const CLI: string = new URL("../../cli.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

/**
 * Starts `deno run -A cli.ts <args>` with its output piped, for a test that talks to it while it
 * runs (signals, a watch); killed (SIGKILL, code 137) if still running after `timeoutMs`.
 */
export function startFerry(args: readonly string[], options: CliOptions = {}): Deno.ChildProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...options.permissions ?? ["-A"], CLI, ...args],
    env: { FERRY_BOOTSTRAP_SERVERS: "", NO_COLOR: "1", ...options.env },
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  killAfter(child, options.timeoutMs ?? 120_000);
  return child;
}

/** Runs `deno run -A cli.ts <args>` to completion; kills it (code 137) after the timeout. */
export async function ferry(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  const out = await startFerry(args, options).output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}
