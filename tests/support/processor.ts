/**
 * Running a processor script as a child process, as a user would.
 *
 * @module
 */

import { BOOTSTRAP } from "./broker.ts";

/** What a finished processor run left behind. */
export interface ProcessorRun {
  /** The exit code (137 when killed). */
  code: number;
  /** Everything it wrote to stderr. */
  stderr: string;
}

/** The path of a file in this repository. */
export function repoPath(relative: string): string {
  return new URL(`../../${relative}`, import.meta.url).pathname;
}

/** Starts a processor script with the test broker; the caller waits or kills it. */
export function startProcessor(
  script: string,
  args: readonly string[],
): { child: Deno.ChildProcess; result: Promise<ProcessorRun> } {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", repoPath(script), "--bootstrap-servers", BOOTSTRAP, ...args],
    stdout: "null",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const result = (async () => {
    const output = await child.output();
    return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
  })();
  return { child, result };
}

/** Runs a processor script until it exits (it should use --exit-when-idle); kills it after the timeout. */
export async function runProcessor(
  script: string,
  args: readonly string[],
  timeoutMs = 120_000,
): Promise<ProcessorRun> {
  const { child, result } = startProcessor(script, args);
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const run = await result;
    if (run.code === 137 || run.code === 9) {
      throw new Error(`The processor did not finish within ${timeoutMs} ms:\n${run.stderr}`);
    }
    return run;
  } finally {
    clearTimeout(timer);
  }
}

/** The lines of `<outputDir>/calls.log` written by the recording processor. */
export async function readCalls(
  outputDir: string,
): Promise<{ run: string; path: string; sha: string; size: number; attempt: number }[]> {
  let text = "";
  try {
    text = await Deno.readTextFile(`${outputDir}/calls.log`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return text.split("\n").filter((l) => l.trim()).map((line) => {
    const [run, path, sha, size, attempt] = line.split("\t");
    return { run, path, sha, size: Number(size), attempt: Number(attempt) };
  });
}
