// deno-lint-ignore-file no-console
/**
 * Processors that produce results, and `ferry repartition` (issue 14), on the same broker in the
 * same run:
 *
 * - a no-op file processor (`bench/fixtures/results_processor.ts`, memory mode, 2 workers) over
 *   files of 100 KiB uploaded by Ferry's uploader into a 4-partition topic: without results
 *   (the baseline), with one small result per file at least once, and exactly once
 *   (`--exactly-once`: results and offsets in transactions). Target: exactly once at 0.85 of
 *   the baseline or more. Times are wall clock of the whole process, from spawning it to its
 *   exit with `--exit-when-idle 0.5` (Deno's start-up, the idle wait and the last transaction
 *   included, the same for all three);
 * - `ferry repartition` copying the same topic to another (every message, transactions of up
 *   to 5000 messages or 0.5 s), against a `kcat -C | kcat -P` pipe copying the same messages
 *   (key and value; no transactions; the baseline). Target: 0.5 of the pipe or more.
 *
 *     deno task bench --only results [--size-mib 64] [--runs 1]
 *     deno run -A bench/results_bench.ts [--size-mib N] [--runs N]
 *
 * @module
 */

import { join } from "node:path";
import { upload } from "../src/upload/uploader.ts";
import {
  type BenchOptions,
  type BenchRow,
  benchTable,
  countMessages,
  createTopics,
  defaultBootstrap,
  deleteTopics,
  formatRatios,
  measureDenoScript,
  measureProcess,
  ratioLines,
  requireBroker,
  type Sample,
  summarizeSamples,
  uniqueTopicName,
  writeRandomFile,
} from "./support/mod.ts";
import { FILE_TOPIC_PARTITIONS as PARTITIONS, SMALL_FILE_BYTES } from "./support/files.ts";

/** Default data per measurement (MiB): 100 KiB files. */
export const DEFAULT_RESULTS_MIB = 64;

const ROOT = new URL("..", import.meta.url).pathname;
const FIXTURE = join(ROOT, "bench/fixtures/results_processor.ts");
const CLI = join(ROOT, "cli.ts");
/** Between one message's key+value and the next in the kcat pipe (not in random data). */
const DELIMITER = "\n--ferry-bench-delimiter-7f3a9c--\n";

async function runProcessor(
  bootstrap: string,
  topic: string,
  work: string,
  variant: "none" | "at-least-once" | "exactly-once",
  output: string,
): Promise<Sample> {
  const dir = join(work, `out-${variant}-${crypto.randomUUID().slice(0, 8)}`);
  const results = variant === "none" ? [] : ["--result", "--output-topic", output];
  const run = await measureDenoScript(FIXTURE, [
    "-b",
    bootstrap,
    "-t",
    topic,
    "-o",
    dir,
    "-g",
    uniqueTopicName("ferry-bench-results"),
    "-w",
    "2",
    "--exit-when-idle",
    "0.5",
    ...results,
    ...(variant === "exactly-once" ? ["--exactly-once"] : []),
  ]);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  return { seconds: run.seconds, cpuSeconds: run.cpuSeconds, peakRssBytes: run.peakRssBytes };
}

async function runRepartition(bootstrap: string, from: string, to: string): Promise<Sample> {
  const run = await measureDenoScript(CLI, [
    "repartition",
    "-b",
    bootstrap,
    "--topic",
    from,
    "--to",
    to,
    "--group",
    uniqueTopicName("ferry-bench-repartition"),
    "--exit-when-idle",
    "0.5",
    "--log-level",
    "warning",
  ]);
  return { seconds: run.seconds, cpuSeconds: run.cpuSeconds, peakRssBytes: run.peakRssBytes };
}

function runKcatPipe(bootstrap: string, from: string, to: string): Promise<Sample> {
  const pipe = `kcat -C -b ${bootstrap} -t ${from} -e -o beginning -q -f '%k\\t%s${
    DELIMITER.replaceAll("\n", "\\n")
  }' -X fetch.message.max.bytes=16777216 | kcat -P -b ${bootstrap} -t ${to} -K '\\t' -D '${
    DELIMITER.replaceAll("\n", "\\n")
  }' -X message.max.bytes=16777216`;
  return measureProcess("bash", ["-c", pipe]).then((run) => ({
    seconds: run.seconds,
    cpuSeconds: run.cpuSeconds,
    peakRssBytes: run.peakRssBytes,
  }));
}

/**
 * Runs the section and returns its rows (see the module's description).
 *
 * @example
 * ```ts ignore
 * import { run } from "./results_bench.ts";
 * const rows = await run({ sizeMiB: 16, runs: 1, bootstrap: "127.0.0.1:19092", log: () => {} });
 * ```
 */
export async function run(options: BenchOptions): Promise<BenchRow[]> {
  const sizeMiB = options.sizeMiB ?? DEFAULT_RESULTS_MIB;
  const runs = options.runs ?? 1;
  const { bootstrap, log } = options;
  await requireBroker(bootstrap);
  const work = await Deno.makeTempDir({ prefix: "ferry-results-bench-" });
  const topics: string[] = [];
  const rows: BenchRow[] = [];
  try {
    const topic = uniqueTopicName("ferry-bench-results-in");
    const output = uniqueTopicName("ferry-bench-results-out");
    topics.push(topic, output);
    await createTopics(bootstrap, [topic, output], PARTITIONS);
    const count = Math.max(1, Math.floor((sizeMiB * 2 ** 20) / SMALL_FILE_BYTES));
    const data = join(work, "data");
    await Deno.mkdir(data);
    for (let i = 0; i < count; i++) {
      await writeRandomFile(join(data, `f${String(i).padStart(5, "0")}.dat`), SMALL_FILE_BYTES, i);
    }
    const bytes = count * SMALL_FILE_BYTES;
    log(`results: ${count} files of 100 KiB; ferry upload to ${topic}`);
    const summary = await upload(data, {
      kafka: { "bootstrap.servers": bootstrap },
      topic,
      uploadLogDir: false,
    });
    if (summary.failed > 0) throw new Error(`Uploading failed for ${summary.failed} files.`);
    await Deno.remove(data, { recursive: true });
    const messages = await countMessages(bootstrap, topic, PARTITIONS);

    const processorGroup = `no-op processor, ${count} files of 100 KiB`;
    const variants = [
      ["none", "no results"],
      ["at-least-once", "one result per file, at least once"],
      ["exactly-once", "one result per file, --exactly-once"],
    ] as const;
    const samples = new Map<string, Sample[]>(variants.map(([key]) => [key, []]));
    const copies = new Map<string, Sample[]>([["kcat", []], ["ferry", []]]);
    for (let r = 0; r < runs; r++) {
      for (const [key, name] of variants) {
        log(`results: run ${r + 1}/${runs}: ${name}`);
        const sample = await runProcessor(bootstrap, topic, work, key, output);
        samples.get(key)!.push(sample);
        log(`results:   ${(bytes / 1e6 / sample.seconds).toFixed(1)} MB/s`);
      }
      for (const key of ["kcat", "ferry"] as const) {
        const target = uniqueTopicName(`ferry-bench-copy-${key}`);
        topics.push(target);
        await createTopics(bootstrap, [target], PARTITIONS);
        log(`results: run ${r + 1}/${runs}: ${key === "kcat" ? "kcat pipe" : "ferry repartition"}`);
        const sample = key === "kcat"
          ? await runKcatPipe(bootstrap, topic, target)
          : await runRepartition(bootstrap, topic, target);
        const copied = await countMessages(bootstrap, target, PARTITIONS);
        // Transaction markers take an offset each: the repartitioned topic counts more.
        if (copied < messages) {
          throw new Error(`${key} copied ${copied} of ${messages} messages.`);
        }
        copies.get(key)!.push(sample);
        log(`results:   ${(bytes / 1e6 / sample.seconds).toFixed(1)} MB/s`);
      }
    }
    for (const [key, name] of variants) {
      const row = summarizeSamples(
        processorGroup,
        name,
        { bytes, messages: count },
        samples.get(key)!,
      );
      if (key === "none") row.baseline = true;
      if (key === "exactly-once") row.target = 0.85;
      rows.push(row);
    }
    const copyGroup = `copying ${messages} messages`;
    const copied = { bytes, messages };
    const pipe = summarizeSamples(copyGroup, "kcat -C | kcat -P", copied, copies.get("kcat")!);
    pipe.baseline = true;
    const copy = summarizeSamples(
      copyGroup,
      "ferry repartition (exactly once)",
      copied,
      copies.get("ferry")!,
    );
    copy.target = 0.5;
    rows.push(pipe, copy);
  } finally {
    await deleteTopics(bootstrap, topics).catch(() => {});
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  return rows;
}

if (import.meta.main) {
  const args = Deno.args;
  const value = (flag: string) => {
    const at = args.indexOf(flag);
    return at < 0 ? undefined : Number(args[at + 1]);
  };
  const rows = await run({
    sizeMiB: value("--size-mib"),
    runs: value("--runs"),
    bootstrap: defaultBootstrap(),
    log: (line) => console.error(line),
  });
  console.log(benchTable(rows));
  console.log(formatRatios(ratioLines(rows)).join("\n"));
}
