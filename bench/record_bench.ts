// deno-lint-ignore-file no-console
/**
 * Record processors against kcat (issue 5), on the same broker, in the same run, on the same
 * topics: records of 100 bytes and of 10 KiB written once by `kcat -P -l` into a 4-partition
 * topic each, then read from the beginning by
 *
 * - `kcat -C -e -o beginning -q > /dev/null`: raw consumption (the baseline);
 * - a no-op record processor (`bench/fixtures/noop_record_processor.ts`, 2 workers, a fresh
 *   consumer group each run): every record goes through the coordinator, the worker channel,
 *   its partition's instance and `processRecords`;
 * - `@platformatic/kafka` (a Kafka client in plain JavaScript, from npm) under Deno
 *   (`bench/fixtures/platformatic_consume.ts`): a fresh group, `consume({ mode: "earliest" })`,
 *   a `for await` loop counting records until it has them all.
 *
 * Times are wall clock from spawning the process: for kcat until it exits (which includes one
 * `fetch.wait.max.ms`, 500 ms, to see every partition's end), for Ferry until the last
 * `processRecords` call ended (read from the fixture's notes, so `--exit-when-idle`'s wait is
 * left out; Deno's start-up and the workers' start are in), for `@platformatic/kafka` until its
 * last record arrived (Deno's start-up in). Peak memory is `VmHWM` of the process; CPU is the
 * whole process's (user + system), also given in "passes": CPU seconds over those of one SHA-512
 * pass over the same bytes, measured in the same run (`bench/support/sha512_pass.ts`). Target:
 * Ferry at 0.8 of kcat's MB/s or more for 10 KiB records.
 *
 *     deno task bench --only records [--size-mib 256] [--runs 3]
 *     deno run -A bench/record_bench.ts [--size-mib N] [--runs N]
 *
 * `--size-mib` is the 10 KiB topic's size; the 100-byte topic gets an eighth of it.
 *
 * @module
 */

import { join } from "node:path";
import type { NoopRecordNotes } from "./fixtures/noop_record_processor.ts";
import {
  applySha512Pass,
  type BenchOptions,
  type BenchRow,
  benchTable,
  createTopics,
  defaultBootstrap,
  deleteTopics,
  formatRatios,
  kcatConsume,
  kcatProduceLines,
  measureSha512Pass,
  ratioLines,
  requireBroker,
  runBenchFixture,
  runPlatformatic,
  type Sample,
  summarizeSamples,
  uniqueTopicName,
} from "./support/mod.ts";

/** Partitions of the topics. */
export const PARTITIONS = 4;
/** Default size of the 10 KiB-record topic, MiB. */
export const DEFAULT_SIZE_MIB = 256;
/** Default timed runs per contender. */
export const DEFAULT_RUNS = 3;

const ROOT = new URL("..", import.meta.url).pathname;
const FIXTURE = join(ROOT, "bench/fixtures/noop_record_processor.ts");
/** `kcat -P -l`'s settings for writing the topics (untimed). */
const PRODUCE_SETTINGS = { "linger.ms": "5", "batch.size": "1000000" };

/** Writes `count` records of `size` bytes (printable, no newline) to a file, one per line. */
async function writeRecords(path: string, size: number, count: number): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const perChunk = Math.max(1, Math.floor((4 << 20) / (size + 1)));
  const line = new Uint8Array(size + 1);
  for (let written = 0; written < count;) {
    const n = Math.min(perChunk, count - written);
    const chunk = new Uint8Array(n * (size + 1));
    for (let i = 0; i < n; i++) {
      crypto.getRandomValues(line.subarray(0, Math.min(size, 65536)));
      for (let j = 65536; j < size; j += 65536) {
        crypto.getRandomValues(line.subarray(j, Math.min(size, j + 65536)));
      }
      for (let j = 0; j < size; j++) line[j] = 33 + (line[j] % 94);
      line[size] = 10;
      chunk.set(line, i * (size + 1));
    }
    let offset = 0;
    while (offset < chunk.length) offset += await file.write(chunk.subarray(offset));
    written += n;
  }
}

/** Runs the no-op record processor until idle; checks it saw every record exactly once. */
async function runFerry(
  bootstrap: string,
  topic: string,
  expect: { records: number; bytes: number },
  work: string,
): Promise<Sample> {
  const notesDir = join(work, `notes-${crypto.randomUUID().slice(0, 8)}`);
  await Deno.mkdir(notesDir);
  try {
    const { run, notes, seconds } = await runBenchFixture<NoopRecordNotes>(FIXTURE, {
      bootstrap,
      topic,
      groupPrefix: "ferry-bench-records",
      args: ["--notes-dir", notesDir],
      notesDir,
      notesPattern: /^bench-records-\d+\.json$/,
    });
    const records = notes.reduce((a, n) => a + n.records, 0);
    const bytes = notes.reduce((a, n) => a + n.bytes, 0);
    if (records !== expect.records || bytes !== expect.bytes) {
      throw new Error(
        `The record processor saw ${records} records, ${bytes} bytes; expected ` +
          `${expect.records} records, ${expect.bytes} bytes.\n${run.stderr}`,
      );
    }
    return {
      seconds,
      cpuSeconds: run.cpuSeconds,
      peakRssBytes: run.peakRssBytes,
    };
  } finally {
    await Deno.remove(notesDir, { recursive: true }).catch(() => {});
  }
}

/** Runs `@platformatic/kafka`'s consume loop; checks it saw every record exactly once. */
async function runPlatformaticRecords(
  bootstrap: string,
  topic: string,
  expect: { records: number; bytes: number },
): Promise<Sample> {
  const result = await runPlatformatic({ bootstrap, topic, count: expect.records }, expect.bytes);
  return {
    seconds: result.secondsFromSpawn,
    cpuSeconds: result.run.cpuSeconds,
    peakRssBytes: result.run.peakRssBytes,
  };
}

/** Options of {@linkcode run}. */
export interface RecordBenchOptions extends BenchOptions {
  /** Record sizes in bytes; default 100 and 10240. */
  recordSizes?: number[];
}

/**
 * Runs the record-processor benchmark and returns its rows: per record size, kcat (the
 * baseline), the no-op record processor (target 0.8 of kcat for 10 KiB records) and
 * `@platformatic/kafka`, each with its CPU in SHA-512 passes over the same bytes.
 */
export async function run(options: RecordBenchOptions): Promise<BenchRow[]> {
  const { bootstrap, log } = options;
  const sizeMiB = options.sizeMiB ?? DEFAULT_SIZE_MIB;
  const runs = options.runs ?? DEFAULT_RUNS;
  await requireBroker(bootstrap);
  const work = await Deno.makeTempDir({ prefix: "ferry-record-bench-" });
  const rows: BenchRow[] = [];
  const topics: string[] = [];
  try {
    for (const size of options.recordSizes ?? [100, 10240]) {
      const total = (size >= 10240 ? sizeMiB : sizeMiB / 8) * 1024 * 1024;
      const count = Math.max(1, Math.floor(total / size));
      const data = { records: count, messages: count, bytes: count * size };
      const topic = uniqueTopicName(`ferry-bench-records-${size}`);
      topics.push(topic);
      await createTopics(bootstrap, [topic], PARTITIONS, { "retention.ms": "-1" });
      const file = join(work, `records-${size}.txt`);
      log(`records: writing ${count} records of ${size} bytes with kcat -P -l`);
      await writeRecords(file, size, count);
      await kcatProduceLines(bootstrap, topic, file, PRODUCE_SETTINGS);
      await Deno.remove(file);
      const label = size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
      const group = `${label} records, ${(data.bytes / 1048576).toFixed(0)} MiB`;
      const contenders = {
        kcat: () => kcatConsume(bootstrap, topic),
        ferry: () => runFerry(bootstrap, topic, data, work),
        platformatic: () => runPlatformaticRecords(bootstrap, topic, data),
      };
      type Who = keyof typeof contenders;
      const names = Object.keys(contenders) as Who[];
      const samples: Record<Who, Sample[]> = { kcat: [], ferry: [], platformatic: [] };
      // Warm-up (page cache, broker), then rotate the order of the contenders.
      await kcatConsume(bootstrap, topic);
      for (let i = 0; i < runs; i++) {
        const order = [...names.slice(i % names.length), ...names.slice(0, i % names.length)];
        for (const who of order) {
          const last = await contenders[who]();
          samples[who].push(last);
          log(`records: ${group}, ${who} run ${i + 1}: ${last.seconds.toFixed(2)} s`);
        }
      }
      log(`records: ${group}, one SHA-512 pass over ${data.bytes} bytes`);
      const pass = await measureSha512Pass(data.bytes);
      const groupRows: BenchRow[] = [
        {
          ...summarizeSamples(group, "kcat -C -e > /dev/null", data, samples.kcat),
          baseline: true,
        },
        {
          ...summarizeSamples(group, "no-op record processor, 2 workers", data, samples.ferry),
          ...(size >= 10240 ? { target: 0.8 } : {}),
        },
        summarizeSamples(
          group,
          "@platformatic/kafka consume loop",
          data,
          samples.platformatic,
        ),
      ];
      groupRows[groupRows.length - 1].note = applySha512Pass(groupRows, pass, group);
      rows.push(...groupRows);
    }
  } finally {
    await deleteTopics(bootstrap, topics).catch(() => {});
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  return rows;
}

if (import.meta.main) {
  const args = [...Deno.args];
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i < 0 ? undefined : Number(args[i + 1]);
  };
  const rows = await run({
    bootstrap: Deno.env.get("FERRY_BENCH_BOOTSTRAP") ?? defaultBootstrap(),
    sizeMiB: value("--size-mib"),
    runs: value("--runs"),
    log: (line) => console.error(line),
  });
  console.log(benchTable(rows));
  for (const row of rows) if (row.note) console.log(`- ${row.note}`);
  for (const line of formatRatios(ratioLines(rows), "- ")) console.log(line);
}
