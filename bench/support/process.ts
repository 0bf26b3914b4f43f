/**
 * Child processes under measurement: wall time, exact CPU time, and peak resident memory sampled
 * from `/proc/<pid>/status` (`VmHWM`, the kernel's high-water mark of the resident set). Also
 * the same high-water mark for the current process, with a reset (Linux).
 *
 * @module
 */

import { cpuSeconds, stopwatch } from "./timing.ts";

/** Options for {@linkcode measureProcess}. */
export interface MeasureOptions {
  /** Working directory of the child. */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** `"null"` (default: output discarded, like `> /dev/null`), or `"piped"` to collect it. */
  stdout?: "null" | "piped";
  /** `"piped"` (default: returned, and shown in the error when the child fails) or `"null"`. */
  stderr?: "null" | "piped";
  /** How often to read `/proc/<pid>/status`; default 10 ms. */
  sampleIntervalMs?: number;
  /** Kill the child after this long; default 30 minutes. */
  timeoutMs?: number;
  /** Throw when the child exits with a non-zero status; default true. */
  check?: boolean;
}

/** What {@linkcode measureProcess} observed. */
export interface ProcessMeasurement {
  /** The exit code. */
  code: number;
  /** Wall-clock seconds from spawn to exit. */
  seconds: number;
  /**
   * CPU seconds (user + system) of the child and of any children it waited for, exact (from
   * this process's `cutime + cstime`, 10 ms resolution); `undefined` off Linux.
   */
  cpuSeconds: number | undefined;
  /** The last `VmHWM` read before the child exited, in bytes; `undefined` if never read. */
  peakRssBytes: number | undefined;
  /** Standard output, when piped. */
  stdout: string;
  /** Standard error, when piped. */
  stderr: string;
}

const decoder = new TextDecoder();

/**
 * Reads `VmHWM` (peak resident set) of a process from `/proc/<pid>/status`, in bytes;
 * `undefined` when the process is gone or has exited (a zombie has no memory lines).
 */
export function readPeakRss(pid: number | "self" = "self"): number | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch {
    return undefined;
  }
  const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(text);
  return match ? Number(match[1]) * 1024 : undefined;
}

/**
 * Resets this process's peak resident set to its current resident set (writes 5 to
 * `/proc/self/clear_refs`), so a later {@linkcode readPeakRss} covers only what follows.
 * Returns false where that is not possible.
 */
export function resetPeakRss(): boolean {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs a command to completion while sampling its peak resident set every few milliseconds.
 * The peak is the kernel's own high-water mark, so only growth within the last sampling
 * interval before exit can be missed. Run one measured child at a time: the CPU time is this
 * process's children total before and after.
 *
 * @throws {Error} with the child's stderr when it fails (unless `check: false`) or times out.
 */
export async function measureProcess(
  command: string,
  args: readonly string[],
  options: MeasureOptions = {},
): Promise<ProcessMeasurement> {
  const cpuBefore = cpuSeconds("self", true);
  const clock = stopwatch();
  const child = new Deno.Command(command, {
    args: [...args],
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: options.stdout ?? "null",
    stderr: options.stderr ?? "piped",
  }).spawn();
  let peak: number | undefined;
  const sample = () => {
    const value = readPeakRss(child.pid);
    if (value !== undefined && (peak === undefined || value > peak)) peak = value;
  };
  sample();
  const sampler = setInterval(sample, options.sampleIntervalMs ?? 10);
  let timedOut = false;
  const killer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, options.timeoutMs ?? 30 * 60_000);
  const stdout = options.stdout === "piped" ? new Response(child.stdout).text() : "";
  const stderr = (options.stderr ?? "piped") === "piped"
    ? new Response(child.stderr).arrayBuffer().then((b) => decoder.decode(b))
    : "";
  let status: Deno.CommandStatus;
  try {
    status = await child.status;
  } finally {
    clearInterval(sampler);
    clearTimeout(killer);
  }
  const seconds = clock.seconds();
  const cpuAfter = cpuSeconds("self", true);
  const result: ProcessMeasurement = {
    code: status.code,
    seconds,
    cpuSeconds: cpuBefore === undefined || cpuAfter === undefined
      ? undefined
      : cpuAfter - cpuBefore,
    peakRssBytes: peak,
    stdout: await stdout,
    stderr: await stderr,
  };
  if (timedOut) throw new Error(`${command} ${args.join(" ")} timed out.\n${result.stderr}`);
  if ((options.check ?? true) && status.code !== 0) {
    throw new Error(
      `${command} exited with status ${status.code}${
        status.signal ? ` (${status.signal})` : ""
      }.\n${result.stderr.trim()}`,
    );
  }
  return result;
}

/** Runs `sync` so that writeback left over from one measurement does not slow the next. */
export async function syncDisks(): Promise<void> {
  await new Deno.Command("sync", { stdout: "null", stderr: "null" }).output().catch(() => {});
}
