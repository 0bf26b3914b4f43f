/**
 * Running the `ferry` command as a user does: a child `deno run` of `cli.ts`, its exit code and
 * output, bounded by a timeout.
 *
 * @module
 */

/** What a finished command left behind. */
export interface CliRun {
  /** The exit code (137 when killed at the timeout). */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** How {@linkcode ferry} runs the command. */
export interface CliOptions {
  /** Extra environment variables (FERRY_BOOTSTRAP_SERVERS is cleared unless given). */
  env?: Record<string, string>;
  /** The working directory; default this process's. */
  cwd?: string;
  /** Killed after this long; default 120 s. */
  timeoutMs?: number;
}

const CLI = new URL("../../cli.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

/** Runs `deno run -A cli.ts <args>` to completion; kills it (code 137) after the timeout. */
export async function ferry(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { FERRY_BOOTSTRAP_SERVERS: "", NO_COLOR: "1", ...options.env },
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
  try {
    const out = await child.output();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Makes a temporary directory, runs `fn` with it, and removes it again. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "ferry-cli-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
