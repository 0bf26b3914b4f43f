// deno-lint-ignore-file no-console
/**
 * Watch mode (`ferry upload --watch`, issue 22), three measurements on the same broker:
 *
 * - **keep up**: a writer (this process) puts files of 100 KiB into new nested folders at a
 *   steady rate (default 200 a second for 2 minutes) while `ferry upload --watch` (a child
 *   process) uploads them; per file, the time from its last write to the moment the child logs
 *   it acknowledged (median, 99th percentile, max; the target is the settle time + 1 s). The
 *   child's CPU and peak RSS are given too.
 * - **idle**: a tree of 100,000 files (none new) watched for 30 s: CPU and RSS of the child
 *   (targets: under 1 % of a core, RSS under 150 MB), with change events and, for comparison,
 *   with `--poll` (what every poll costs on such a tree).
 * - **soak**: 20 files a second for 10 minutes, with a processor (`ferry download`) reading the
 *   topic meanwhile: the RSS of both, after the first minute and at the end (target: growth
 *   under 10 %), and the growth over the second half (a leak goes on growing there; V8 filling
 *   its old generation up to its first full collection, a few minutes in, does not). Both run with `WATCH_V8_FLAGS` (a small young generation), as the service
 *   units and the docs' long-running commands do; `--no-v8-cap` runs them with V8's defaults.
 *
 *     deno task bench --only watch [--size-mib N]
 *     deno run -A bench/watch_bench.ts [--rate 200] [--seconds 120] [--settle-seconds 1]
 *       [--idle-files 100000] [--idle-seconds 30] [--soak-rate 20] [--soak-seconds 600]
 *       [--no-poll-idle] [--no-v8-cap] [--only keep-up|idle|soak] [--bootstrap HOST:PORT]
 *
 * `--size-mib N` (through `bench/run.ts`) shortens the keep-up run to N MiB of files (the
 * default, 200 files/s for 120 s, is about 2,344 MiB) and the soak in the same proportion (at
 * least 60 s); the idle tree keeps its 100,000 files. The latency includes the time this
 * process takes to read the child's log line (it is writing files meanwhile), so it errs high.
 *
 * @module
 */

import { join } from "node:path";
import { WATCH_V8_FLAGS } from "../src/upload/watcher.ts";
import {
  type BenchOptions,
  type BenchRow,
  benchTable,
  cpuSeconds,
  createTopics,
  defaultBootstrap,
  deleteTopics,
  readPeakRss,
  requireBroker,
  uniqueTopicName,
} from "./support/mod.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CLI = join(ROOT, "cli.ts");
const FILE_BYTES = 100 * 1024;
const PARTITIONS = 4;

/** The sizes of the three measurements. */
export interface WatchBenchSizes {
  /** Files a second written during the keep-up run. */
  rate: number;
  /** Seconds of writing in the keep-up run. */
  seconds: number;
  /** The watch's settle time, seconds. */
  settleSeconds: number;
  /** Files in the idle tree. */
  idleFiles: number;
  /** Seconds the idle watch is measured. */
  idleSeconds: number;
  /** Files a second during the soak. */
  soakRate: number;
  /** Seconds of the soak. */
  soakSeconds: number;
  /** Also measure `--poll` over the idle tree. */
  pollIdle: boolean;
  /** Run the soak's uploader and processor with {@linkcode WATCH_V8_FLAGS}, as the service units do. */
  v8Cap: boolean;
  /** Run only this measurement (default all three). */
  only?: "keep-up" | "idle" | "soak";
}

/** The issue's sizes. */
export const DEFAULT_SIZES: WatchBenchSizes = {
  rate: 200,
  seconds: 120,
  settleSeconds: 1,
  idleFiles: 100_000,
  idleSeconds: 30,
  soakRate: 20,
  soakSeconds: 600,
  pollIdle: true,
  v8Cap: true,
};

/** The current resident set of a process in bytes (`VmRSS`), or undefined once it is gone. */
function readRss(pid: number): number | undefined {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(text);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

const mb = (bytes: number | undefined) => bytes === undefined ? "?" : (bytes / 1e6).toFixed(0);

/** A `ferry` child whose standard error is read line by line. */
class Child {
  readonly process: Deno.ChildProcess;
  readonly #lines: ((line: string) => void)[] = [];
  readonly #reading: Promise<void>;
  tail: string[] = [];

  constructor(args: string[], env: Record<string, string>, denoFlags: string[] = []) {
    const process = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ...denoFlags, CLI, ...args],
      env: { NO_COLOR: "1", FERRY_BOOTSTRAP_SERVERS: "", ...env },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.process = process;
    this.#reading = (async () => {
      let rest = "";
      for await (const text of process.stderr.pipeThrough(new TextDecoderStream())) {
        const lines = (rest + text).split("\n");
        rest = lines.pop()!;
        for (const line of lines) {
          this.tail.push(line);
          if (this.tail.length > 40) this.tail.shift();
          for (const listener of this.#lines) listener(line);
        }
      }
    })();
  }

  get pid(): number {
    return this.process.pid;
  }

  onLine(listener: (line: string) => void): void {
    this.#lines.push(listener);
  }

  async waitFor(pattern: RegExp, timeoutMs: number): Promise<void> {
    if (this.tail.some((l) => pattern.test(l))) return;
    const found = Promise.withResolvers<void>();
    this.onLine((line) => {
      if (pattern.test(line)) found.resolve();
    });
    const timer = setTimeout(
      () =>
        found.reject(
          new Error(`No ${pattern} from ferry in ${timeoutMs} ms:\n${this.tail.join("\n")}`),
        ),
      timeoutMs,
    );
    const exited = this.process.status.then((s) => {
      throw new Error(`ferry exited (${s.code}) before ${pattern}:\n${this.tail.join("\n")}`);
    });
    try {
      await Promise.race([found.promise, exited]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    try {
      this.process.kill("SIGINT");
    } catch {
      return; // already gone
    }
    const timer = setTimeout(() => {
      try {
        this.process.kill("SIGKILL");
      } catch {
        // gone meanwhile
      }
    }, 30_000);
    await this.process.status;
    clearTimeout(timer);
    await this.#reading.catch(() => {});
  }
}

function watchArgs(dir: string, topic: string, bootstrap: string, settleSeconds: number) {
  return [
    ...["upload", dir, "--watch", "-t", topic, "-b", bootstrap],
    ...["--settle-seconds", String(settleSeconds), "--log-level", "info"],
  ];
}

/** Writes files of 100 KiB at `rate` a second for `seconds`, in a new folder every 1000. */
async function writeFiles(
  dir: string,
  rate: number,
  seconds: number,
  onWritten: (path: string, at: number) => void,
): Promise<{ files: number; seconds: number }> {
  const buffer = new Uint8Array(FILE_BYTES);
  crypto.getRandomValues(buffer.subarray(0, 65536));
  buffer.set(buffer.subarray(0, FILE_BYTES - 65536), 65536);
  const total = Math.round(rate * seconds);
  const began = performance.now();
  for (let i = 0; i < total; i++) {
    const due = began + (i * 1000) / rate;
    if (due > performance.now()) await sleep(due - performance.now());
    const folder = `w/d-${Math.floor(i / 1000)}/e-${Math.floor(i / 100)}`;
    if (i % 100 === 0) await Deno.mkdir(join(dir, folder), { recursive: true });
    new DataView(buffer.buffer).setUint32(0, i); // every file different
    const path = `${folder}/f-${i}.bin`;
    await Deno.writeFile(join(dir, path), buffer);
    onWritten(path, performance.now());
  }
  return { files: total, seconds: (performance.now() - began) / 1000 };
}

async function keepUp(options: BenchOptions, sizes: WatchBenchSizes): Promise<BenchRow> {
  const { rate, seconds, settleSeconds } = sizes;
  const dir = await Deno.makeTempDir({ prefix: "ferry-bench-watch-" });
  const topic = uniqueTopicName("ferry-bench-watch");
  const state = await Deno.makeTempDir({ prefix: "ferry-bench-watch-state-" });
  await createTopics(options.bootstrap, [topic], PARTITIONS);
  const child = new Child(watchArgs(dir, topic, options.bootstrap, settleSeconds), {
    XDG_STATE_HOME: state,
  });
  try {
    await child.waitFor(/Watching /, 60_000);
    const written = new Map<string, number>();
    const latencies: number[] = [];
    let acked = 0;
    let lastAck = 0;
    const allAcked = Promise.withResolvers<void>();
    let expected = Infinity;
    child.onLine((line) => {
      const match = /Uploaded "?(w\/[^":]+?)"?: \d+ bytes/.exec(line);
      if (!match) return;
      const at = performance.now();
      const wrote = written.get(match[1]);
      if (wrote !== undefined) {
        latencies.push(at - wrote);
        written.delete(match[1]);
      }
      acked++;
      lastAck = at;
      if (acked >= expected) allAcked.resolve();
    });
    const cpuBefore = cpuSeconds(child.pid) ?? 0;
    options.log(`watch: writing ${rate} files/s of 100 KiB for ${seconds} s`);
    const began = performance.now();
    const writer = await writeFiles(dir, rate, seconds, (path, at) => written.set(path, at));
    expected = writer.files;
    if (acked >= expected) allAcked.resolve();
    const timeout = sleep(60_000 + seconds * 1000).then(() => "timeout" as const);
    const how = await Promise.race([allAcked.promise.then(() => "done" as const), timeout]);
    const cpu = (cpuSeconds(child.pid) ?? 0) - cpuBefore;
    const peak = readPeakRss(child.pid);
    const sorted = latencies.sort((a, b) => a - b);
    const med = percentile(sorted, 50) / 1000;
    const p99 = percentile(sorted, 99) / 1000;
    const max = sorted[sorted.length - 1] / 1000;
    const target = settleSeconds + 1;
    options.log(`watch: ${acked}/${writer.files} acknowledged; median ${med.toFixed(2)} s`);
    return {
      group: `keep up: ${rate} files/s of 100 KiB, ${seconds} s`,
      name: "ferry upload --watch",
      bytes: acked * FILE_BYTES,
      messages: acked,
      seconds: (lastAck - began) / 1000,
      cpuSeconds: cpu,
      peakRssBytes: peak,
      note:
        `keep up: ${acked} of ${writer.files} files acknowledged${
          how === "timeout" ? " (TIMED OUT)" : ""
        }, writer at ${(writer.files / writer.seconds).toFixed(0)} files/s; last write -> ` +
        `acknowledged: median ${med.toFixed(2)} s, p99 ${p99.toFixed(2)} s, max ${
          max.toFixed(2)
        } s (settle ${settleSeconds} s; target p99 <= ${target} s: ${
          p99 <= target && how === "done" ? "met" : "MISSED"
        }); uploader CPU ${cpu.toFixed(1)} s, peak RSS ${mb(peak)} MB.`,
    };
  } finally {
    await child.stop();
    await deleteTopics(options.bootstrap, [topic]).catch(() => {});
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(state, { recursive: true });
  }
}

function makeIdleTree(dir: string, files: number): void {
  const perFolder = 1000;
  for (let i = 0; i < files; i++) {
    if (i % perFolder === 0) {
      Deno.mkdirSync(join(dir, `old-${Math.floor(i / perFolder)}`), { recursive: true });
    }
    Deno.writeTextFileSync(join(dir, `old-${Math.floor(i / perFolder)}`, `f-${i}.dat`), "x");
  }
}

async function idle(
  options: BenchOptions,
  sizes: WatchBenchSizes,
  dir: string,
  poll: boolean,
): Promise<BenchRow> {
  const topic = uniqueTopicName("ferry-bench-watch-idle");
  await createTopics(options.bootstrap, [topic], PARTITIONS);
  const state = await Deno.makeTempDir({ prefix: "ferry-bench-watch-state-" });
  const args = watchArgs(dir, topic, options.bootstrap, 3);
  const child = new Child(poll ? [...args, "--poll"] : args, { XDG_STATE_HOME: state });
  try {
    await child.waitFor(/Watching /, 120_000);
    await sleep(2000);
    const before = cpuSeconds(child.pid) ?? 0;
    await sleep(sizes.idleSeconds * 1000);
    const cpu = (cpuSeconds(child.pid) ?? 0) - before;
    const rss = readRss(child.pid);
    const peak = readPeakRss(child.pid);
    const share = (100 * cpu) / sizes.idleSeconds;
    const name = poll ? "--watch --poll (every 1 s)" : "--watch (change events)";
    return {
      group: `idle: ${sizes.idleFiles} files, none new, ${sizes.idleSeconds} s`,
      name,
      bytes: 0,
      seconds: sizes.idleSeconds,
      cpuSeconds: cpu,
      peakRssBytes: peak,
      note: `idle ${name}: ${share.toFixed(2)} % of a core (${
        cpu.toFixed(2)
      } CPU-s in ${sizes.idleSeconds} s), RSS ${mb(rss)} MB${
        poll
          ? ""
          : ` (targets under 1 % and 150 MB: ${
            share < 1 && (rss ?? Infinity) < 150e6 ? "met" : "MISSED"
          })`
      }.`,
    };
  } finally {
    await child.stop();
    await deleteTopics(options.bootstrap, [topic]).catch(() => {});
    await Deno.remove(state, { recursive: true });
  }
}

async function soak(options: BenchOptions, sizes: WatchBenchSizes): Promise<BenchRow> {
  const { soakRate: rate, soakSeconds: seconds } = sizes;
  const dir = await Deno.makeTempDir({ prefix: "ferry-bench-soak-" });
  const out = await Deno.makeTempDir({ prefix: "ferry-bench-soak-out-" });
  const state = await Deno.makeTempDir({ prefix: "ferry-bench-soak-state-" });
  const topic = uniqueTopicName("ferry-bench-watch-soak");
  await createTopics(options.bootstrap, [topic], PARTITIONS);
  const uploader = new Child(
    watchArgs(dir, topic, options.bootstrap, sizes.settleSeconds),
    { XDG_STATE_HOME: state },
    sizes.v8Cap ? [WATCH_V8_FLAGS] : [],
  );
  const processor = new Child(
    ["download", out, "-t", topic, "-b", options.bootstrap, "--log-level", "warning"],
    { XDG_STATE_HOME: state },
    sizes.v8Cap ? [WATCH_V8_FLAGS] : [],
  );
  try {
    await uploader.waitFor(/Watching /, 60_000);
    // The first minute is warm-up (a third of a shorter soak).
    const warmUp = Math.min(60, seconds / 3) * 1000;
    const began = performance.now();
    let warm: { uploader?: number; processor?: number } | undefined;
    // The RSS of both at ten points of the soak: growth that flattens is not a leak.
    const trail: { uploader: number; processor: number }[] = [];
    const every = (seconds * 1000) / 10;
    const sampler = setInterval(() => {
      const elapsed = performance.now() - began;
      if (!warm && elapsed >= warmUp) {
        warm = { uploader: readRss(uploader.pid), processor: readRss(processor.pid) };
      }
      if (trail.length < 10 && elapsed >= (trail.length + 1) * every) {
        trail.push({
          uploader: readRss(uploader.pid) ?? NaN,
          processor: readRss(processor.pid) ?? NaN,
        });
      }
    }, 1000);
    let acked = 0;
    uploader.onLine((line) => {
      if (/Uploaded "?w\//.test(line)) acked++;
    });
    options.log(`watch: soak, ${rate} files/s for ${seconds} s`);
    const cpuBefore = cpuSeconds(uploader.pid) ?? 0;
    const processorCpuBefore = cpuSeconds(processor.pid) ?? 0;
    const writer = await writeFiles(dir, rate, seconds, () => {});
    await sleep((sizes.settleSeconds + 2) * 1000);
    clearInterval(sampler);
    const end = { uploader: readRss(uploader.pid), processor: readRss(processor.pid) };
    const cpu = (cpuSeconds(uploader.pid) ?? 0) - cpuBefore;
    const processorCpu = (cpuSeconds(processor.pid) ?? 0) - processorCpuBefore;
    const growth = (a?: number, b?: number) =>
      a === undefined || b === undefined ? NaN : (100 * (b - a)) / a;
    const gu = growth(warm?.uploader, end.uploader);
    const gp = growth(warm?.processor, end.processor);
    // A leak goes on growing; V8 filling its heap up to where it first collects (a few minutes
    // in) is a step that then stays flat: the second half of the soak tells them apart.
    const half = trail[4];
    const hu = growth(half?.uploader, end.uploader);
    const hp = growth(half?.processor, end.processor);
    return {
      group: `soak: ${rate} files/s of 100 KiB, ${seconds} s`,
      name: sizes.v8Cap ? "ferry upload --watch (semi-space 2 MB)" : "ferry upload --watch",
      bytes: acked * FILE_BYTES,
      messages: acked,
      seconds: writer.seconds,
      cpuSeconds: cpu,
      peakRssBytes: readPeakRss(uploader.pid),
      note: `soak: ${acked} of ${writer.files} files acknowledged; RSS after ${
        (warmUp / 1000).toFixed(0)
      } s -> end: uploader ${mb(warm?.uploader)} -> ${mb(end.uploader)} MB (${
        gu.toFixed(1)
      } %), processor (ferry download) ${mb(warm?.processor)} -> ${mb(end.processor)} MB (${
        gp.toFixed(1)
      } %) (target under 10 %: ${
        gu < 10 && gp < 10 ? "met" : "MISSED"
      }); over the second half: uploader ${hu.toFixed(1)} %, processor ${
        hp.toFixed(1)
      } %; CPU: uploader ${cpu.toFixed(1)} s, processor ${
        processorCpu.toFixed(1)
      } s; RSS at each tenth of the soak: uploader ${
        trail.map((b) => mb(b.uploader)).join(", ")
      } MB, processor ${trail.map((b) => mb(b.processor)).join(", ")} MB.`,
    };
  } finally {
    await uploader.stop();
    await processor.stop();
    await deleteTopics(options.bootstrap, [topic]).catch(() => {});
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(out, { recursive: true });
    await Deno.remove(state, { recursive: true });
  }
}

/** The sizes for `bench/run.ts`'s options: `--size-mib` shortens the keep-up run and the soak. */
export function sizesFor(options: BenchOptions): WatchBenchSizes {
  if (options.sizeMiB === undefined) return { ...DEFAULT_SIZES };
  const full = (DEFAULT_SIZES.rate * DEFAULT_SIZES.seconds * FILE_BYTES) / 2 ** 20;
  const f = Math.min(1, options.sizeMiB / full);
  return {
    ...DEFAULT_SIZES,
    seconds: Math.max(5, Math.round(DEFAULT_SIZES.seconds * f)),
    soakSeconds: Math.max(60, Math.round(DEFAULT_SIZES.soakSeconds * f)),
  };
}

/**
 * Runs the three measurements.
 *
 * @param options From `bench/run.ts` (`sizeMiB` shortens, see the module documentation).
 * @param sizes The sizes; default from `options`.
 * @returns One row per measurement (two for idle).
 */
export async function run(
  options: BenchOptions,
  sizes: WatchBenchSizes = sizesFor(options),
): Promise<BenchRow[]> {
  await requireBroker(options.bootstrap);
  const wanted = (part: WatchBenchSizes["only"]) => sizes.only === undefined || sizes.only === part;
  const rows: BenchRow[] = [];
  if (wanted("keep-up")) rows.push(await keepUp(options, sizes));
  if (wanted("idle")) {
    const tree = await Deno.makeTempDir({ prefix: "ferry-bench-idle-" });
    try {
      options.log(`watch: making an idle tree of ${sizes.idleFiles} files`);
      makeIdleTree(tree, sizes.idleFiles);
      rows.push(await idle(options, sizes, tree, false));
      if (sizes.pollIdle) rows.push(await idle(options, sizes, tree, true));
    } finally {
      await Deno.remove(tree, { recursive: true });
    }
  }
  if (wanted("soak")) rows.push(await soak(options, sizes));
  return rows;
}

function parseArgs(argv: readonly string[]): { sizes: WatchBenchSizes; bootstrap: string } {
  const sizes = { ...DEFAULT_SIZES };
  let bootstrap = defaultBootstrap();
  const numeric: Record<string, keyof WatchBenchSizes> = {
    "--rate": "rate",
    "--seconds": "seconds",
    "--settle-seconds": "settleSeconds",
    "--idle-files": "idleFiles",
    "--idle-seconds": "idleSeconds",
    "--soak-rate": "soakRate",
    "--soak-seconds": "soakSeconds",
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--no-poll-idle") sizes.pollIdle = false;
    else if (arg === "--no-v8-cap") sizes.v8Cap = false;
    else if (arg === "--only") {
      const part = argv[++i];
      if (part !== "keep-up" && part !== "idle" && part !== "soak") {
        console.error(`--only needs keep-up, idle or soak, not ${JSON.stringify(part)}.`);
        Deno.exit(2);
      }
      sizes.only = part;
    } else if (arg === "--bootstrap") bootstrap = argv[++i];
    else if (arg in numeric) {
      const value = Number(argv[++i]);
      if (!Number.isFinite(value) || value <= 0) {
        console.error(`${arg} needs a positive number.`);
        Deno.exit(2);
      }
      (sizes as unknown as Record<string, number>)[numeric[arg]] = value;
    } else {
      console.error(
        `Unknown option ${JSON.stringify(arg)}; see the header of bench/watch_bench.ts.`,
      );
      Deno.exit(2);
    }
  }
  return { sizes, bootstrap };
}

if (import.meta.main) {
  const { sizes, bootstrap } = parseArgs(Deno.args);
  const rows = await run({ bootstrap, log: (line) => console.error(line) }, sizes);
  console.log(benchTable(rows));
  console.log(`\n${rows.filter((r) => r.note).map((r) => `- ${r.note}`).join("\n")}`);
}
