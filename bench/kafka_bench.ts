// deno-lint-ignore-file no-console
/**
 * Ferry's librdkafka binding against Debian's `kcat` (same librdkafka 2.0.2), on the same
 * broker in the same run (issue 2): produce N MiB in 512 KiB messages into a fresh 4-partition
 * topic, then consume a topic of that size from the beginning. Target: the binding at 0.8 or
 * more of kcat's MB/s in both directions.
 *
 * Fairness:
 * - every contender runs as its own process (the binding in a child `deno run` of this file), so
 *   peak RSS (`VmHWM`, sampled from `/proc/<pid>/status`) is comparable; the binding's time is
 *   taken inside the child from creating the client to closing it (Deno's start-up and reading
 *   the message pool are left out), kcat's is its whole process (its start-up is milliseconds);
 * - the same producer properties go to both ({@linkcode PRODUCER_SETTINGS}, `-X` for kcat), no
 *   key, librdkafka's partitioner; consumers run with librdkafka's defaults;
 * - the messages are a pool of 16 random 512 KiB buffers without a newline byte, used in turn,
 *   prepared before timing: the binding reads them into memory, kcat gets them as files (one
 *   file per message, mmap'd and copied into librdkafka, as the binding copies them too) and as
 *   one newline-delimited file (`-l`); the faster kcat mode is the baseline;
 * - every consumer reads the same topic (the one kcat wrote in that round) from the beginning
 *   until it has every message: the binding by `assign()` at the beginning and by `subscribe()`
 *   in a fresh group (`auto.offset.reset=earliest`), counting messages; kcat with `-e -c N`
 *   (stops at the N-th message, like the binding) and with `-e` alone (stops when every
 *   partition reports its end, which costs it one `fetch.wait.max.ms`, 500 ms); the faster kcat
 *   is the baseline. The binding's `poll()` copies every value into a fresh `Uint8Array`; kcat
 *   writes to /dev/null;
 * - `@platformatic/kafka` (a Kafka client in plain JavaScript, from npm) reads the same topic
 *   under Deno in a child of its own (`bench/fixtures/platformatic_consume.ts`): a fresh group,
 *   `consume({ mode: "earliest" })`, a `for await` loop counting messages until it has them all,
 *   its defaults otherwise (nothing committed); timed inside like the binding;
 * - `sync` runs before every timed leg, legs alternate order between runs, the table shows the
 *   median of the runs (and their range), after an untimed warm-up.
 *
 *     deno task bench --only kafka [--size-mib 1024] [--runs 5]
 *     deno run --allow-all bench/kafka_bench.ts [--size-mib N] [--runs N]
 *
 * `FERRY_BENCH_CPU_PROF=<dir>` runs the binding's legs under `deno --cpu-prof` into `<dir>`.
 *
 * @module
 */

import { join } from "node:path";
import { Consumer, Producer } from "../src/kafka/mod.ts";
import {
  type BenchOptions,
  type BenchRow,
  benchTable,
  countMessages,
  cpuSeconds,
  createTopics,
  defaultBootstrap,
  deleteTopics,
  formatRatios,
  kcatConsume,
  kcatProduceLines,
  kcatSettings,
  measureDenoScript,
  median,
  ratioLines,
  requireBroker,
  runKcat,
  runPlatformatic,
  type Sample as RunSample,
  stopwatch,
  summarizeSamples,
  syncDisks,
  uniqueTopicName,
} from "./support/mod.ts";

/** Size of every message: 512 KiB, OpenMSIStream's default chunk. */
export const MESSAGE_BYTES = 512 * 1024;
/** Partitions of every topic. */
export const PARTITIONS = 4;
/** Default data per measurement, MiB. */
export const DEFAULT_SIZE_MIB = 1024;
/** Default number of timed runs per contender. */
export const DEFAULT_RUNS = 5;
/** How many distinct message buffers are used in turn. */
const POOL_SIZE = 16;
/** Size of the untimed warm-up, MiB. */
const WARMUP_MIB = 64;

/** Producer properties given to both the binding and kcat (`-X`); librdkafka 2.0.2 defaults. */
export const PRODUCER_SETTINGS: Readonly<Record<string, string>> = {
  "acks": "all",
  "linger.ms": "5",
  "batch.size": "1000000",
  "compression.codec": "none",
};

/** Consumer properties given to both (`-X` for kcat): none, librdkafka's defaults. */
export const CONSUMER_SETTINGS: Readonly<Record<string, string>> = {};

const SELF = new URL(import.meta.url).pathname;

/** What a child process running one binding leg is told. */
interface LegSpec {
  kind: "produce" | "assign" | "subscribe";
  bootstrap: string;
  topic: string;
  count: number;
  poolDir: string;
  config: Record<string, string>;
}

/** What a binding leg reports back (one JSON line on stdout). */
interface LegResult {
  seconds: number;
  cpuSeconds: number;
  messages: number;
  bytes: number;
}

/** One timed leg of one contender. */
interface Sample extends RunSample {
  /** For the binding: wall seconds of the whole child process (Deno start-up included). */
  processSeconds?: number;
}

// ---------------------------------------------------------------------------------------------
// The binding's legs, run in a child process.

async function loadPool(dir: string): Promise<Uint8Array[]> {
  const pool: Uint8Array[] = [];
  for (let i = 0; i < POOL_SIZE; i++) pool.push(await Deno.readFile(join(dir, poolName(i))));
  return pool;
}

async function produceLeg(spec: LegSpec): Promise<LegResult> {
  const pool = await loadPool(spec.poolDir);
  let delivered = 0;
  let failed: unknown;
  let bytes = 0;
  const cpu0 = cpuSeconds() ?? 0;
  const clock = stopwatch();
  {
    await using producer = new Producer({ "bootstrap.servers": spec.bootstrap, ...spec.config });
    for (let i = 0; i < spec.count; i++) {
      const value = pool[i % pool.length];
      const pending = await producer.send({ topic: spec.topic, value });
      bytes += value.byteLength;
      pending.delivered.then(() => delivered++, (error) => failed ??= error);
    }
    await producer.flush(600_000);
  }
  const seconds = clock.seconds();
  const cpu = (cpuSeconds() ?? 0) - cpu0;
  if (failed !== undefined) throw failed;
  if (delivered !== spec.count) throw new Error(`${delivered} of ${spec.count} delivered`);
  return { seconds, cpuSeconds: cpu, messages: delivered, bytes };
}

async function consumeLeg(spec: LegSpec): Promise<LegResult> {
  let messages = 0;
  let bytes = 0;
  const cpu0 = cpuSeconds() ?? 0;
  const clock = stopwatch();
  {
    await using consumer = new Consumer({
      "bootstrap.servers": spec.bootstrap,
      "group.id": uniqueTopicName("ferry-bench-consume"),
      "enable.auto.commit": false,
      "auto.offset.reset": "earliest",
      ...spec.config,
    });
    if (spec.kind === "subscribe") consumer.subscribe([spec.topic]);
    else {
      await consumer.assign(
        Array.from({ length: PARTITIONS }, (_, partition) => ({
          topic: spec.topic,
          partition,
          offset: -2, // beginning
        })),
      );
    }
    const deadline = Date.now() + 600_000;
    while (messages < spec.count) {
      if (Date.now() > deadline) throw new Error(`only ${messages} of ${spec.count} read`);
      for (const message of await consumer.poll({ maxMessages: 1000, timeoutMs: 100 })) {
        messages++;
        bytes += message.value?.byteLength ?? 0;
      }
    }
  }
  const seconds = clock.seconds();
  const cpu = (cpuSeconds() ?? 0) - cpu0;
  if (messages !== spec.count || bytes !== spec.count * MESSAGE_BYTES) {
    throw new Error(`read ${messages} messages, ${bytes} bytes; expected ${spec.count}`);
  }
  return { seconds, cpuSeconds: cpu, messages, bytes };
}

/**
 * `@platformatic/kafka` (plain JavaScript client from npm) consuming the topic from the
 * beginning in a fresh group, in a child of its own (`bench/fixtures/platformatic_consume.ts`),
 * timed inside like the binding's legs.
 */
async function runPlatformaticLeg(bootstrap: string, topic: string, count: number) {
  const result = await runPlatformatic({ bootstrap, topic, count }, count * MESSAGE_BYTES);
  return {
    seconds: result.seconds,
    cpuSeconds: result.cpuSeconds,
    peakRssBytes: result.run.peakRssBytes,
    processSeconds: result.run.seconds,
  };
}

async function runBindingLeg(spec: LegSpec): Promise<Sample> {
  const run = await measureDenoScript(SELF, ["--leg", JSON.stringify(spec)], {
    stdout: "piped",
  });
  const line = run.stdout.trim().split("\n").pop() ?? "";
  const result = JSON.parse(line) as LegResult;
  return {
    seconds: result.seconds,
    cpuSeconds: result.cpuSeconds,
    peakRssBytes: run.peakRssBytes,
    processSeconds: run.seconds,
  };
}

// ---------------------------------------------------------------------------------------------
// kcat's legs.

function kcatProduceFiles(bootstrap: string, topic: string, count: number, poolDir: string) {
  const files = Array.from({ length: count }, (_, i) => poolName(i % POOL_SIZE));
  return runKcat(
    ["-P", "-b", bootstrap, "-t", topic, "-q", ...kcatSettings(PRODUCER_SETTINGS), ...files],
    poolDir,
  );
}

// ---------------------------------------------------------------------------------------------
// Preparing the messages.

function poolName(i: number): string {
  return `m${String(i).padStart(2, "0")}`;
}

/** Writes the pool (one file per buffer) and the newline-delimited file of `count` messages. */
async function prepareMessages(dir: string, count: number): Promise<string> {
  const pool: Uint8Array[] = [];
  for (let i = 0; i < POOL_SIZE; i++) {
    const buffer = new Uint8Array(MESSAGE_BYTES);
    for (let at = 0; at < buffer.length; at += 65_536) {
      crypto.getRandomValues(buffer.subarray(at, at + 65_536));
    }
    // No newline inside a message: it delimits messages in the file for `kcat -P -l`.
    for (let j = 0; j < buffer.length; j++) if (buffer[j] === 0x0a) buffer[j] = 0x0b;
    pool.push(buffer);
    await Deno.writeFile(join(dir, poolName(i)), buffer);
  }
  const linesFile = join(dir, "messages.txt");
  using file = await Deno.open(linesFile, { write: true, create: true, truncate: true });
  const newline = new Uint8Array([0x0a]);
  for (let i = 0; i < count; i++) {
    for (const part of [pool[i % POOL_SIZE], newline]) {
      let done = 0;
      while (done < part.length) done += await file.write(part.subarray(done));
    }
  }
  return linesFile;
}

// ---------------------------------------------------------------------------------------------
// The section.

function summarize(group: string, name: string, bytes: number, count: number, runs: Sample[]) {
  const row = summarizeSamples(group, name, { bytes, messages: count }, runs);
  const overhead = runs.flatMap((r) =>
    r.processSeconds === undefined ? [] : [r.processSeconds - r.seconds]
  );
  if (overhead.length > 0) {
    row.note = `${group}, ${name}: the whole child process (Deno start-up, loading its ` +
      `modules and the producer's message pool) took ${median(overhead).toFixed(2)} s more ` +
      "than the timed part";
  }
  return row;
}

/** Rotates `items` by `by` places: the order of the contenders in run `by`. */
function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/**
 * Runs the binding-versus-kcat benchmark and returns its rows: three producers (the binding,
 * kcat with one file per message, kcat with a newline-delimited file) and five consumers (the
 * binding with `assign()` and with `subscribe()`, kcat with `-e -c N` and with `-e`,
 * `@platformatic/kafka`). The faster
 * kcat of each direction is the baseline; the binding's rows carry the 0.8 target.
 *
 * @example
 * ```ts ignore
 * import { run } from "./kafka_bench.ts";
 * const rows = await run({ sizeMiB: 256, runs: 1, bootstrap: "127.0.0.1:19092", log: () => {} });
 * ```
 */
export async function run(options: BenchOptions): Promise<BenchRow[]> {
  const sizeMiB = options.sizeMiB ?? DEFAULT_SIZE_MIB;
  const runs = options.runs ?? DEFAULT_RUNS;
  const count = Math.max(1, Math.round((sizeMiB * 2 ** 20) / MESSAGE_BYTES));
  const bytes = count * MESSAGE_BYTES;
  const { bootstrap, log } = options;
  await requireBroker(bootstrap);

  const dir = await Deno.makeTempDir({ prefix: "ferry-kafka-bench-" });
  const topics: string[] = [];
  const freshTopics = async (...names: string[]) => {
    const made = names.map((name) => uniqueTopicName(`ferry-bench-${name}`));
    topics.push(...made);
    await createTopics(bootstrap, made, PARTITIONS);
    return made;
  };
  const dropTopics = async () => {
    await deleteTopics(bootstrap, topics.splice(0));
  };
  const verify = async (topic: string, expected: number, who: string) => {
    const found = await countMessages(bootstrap, topic, PARTITIONS);
    if (found !== expected) throw new Error(`${who} left ${found} messages, not ${expected}`);
  };
  const leg = (kind: LegSpec["kind"], topic: string, n: number, config: Record<string, string>) =>
    runBindingLeg({ kind, bootstrap, topic, count: n, poolDir: dir, config });

  try {
    log(`kafka: preparing ${count} messages of ${MESSAGE_BYTES} bytes in ${dir}`);
    const linesFile = await prepareMessages(dir, count);

    const warm = Math.min(count, Math.round((WARMUP_MIB * 2 ** 20) / MESSAGE_BYTES));
    log(`kafka: warm-up (${warm} messages, untimed)`);
    {
      const [a, b] = await freshTopics("warm-binding", "warm-kcat");
      await leg("produce", a, warm, { ...PRODUCER_SETTINGS });
      await kcatProduceFiles(bootstrap, b, warm, dir);
      await leg("assign", b, warm, { ...CONSUMER_SETTINGS });
      await leg("subscribe", b, warm, { ...CONSUMER_SETTINGS });
      await kcatConsume(bootstrap, a, { count: warm, settings: CONSUMER_SETTINGS });
      await runPlatformaticLeg(bootstrap, b, warm);
      await dropTopics();
    }

    const produce = { binding: [] as Sample[], files: [] as Sample[], lines: [] as Sample[] };
    const consume = {
      assign: [] as Sample[],
      subscribe: [] as Sample[],
      kcatCount: [] as Sample[],
      kcatEof: [] as Sample[],
      platformatic: [] as Sample[],
    };
    for (let r = 0; r < runs; r++) {
      const [tBinding, tFiles, tLines] = await freshTopics("binding", "kcat-files", "kcat-lines");
      const producers: [keyof typeof produce, () => Promise<Sample>][] = [
        ["binding", () => leg("produce", tBinding, count, { ...PRODUCER_SETTINGS })],
        ["files", () => kcatProduceFiles(bootstrap, tFiles, count, dir)],
        ["lines", () => kcatProduceLines(bootstrap, tLines, linesFile, PRODUCER_SETTINGS)],
      ];
      for (const [name, go] of rotate(producers, r)) {
        await syncDisks();
        log(`kafka: run ${r + 1}/${runs}: produce ${sizeMiB} MiB, ${name}`);
        const sample = await go();
        produce[name].push(sample);
        log(`kafka:   ${(bytes / 1e6 / sample.seconds).toFixed(1)} MB/s`);
      }
      await verify(tBinding, count, "the binding's producer");
      await verify(tFiles, count, "kcat -P (files)");
      await verify(tLines, count, "kcat -P -l");
      const consumers: [keyof typeof consume, () => Promise<Sample>][] = [
        ["assign", () => leg("assign", tFiles, count, { ...CONSUMER_SETTINGS })],
        ["subscribe", () => leg("subscribe", tFiles, count, { ...CONSUMER_SETTINGS })],
        ["kcatCount", () => kcatConsume(bootstrap, tFiles, { count, settings: CONSUMER_SETTINGS })],
        ["kcatEof", () => kcatConsume(bootstrap, tFiles, { settings: CONSUMER_SETTINGS })],
        ["platformatic", () => runPlatformaticLeg(bootstrap, tFiles, count)],
      ];
      for (const [name, go] of rotate(consumers, r)) {
        await syncDisks();
        log(`kafka: run ${r + 1}/${runs}: consume ${sizeMiB} MiB, ${name}`);
        const sample = await go();
        consume[name].push(sample);
        log(`kafka:   ${(bytes / 1e6 / sample.seconds).toFixed(1)} MB/s`);
      }
      await dropTopics();
    }

    const shape = `${sizeMiB} MiB, ${count} x 512 KiB, ${PARTITIONS} partitions`;
    const producing = `produce ${shape}`;
    const consuming = `consume ${shape}`;
    const rows: BenchRow[] = [
      summarize(producing, "binding: Producer.send", bytes, count, produce.binding),
      summarize(producing, "kcat -P, one file per message", bytes, count, produce.files),
      summarize(producing, "kcat -P -l, newline-delimited file", bytes, count, produce.lines),
      summarize(consuming, "binding: assign() from beginning", bytes, count, consume.assign),
      summarize(consuming, "binding: subscribe(), fresh group", bytes, count, consume.subscribe),
      summarize(consuming, `kcat -C -e -c ${count} > /dev/null`, bytes, count, consume.kcatCount),
      summarize(consuming, "kcat -C -e > /dev/null (waits for EOF)", bytes, count, consume.kcatEof),
      summarize(
        consuming,
        "@platformatic/kafka: consume(), fresh group, earliest",
        bytes,
        count,
        consume.platformatic,
      ),
    ];
    for (const i of [0, 3, 4]) rows[i].target = 0.8;
    // The baselines are kcat's faster variants: the stricter comparison.
    (rows[1].seconds <= rows[2].seconds ? rows[1] : rows[2]).baseline = true;
    (rows[5].seconds <= rows[6].seconds ? rows[5] : rows[6]).baseline = true;
    rows[6].note = `producer settings for both: ${
      Object.entries(PRODUCER_SETTINGS).map(([k, v]) => `${k}=${v}`).join(", ")
    }; consumers: librdkafka defaults; MB = 10^6 bytes; every consumer reads the topic ` +
      "kcat -P (files) wrote; binding and @platformatic/kafka times exclude Deno start-up " +
      "(timed inside their child, from creating the client to closing it), their CPU too";
    return rows;
  } finally {
    await dropTopics().catch((error) => log(`kafka: deleting topics failed: ${error}`));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--leg");
  if (at >= 0) {
    const spec = JSON.parse(Deno.args[at + 1]) as LegSpec;
    const result = spec.kind === "produce" ? await produceLeg(spec) : await consumeLeg(spec);
    console.log(JSON.stringify(result));
  } else {
    const value = (flag: string) => {
      const i = Deno.args.indexOf(flag);
      return i >= 0 ? Number(Deno.args[i + 1]) : undefined;
    };
    const rows = await run({
      sizeMiB: value("--size-mib"),
      runs: value("--runs"),
      bootstrap: defaultBootstrap(),
      log: (line) => console.error(line),
    });
    console.log(benchTable(rows));
    for (const row of rows) if (row.note) console.log(`- ${row.note}`);
    for (const line of formatRatios(ratioLines(rows), "- ")) console.log(line);
  }
}
