/**
 * The CPU yardstick of the benchmarks: one SHA-512 pass over a given number of bytes, measured
 * in the same run as the contenders, in a child process of its own (`node:crypto`
 * `createHash("sha512")`, 512 KiB updates, as Ferry hashes), its CPU time taken by
 * {@linkcode measureProcess} like every contender's. A contender's CPU seconds divided by this
 * pass's are its "passes": CPU per byte in units of one SHA-512 pass over the same bytes, a ratio
 * that holds from machine to machine (and under load, where wall time does not).
 *
 * The child's start-up (Deno's, about 0.02-0.04 CPU-s) is measured by the same child hashing
 * nothing and subtracted, so the pass is the hashing alone; each is the median of
 * {@linkcode SHA512_PASS_REPEATS} runs. Process CPU times come in 10 ms ticks, so for fewer than
 * {@linkcode SHA512_MIN_HASHED_BYTES} the child makes the same pass several times over and the
 * CPU is divided by their number (CPU per byte does not depend on the count). The child also
 * reports the CPU of its hashing loop (`process.cpuUsage()`, microseconds), a check on the
 * process totals; the pass is never taken below it.
 *
 *     deno run --no-config bench/support/sha512_pass.ts BYTES [TIMES]   # the child: prints JSON
 *
 * @module
 */

import { createHash } from "node:crypto";
import process from "node:process";
import { measureProcess } from "./process.ts";
import { median } from "./timing.ts";
import type { BenchRow } from "./types.ts";

/** Size of every `update()`: 512 KiB, Ferry's (and OpenMSIStream's) chunk size. */
export const SHA512_UPDATE_BYTES = 512 * 1024;
/** Runs of the child (and of its start-up) whose median is taken. */
export const SHA512_PASS_REPEATS = 3;
/** Bytes the child hashes at least per run (the pass repeated), for the 10 ms CPU ticks. */
export const SHA512_MIN_HASHED_BYTES = 256 * 2 ** 20;

const SELF = new URL(import.meta.url).pathname;

/** What {@linkcode measureSha512Pass} found. */
export interface Sha512Pass {
  /** Bytes of the pass. */
  bytes: number;
  /** How many times over the child made the pass per run. */
  times: number;
  /** CPU seconds of one pass: (the child's total minus its start-up, medians) / `times`. */
  cpuSeconds: number;
  /** CPU seconds of the whole child making `times` passes (median, start-up included). */
  processCpuSeconds: number;
  /** CPU seconds of the same child hashing nothing (median): its start-up. */
  startupCpuSeconds: number;
  /** CPU seconds of one pass as the child's hashing loop counted it (median, microseconds). */
  loopCpuSeconds: number;
}

/** What the child prints. */
interface ChildReport {
  bytes: number;
  times: number;
  cpuSeconds: number;
  seconds: number;
}

async function runChild(bytes: number, times: number): Promise<{ process: number; loop: number }> {
  const run = await measureProcess(
    Deno.execPath(),
    ["run", "--no-config", "--no-prompt", SELF, String(bytes), String(times)],
    { stdout: "piped" },
  );
  if (run.cpuSeconds === undefined) {
    throw new Error("No CPU time for the SHA-512 pass (Linux /proc needed).");
  }
  const report = JSON.parse(run.stdout.trim().split("\n").pop() ?? "") as ChildReport;
  if (report.bytes !== bytes || report.times !== times) {
    throw new Error(`The SHA-512 child hashed ${report.bytes} bytes ${report.times} times.`);
  }
  return { process: run.cpuSeconds, loop: report.cpuSeconds };
}

/**
 * Measures one SHA-512 pass over `bytes` bytes in a child process (median of
 * {@linkcode SHA512_PASS_REPEATS} runs, start-up subtracted; made several times over per run
 * below {@linkcode SHA512_MIN_HASHED_BYTES}).
 */
export async function measureSha512Pass(bytes: number): Promise<Sha512Pass> {
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new Error(`A SHA-512 pass needs a positive byte count, not ${bytes}.`);
  }
  const times = Math.max(1, Math.ceil(SHA512_MIN_HASHED_BYTES / bytes));
  const full: { process: number; loop: number }[] = [];
  const empty: number[] = [];
  for (let i = 0; i < SHA512_PASS_REPEATS; i++) {
    empty.push((await runChild(0, 1)).process);
    full.push(await runChild(bytes, times));
  }
  const processCpuSeconds = median(full.map((r) => r.process));
  const startupCpuSeconds = median(empty);
  const loopCpuSeconds = median(full.map((r) => r.loop)) / times;
  // The difference of two 10 ms-tick totals; never let it fall below the loop's own count.
  const cpuSeconds = Math.max((processCpuSeconds - startupCpuSeconds) / times, loopCpuSeconds);
  return { bytes, times, cpuSeconds, processCpuSeconds, startupCpuSeconds, loopCpuSeconds };
}

/**
 * Sets `passCpuSeconds` on every row with CPU time (its table column "passes" is then
 * `cpuSeconds / passCpuSeconds`), and returns the note that says what the pass was.
 */
export function applySha512Pass(rows: BenchRow[], pass: Sha512Pass, label: string): string {
  for (const row of rows) {
    if (row.cpuSeconds !== undefined) row.passCpuSeconds = pass.cpuSeconds;
  }
  return describeSha512Pass(pass, label);
}

/** One line saying what a measured pass was, for a section's notes. */
export function describeSha512Pass(pass: Sha512Pass, label: string): string {
  const mib = (pass.bytes / 2 ** 20).toFixed(pass.bytes % 2 ** 20 === 0 ? 0 : 1);
  const total = `process ${pass.processCpuSeconds.toFixed(2)} - start-up ` +
    pass.startupCpuSeconds.toFixed(2);
  const split = pass.times > 1 ? `(${total}) / ${pass.times} passes per run` : total;
  return `${label}: passes = CPU-s / CPU-s of one SHA-512 pass over the same ${mib} MiB in ` +
    `this run (node:crypto, 512 KiB updates, child process): ${pass.cpuSeconds.toFixed(3)} CPU-s ` +
    `(${(pass.bytes / 1e6 / pass.cpuSeconds).toFixed(0)} MB per CPU-s; ${split}; hashing loop ` +
    `${pass.loopCpuSeconds.toFixed(3)}; medians of ${SHA512_PASS_REPEATS})`;
}

if (import.meta.main) {
  const bytes = Number(Deno.args[0] ?? "0");
  const times = Number(Deno.args[1] ?? "1");
  if (!Number.isSafeInteger(bytes) || bytes < 0 || !Number.isSafeInteger(times) || times < 1) {
    throw new Error("Usage: sha512_pass.ts BYTES [TIMES]");
  }
  const buffer = new Uint8Array(SHA512_UPDATE_BYTES);
  for (let at = 0; at < buffer.length; at += 65_536) {
    crypto.getRandomValues(buffer.subarray(at, at + 65_536));
  }
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  for (let pass = 0; pass < times && bytes > 0; pass++) {
    const hash = createHash("sha512");
    for (let done = 0; done < bytes; done += buffer.length) {
      const left = bytes - done;
      hash.update(left >= buffer.length ? buffer : buffer.subarray(0, left));
    }
    hash.digest();
  }
  const cpu = process.cpuUsage(cpu0);
  const report: ChildReport = {
    bytes,
    times,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    seconds: (performance.now() - start) / 1000,
  };
  Deno.stdout.writeSync(new TextEncoder().encode(`${JSON.stringify(report)}\n`));
}
