// deno-lint-ignore-file no-console
/**
 * The file processor against the ceiling and against OpenMSIStream (issue 4), on the same
 * broker, in the same run, on the same topic: a data set of large and small files (about 80 %
 * of the bytes in two large files, 20 % in files of 100 KiB) uploaded once by Ferry's uploader
 * (`ferry upload`'s library) into a 4-partition topic, then read from the beginning by
 *
 * - `kcat -C -e -o beginning > /dev/null`: raw consumption, verifying nothing (the ceiling and
 *   the baseline of the ratios);
 * - Ferry's processor running a no-op `process` (`bench/fixtures/noop_processor.ts`) in memory
 *   and in disk mode with 1, 2 and 4 workers (each with a fresh consumer group and output
 *   directory): every file's SHA-512 checked (every chunk's too only with `--check-chunks`,
 *   not used here), files rebuilt and recorded;
 * - OpenMSIStream's `DataFileDownloadDirectory` (its default 2 threads), timed until its log
 *   says every file was reconstructed.
 *
 * Then the memory bound: Ferry in disk mode (1 worker) on a topic holding one 2 GiB file
 * (target: peak RSS under 300 MB).
 *
 * Times are wall clock from spawning the process: for kcat until it exits; for Ferry until the
 * last `process` call ended (read from the fixture's notes, so `--exit-when-idle`'s idle wait is
 * left out; Deno's start-up and the workers' start are in); for OpenMSIStream until its
 * `successfully reconstructed` debug line for the last file. Peak memory is `VmHWM` of the
 * process (workers are threads of it), sampled from `/proc`. The latency from a file's last
 * chunk arriving (the poll that returned it) to its `process` starting comes from
 * `file.receivedAt`, which the fixture compares with its own clock; its median and 95th
 * percentile are printed in the notes. CPU is user + system of the whole process (OpenMSIStream's
 * until it has exited after being told to quit), also given in "passes": CPU seconds over those
 * of one SHA-512 pass over the same bytes, measured in the same run
 * (`bench/support/sha512_pass.ts`). Targets: Ferry at 0.8 of kcat's MB/s or more, at least 3x
 * OpenMSIStream, median latency under 50 ms.
 *
 *     deno task bench --only processor [--size-mib 1024] [--runs 1]
 *     deno run -A bench/processor_bench.ts [--size-mib N] [--runs N] [--big-mib N]
 *       [--only kcat,memory-1,disk-2,openmsistream,hash,big]
 *
 * `--size-mib` below 1024 also shrinks the big file (to twice the size, at most 2048 MiB).
 * `FERRY_BENCH_CPU_PROF=<dir>` runs Ferry's processes under `deno run --cpu-prof` into `<dir>`.
 *
 * @module
 */

import { join } from "node:path";
import type { NoopWorkerNotes } from "./fixtures/noop_processor.ts";
import { upload } from "../src/upload/uploader.ts";
import { DEFAULT_CHUNK_SIZE } from "../src/chunks/chunk.ts";
import { sha512 } from "../src/hash/sha512.ts";
import {
  applySha512Pass,
  type BenchOptions,
  type BenchRow,
  benchTable,
  cpuSeconds,
  createTopics,
  defaultBootstrap,
  deleteTopics,
  formatRatios,
  kcatConsume,
  makeDataSet,
  measureSha512Pass,
  median,
  openMsiStreamBin,
  ratioLines,
  readPeakRss,
  requireBroker,
  runBenchFixture,
  type Sample as RunSample,
  summarizeSamples,
  syncDisks,
  uniqueTopicName,
  writeRandomFile,
} from "./support/mod.ts";
import {
  DEFAULT_BIG_FILE_MIB as DEFAULT_BIG_MIB,
  DEFAULT_DATA_SET_MIB as DEFAULT_SIZE_MIB,
  FILE_TOPIC_PARTITIONS as PARTITIONS,
} from "./support/files.ts";

export { DEFAULT_BIG_MIB, DEFAULT_SIZE_MIB, PARTITIONS };
/** Ferry's worker counts. */
const WORKER_COUNTS = [1, 2, 4] as const;
/** OpenMSIStream's threads (its default). */
const OPENMSISTREAM_THREADS = 2;

const ROOT = new URL("..", import.meta.url).pathname;
const FIXTURE = join(ROOT, "bench/fixtures/noop_processor.ts");
const encoder = new TextEncoder();

/** Uploads a folder with Ferry's uploader (the library `ferry upload` runs), no upload log. */
async function ferryUpload(bootstrap: string, source: string, topic: string): Promise<void> {
  const summary = await upload(source, {
    kafka: { "bootstrap.servers": bootstrap },
    topic,
    uploadLogDir: false,
  });
  if (summary.failed > 0) {
    throw new Error(`Uploading ${source} failed for ${summary.failed} files.`);
  }
}

/** One measured run of one contender. */
interface Sample extends RunSample {
  /** Ferry: wall seconds of the whole process (with the idle wait before it exits). */
  processSeconds?: number;
  /** Ferry: ms from last chunk read to `process` starting, one per file. */
  latenciesMs?: number[];
}

/** Runs the no-op processor until idle; checks it processed every file exactly once. */
async function runFerry(
  bootstrap: string,
  topic: string,
  mode: "memory" | "disk",
  workers: number,
  expect: { files: number; bytes: number },
  work: string,
): Promise<Sample> {
  const output = join(work, `out-${mode}-${workers}-${crypto.randomUUID().slice(0, 8)}`);
  try {
    const { run, notes, seconds } = await runBenchFixture<NoopWorkerNotes>(FIXTURE, {
      bootstrap,
      topic,
      groupPrefix: "ferry-bench-processor",
      args: ["-o", output, "-m", mode, "-w", String(workers)],
      notesDir: output,
      notesPattern: /^bench-worker-\d+\.json$/,
    });
    const files = notes.reduce((a, n) => a + n.files, 0);
    const bytes = notes.reduce((a, n) => a + n.bytes, 0);
    if (files !== expect.files || bytes !== expect.bytes) {
      throw new Error(
        `Ferry (${mode}, ${workers} workers) processed ${files} files, ${bytes} bytes; ` +
          `expected ${expect.files} files, ${expect.bytes} bytes.\n${run.stderr}`,
      );
    }
    return {
      seconds,
      cpuSeconds: run.cpuSeconds,
      peakRssBytes: run.peakRssBytes,
      processSeconds: run.seconds,
      latenciesMs: notes.flatMap((n) => n.latenciesMs),
    };
  } finally {
    await Deno.remove(output, { recursive: true }).catch(() => {});
  }
}

/** Runs DataFileDownloadDirectory until its log has reported every file reconstructed. */
async function runOpenMsiStream(
  bin: string,
  bootstrap: string,
  topic: string,
  files: number,
  work: string,
): Promise<Sample> {
  const output = join(work, `omsi-${crypto.randomUUID().slice(0, 8)}`);
  const config = join(work, "openmsistream.config");
  await Deno.mkdir(output);
  await Deno.writeTextFile(
    config,
    `[broker]\nbootstrap.servers = ${bootstrap}\n[consumer]\ngroup.id = create_new\n` +
      "auto.offset.reset = earliest\nenable.auto.commit = False\n" +
      "key.deserializer = StringDeserializer\nvalue.deserializer = DataFileChunkDeserializer\n",
  );
  const cpuBefore = cpuSeconds("self", true);
  const started = performance.now();
  const child = new Deno.Command(join(bin, "DataFileDownloadDirectory"), {
    args: [
      output,
      "--config",
      config,
      "--topic_name",
      topic,
      "--n_threads",
      String(OPENMSISTREAM_THREADS),
      "--logger_stream_level",
      "debug",
      "--update_seconds",
      "3600",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let peak: number | undefined;
  const sampler = setInterval(() => {
    const value = readPeakRss(child.pid);
    if (value !== undefined && (peak === undefined || value > peak)) peak = value;
  }, 10);
  let done = 0;
  let seconds: number | undefined;
  let tail = "";
  const watch = async (stream: ReadableStream<Uint8Array>) => {
    let pending = "";
    for await (const piece of stream.pipeThrough(new TextDecoderStream())) {
      pending += piece;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        if (line.includes("successfully reconstructed from stream")) {
          if (++done === files && seconds === undefined) {
            seconds = (performance.now() - started) / 1000;
          }
        } else if (!line.includes("DEBUG")) tail = `${tail}\n${line}`.slice(-4000);
      }
    }
  };
  const reading = Promise.all([watch(child.stdout), watch(child.stderr)]);
  const deadline = Date.now() + 3_600_000;
  try {
    while (seconds === undefined) {
      if (Date.now() > deadline) throw new Error(`OpenMSIStream timed out:\n${tail}`);
      const exited = await Promise.race([
        child.status.then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), 100)),
      ]);
      if (exited && seconds === undefined) {
        throw new Error(`OpenMSIStream exited after ${done} of ${files} files:\n${tail}`);
      }
    }
  } finally {
    clearInterval(sampler);
    const writer = child.stdin.getWriter();
    await writer.write(encoder.encode("q\n")).catch(() => {});
    await writer.close().catch(() => {});
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    await child.status;
    clearTimeout(killer);
    await reading.catch(() => {});
    await Deno.remove(output, { recursive: true }).catch(() => {});
  }
  // The whole process's CPU (Python's start-up and its shutdown after "q" included): this
  // process's reaped children's total before and after, as measureProcess() takes it.
  const cpuAfter = cpuSeconds("self", true);
  return {
    seconds,
    peakRssBytes: peak,
    cpuSeconds: cpuBefore === undefined || cpuAfter === undefined
      ? undefined
      : cpuAfter - cpuBefore,
  };
}

/**
 * SHA-512 on one core of this machine, as Ferry computes it (`node:crypto`, 512 KiB buffers,
 * about a second, in this process): the hashing ceiling. By default Ferry's processor hashes
 * each byte once (the file's hash, on a thread of its own); with `--check-chunks` a byte of a
 * multi-chunk file twice (its chunk's hash on the coordinator too). The "passes" column is
 * measured apart, in a child process ({@linkcode measureSha512Pass}).
 */
function hashRateRow(): BenchRow {
  const buffer = new Uint8Array(DEFAULT_CHUNK_SIZE);
  for (let at = 0; at < buffer.length; at += 65_536) {
    crypto.getRandomValues(buffer.subarray(at, at + 65_536));
  }
  sha512(buffer); // warm-up
  const start = performance.now();
  let bytes = 0;
  while (performance.now() - start < 1000) {
    sha512(buffer);
    bytes += buffer.length;
  }
  const seconds = (performance.now() - start) / 1000;
  return {
    group: "SHA-512, one core",
    name: "node:crypto, 512 KiB buffers (as Ferry hashes)",
    bytes,
    seconds,
    note: `SHA-512 on one core: ${(bytes / 1e6 / seconds).toFixed(0)} MB/s (the machine's load ` +
      "included); the processor hashes each byte once by default (the file hash; chunk hashes " +
      "too with --check-chunks)",
  };
}

/** Puts `note` on the first row without one, or after the last row's note. */
function addNote(rows: BenchRow[], note: string): void {
  const free = rows.find((r) => r.note === undefined);
  if (free) free.note = note;
  else rows[rows.length - 1].note = `${rows[rows.length - 1].note}; ${note}`;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function summarize(
  group: string,
  name: string,
  bytes: number,
  files: number,
  runs: Sample[],
): BenchRow {
  const row = summarizeSamples(group, name, { bytes, messages: files }, runs);
  const latencies = runs.flatMap((r) => r.latenciesMs ?? []);
  if (latencies.length > 0) {
    const whole = runs.flatMap((r) => r.processSeconds === undefined ? [] : [r.processSeconds]);
    row.note = `${name}: last chunk read -> process() start: median ${
      median(latencies).toFixed(1)
    } ms, p95 ${percentile(latencies, 0.95).toFixed(1)} ms, max ${
      Math.max(...latencies).toFixed(0)
    } ms (target median < 50 ms: ${median(latencies) < 50 ? "met" : "MISSED"}); whole process ${
      median(whole).toFixed(2)
    } s with the 0.5 s idle wait`;
  }
  return row;
}

/** Which contenders to run (`--only` of the standalone command line); all by default. */
export interface ProcessorBenchOptions extends BenchOptions {
  /** Size of the single big file, MiB; 0 leaves the memory check out. */
  bigMiB?: number;
  /** Contender names: `kcat`, `memory-N`, `disk-N`, `openmsistream`, `hash`, `big`. */
  only?: readonly string[];
}

/**
 * Runs the processor benchmark and returns its rows: kcat (the baseline), Ferry in memory and
 * disk mode with 1, 2 and 4 workers (target 0.8 of kcat), OpenMSIStream, and Ferry on one big
 * file in disk mode (its peak RSS).
 *
 * @example
 * ```ts ignore
 * import { run } from "./processor_bench.ts";
 * const rows = await run({ sizeMiB: 128, runs: 1, bootstrap: "127.0.0.1:19092", log: () => {} });
 * ```
 */
export async function run(options: ProcessorBenchOptions): Promise<BenchRow[]> {
  const sizeMiB = options.sizeMiB ?? DEFAULT_SIZE_MIB;
  const runs = options.runs ?? 1;
  const bigMiB = options.bigMiB ??
    (options.sizeMiB === undefined ? DEFAULT_BIG_MIB : Math.min(DEFAULT_BIG_MIB, 2 * sizeMiB));
  const wanted = (name: string) => !options.only || options.only.includes(name);
  const { bootstrap, log } = options;
  await requireBroker(bootstrap);

  const work = await Deno.makeTempDir({ prefix: "ferry-processor-bench-" });
  const topics: string[] = [];
  const rows: BenchRow[] = [];
  try {
    const topic = uniqueTopicName("ferry-bench-processor");
    topics.push(topic);
    await createTopics(bootstrap, [topic], PARTITIONS);
    const data = join(work, "data");
    log(`processor: writing ${sizeMiB} MiB of files into ${data}`);
    const sizes = [...(await makeDataSet(data, Math.round(sizeMiB * 2 ** 20))).values()];
    const set = { files: sizes.length, bytes: sizes.reduce((a, b) => a + b, 0) };
    log(`processor: ${set.files} files, ${set.bytes} bytes; ferry upload to ${topic}`);
    await ferryUpload(bootstrap, data, topic);
    await Deno.remove(data, { recursive: true });

    const contenders: [string, string, () => Promise<Sample>][] = [];
    if (wanted("kcat")) {
      contenders.push(["kcat", "kcat -C -e > /dev/null", () => kcatConsume(bootstrap, topic)]);
    }
    for (const mode of ["memory", "disk"] as const) {
      for (const workers of WORKER_COUNTS) {
        const key = `${mode}-${workers}`;
        if (!wanted(key)) continue;
        contenders.push([
          key,
          `ferry ${mode}, ${workers} worker${workers > 1 ? "s" : ""}`,
          () => runFerry(bootstrap, topic, mode, workers, set, work),
        ]);
      }
    }
    if (wanted("openmsistream")) {
      const bin = await openMsiStreamBin();
      contenders.push([
        "openmsistream",
        `OpenMSIStream DataFileDownloadDirectory (${OPENMSISTREAM_THREADS} threads)`,
        () => runOpenMsiStream(bin, bootstrap, topic, set.files, work),
      ]);
    }
    const samples = new Map<string, Sample[]>(contenders.map(([key]) => [key, []]));
    for (let r = 0; r < runs; r++) {
      for (const [key, name, go] of contenders) {
        await syncDisks();
        log(`processor: run ${r + 1}/${runs}: ${name}`);
        const sample = await go();
        samples.get(key)!.push(sample);
        log(`processor:   ${(set.bytes / 1e6 / sample.seconds).toFixed(1)} MB/s`);
      }
    }
    const group = `${sizeMiB} MiB, ${set.files} files, ${PARTITIONS} partitions`;
    const groupRows: BenchRow[] = [];
    for (const [key, name] of contenders) {
      const row = summarize(group, name, set.bytes, set.files, samples.get(key)!);
      if (key === "kcat") row.baseline = true;
      if (key.startsWith("memory-") || key.startsWith("disk-")) row.target = 0.8;
      groupRows.push(row);
    }
    if (groupRows.length > 0) {
      log(`processor: one SHA-512 pass over ${set.bytes} bytes`);
      addNote(groupRows, applySha512Pass(groupRows, await measureSha512Pass(set.bytes), group));
    }
    rows.push(...groupRows);
    if (wanted("hash")) rows.push(hashRateRow());

    if (bigMiB > 0 && wanted("big")) {
      const bigTopic = uniqueTopicName("ferry-bench-processor-big");
      topics.push(bigTopic);
      await createTopics(bootstrap, [bigTopic], PARTITIONS);
      const dir = join(work, "big");
      await Deno.mkdir(dir);
      const bigBytes = bigMiB * 2 ** 20;
      log(`processor: one ${bigMiB} MiB file; ferry upload to ${bigTopic}`);
      await writeRandomFile(join(dir, "big.bin"), bigBytes, 7);
      await ferryUpload(bootstrap, dir, bigTopic);
      await Deno.remove(dir, { recursive: true });
      await syncDisks();
      log("processor: ferry disk, 1 worker, one big file");
      const sample = await runFerry(
        bootstrap,
        bigTopic,
        "disk",
        1,
        { files: 1, bytes: bigBytes },
        work,
      );
      const row = summarize(
        `one ${bigMiB} MiB file`,
        "ferry disk, 1 worker",
        bigBytes,
        1,
        [sample],
      );
      const peak = (sample.peakRssBytes ?? 0) / 1e6;
      const latency = sample.latenciesMs?.[0] ?? NaN;
      log(`processor: one SHA-512 pass over ${bigBytes} bytes`);
      const passNote = applySha512Pass([row], await measureSha512Pass(bigBytes), row.group);
      row.note =
        `one ${bigMiB} MiB file, disk mode: peak RSS ${peak.toFixed(0)} MB (target < 300 ` +
        `MB: ${peak < 300 ? "met" : "MISSED"}); last chunk read -> process() start ${
          latency.toFixed(0)
        } ms (its SHA-512 was computed while it arrived); ${passNote}`;
      rows.push(row);
    }
    return rows;
  } finally {
    await deleteTopics(bootstrap, topics).catch((error) =>
      log(`processor: deleting topics failed: ${error}`)
    );
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const value = (flag: string) => {
    const i = Deno.args.indexOf(flag);
    return i >= 0 ? Deno.args[i + 1] : undefined;
  };
  const number = (flag: string) => {
    const text = value(flag);
    return text === undefined ? undefined : Number(text);
  };
  const rows = await run({
    sizeMiB: number("--size-mib"),
    runs: number("--runs"),
    bigMiB: number("--big-mib"),
    only: value("--only")?.split(","),
    bootstrap: defaultBootstrap(),
    log: (line) => console.error(line),
  });
  console.log(benchTable(rows));
  for (const row of rows) if (row.note) console.log(`- ${row.note}`);
  for (const line of formatRatios(ratioLines(rows), "- ")) console.log(line);
  const omsi = rows.find((r) => r.name.startsWith("OpenMSIStream"));
  for (
    const row of rows.filter((r) => omsi && r.group === omsi.group && r.name.startsWith("ferry"))
  ) {
    const ratio = omsi!.seconds / row.seconds;
    console.log(
      `- ${row.group}: ${row.name} / ${omsi!.name} = ${ratio.toFixed(2)}; target >= 3.00: ${
        ratio >= 3 ? "met" : "MISSED"
      }`,
    );
  }
}
