/**
 * Timing helpers: a stopwatch, medians, rates, and CPU time from `/proc` (Linux).
 *
 * @module
 */

/** Seconds elapsed since the stopwatch was made, by `performance.now()`. */
export interface Stopwatch {
  /** Seconds since start. */
  seconds(): number;
}

/** Starts a stopwatch. */
export function stopwatch(): Stopwatch {
  const start = performance.now();
  return { seconds: () => (performance.now() - start) / 1000 };
}

/** The median of a non-empty list (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median() of an empty list");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** MB/s, where 1 MB is 10^6 bytes. */
export function mbPerSecond(bytes: number, seconds: number): number {
  return bytes / 1e6 / seconds;
}

let ticksPerSecond: number | undefined;

/** `sysconf(_SC_CLK_TCK)`, the unit of the times in `/proc/<pid>/stat` (100 on Linux). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    ticksPerSecond = 100;
    try {
      const out = new Deno.Command("getconf", { args: ["CLK_TCK"], stderr: "null" }).outputSync();
      const value = Number(new TextDecoder().decode(out.stdout).trim());
      if (out.success && Number.isFinite(value) && value > 0) ticksPerSecond = value;
    } catch {
      // No getconf: keep Linux's 100.
    }
  }
  return ticksPerSecond;
}

/** The numeric fields of `/proc/<pid>/stat` after the command name, from field 3 (state) on. */
function statFields(pid: number | "self"): string[] | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces.
  return text.slice(text.lastIndexOf(")") + 2).trim().split(" ");
}

/**
 * CPU time (user + system, seconds) of a process: `/proc/<pid>/stat` utime + stime, and with
 * `children`, cutime + cstime (the children it has waited for). `undefined` off Linux or when
 * the process is gone.
 */
export function cpuSeconds(pid: number | "self" = "self", children = false): number | undefined {
  const fields = statFields(pid);
  if (fields === undefined) return undefined;
  // Field n is fields[n - 3]: utime 14, stime 15, cutime 16, cstime 17.
  const ticks = children
    ? Number(fields[13]) + Number(fields[14])
    : Number(fields[11]) + Number(fields[12]);
  return ticks / clockTicksPerSecond();
}
