/**
 * Upload throughput and peak memory, on the same broker in the same run, of:
 *
 * - Ferry (`ferry upload <folder>`, a subprocess);
 * - `kcat -P` sending the very same chunk messages, pre-encoded into one file each (the
 *   floor of what a librdkafka producer can do here: no reading, hashing or encoding);
 * - OpenMSIStream's `DataFileUploadDirectory --upload_existing` (its shipped producer settings),
 *   timed until the topic holds every chunk;
 * - Ferry uploading one big file (the memory bound: peak RSS must stay under 200 MB).
 *
 * The data set: about 80 % in two large files, 20 % in files of 100 KiB. Rates are MB/s
 * (10^6 bytes of file data per second, wall clock, start-up included); peak memory is the
 * process's maximum resident set (GNU time's %M).
 *
 *     deno run -A bench/upload_bench.ts [size, default 1GiB] [--big-file 2GiB] [--no-openmsistream]
 *
 * @module
 */

import { join } from "node:path";
import { DEFAULT_CHUNK_SIZE } from "../src/chunks/chunk.ts";
import { encodeChunk } from "../src/chunks/encode.ts";
import { sha512, Sha512Hasher } from "../src/hash/sha512.ts";
import { Admin, Consumer } from "../src/kafka/mod.ts";
import { makeDataSet, writeRandomFile } from "./support/files.ts";
import { openMsiStreamBin } from "./support/openmsistream.ts";

/** One line of the result table. */
export interface UploadBenchRow {
  /** What was measured. */
  name: string;
  /** File data uploaded per second, in MB/s (10^6 bytes). */
  mbPerSec: number;
  /** Peak resident memory of the uploading process, in MB (10^6 bytes). */
  peakRssMb: number;
  /** Wall-clock seconds. */
  seconds: number;
  /** Bytes of file data. */
  bytes: number;
}

/** Options of {@linkcode runUploadBench}. */
export interface UploadBenchOptions {
  /** Bytes of the mixed data set; default 1 GiB. */
  totalBytes?: number;
  /** Size of the single big file for the memory check; default 2 GiB; 0 leaves it out. */
  bigFileBytes?: number;
  /** The broker; default `FERRY_TEST_BOOTSTRAP` or 127.0.0.1:39092. */
  bootstrap?: string;
  /** Include OpenMSIStream (needs `scripts/openmsistream/venv.sh`); default true. */
  openmsistream?: boolean;
  /** Progress messages; default none. */
  log?: (line: string) => void;
}

const ROOT = new URL("..", import.meta.url).pathname;
const CLI = join(ROOT, "cli.ts");
const decoder = new TextDecoder();
const encoder = new TextEncoder();
const CHUNK = DEFAULT_CHUNK_SIZE;

/** Encodes every chunk of every file as Ferry would, one message per file, for kcat. */
async function encodeMessages(dir: string, files: Map<string, number>, out: string) {
  await Deno.mkdir(out, { recursive: true });
  const paths: string[] = [];
  let n = 0;
  for (const [path, size] of files) {
    const bytes = await Deno.readFile(join(dir, path));
    const fileHash = new Sha512Hasher().update(bytes).digest();
    const total = Math.ceil(size / CHUNK);
    const slash = path.lastIndexOf("/");
    for (let i = 1; i <= total; i++) {
      const data = bytes.subarray((i - 1) * CHUNK, Math.min(size, i * CHUNK));
      const chunk = {
        filename: path.slice(slash + 1),
        subdir: path.slice(0, slash),
        fileHash,
        chunkHash: sha512(data),
        chunkOffset: (i - 1) * CHUNK,
        chunkIndex: i,
        totalChunks: total,
        filenameAppend: "",
        data,
      };
      const file = join(out, `m${String(n++).padStart(7, "0")}`);
      await Deno.writeFile(file, encodeChunk(chunk));
      paths.push(file);
    }
  }
  return paths;
}

/** Runs a command under GNU time; returns wall seconds and peak RSS in MB. */
async function timed(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; stdin?: string; until?: () => Promise<boolean> } = {},
): Promise<{ seconds: number; peakRssMb: number; output: string }> {
  const stats = await Deno.makeTempFile();
  const start = performance.now();
  const child = new Deno.Command("/usr/bin/time", {
    args: ["-f", "%M", "-o", stats, command, ...args],
    env: options.env,
    stdin: options.until ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(3_600_000),
  }).spawn();
  const output = child.output();
  let seconds: number;
  if (options.until) {
    while (!await options.until()) await new Promise((r) => setTimeout(r, 200));
    seconds = (performance.now() - start) / 1000;
    const writer = child.stdin.getWriter();
    await writer.write(encoder.encode("q\n"));
    await writer.close();
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    await child.status;
    clearTimeout(killer);
  } else {
    await child.status;
    seconds = (performance.now() - start) / 1000;
  }
  const out = await output;
  const text = decoder.decode(out.stdout) + decoder.decode(out.stderr);
  if (!out.success && !options.until) {
    throw new Error(`${command} failed (exit ${out.code}):\n${text}`);
  }
  const kb = Number((await Deno.readTextFile(stats)).trim().split("\n").pop());
  await Deno.remove(stats);
  return { seconds, peakRssMb: (kb * 1024) / 1e6, output: text };
}

async function messagesIn(bootstrap: string, topic: string, partitions: number): Promise<number> {
  await using consumer = new Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": "ferry-bench",
  });
  let sum = 0;
  for (let p = 0; p < partitions; p++) {
    const w = await consumer.queryWatermarks(topic, p);
    sum += w.high - w.low;
  }
  return sum;
}

/**
 * Runs the benchmark and returns one row per measurement (Ferry, kcat, OpenMSIStream, Ferry on
 * one big file).
 *
 * @example
 * ```ts ignore
 * import { runUploadBench } from "./upload_bench.ts";
 * const rows = await runUploadBench({ totalBytes: 256 * 1024 * 1024, bigFileBytes: 0 });
 * ```
 *
 * @param options Sizes, broker, which tools.
 * @returns The rows.
 */
export async function runUploadBench(options: UploadBenchOptions = {}): Promise<UploadBenchRow[]> {
  const total = options.totalBytes ?? 1024 ** 3;
  const bigFile = options.bigFileBytes ?? 2 * 1024 ** 3;
  const bootstrap = options.bootstrap ?? Deno.env.get("FERRY_TEST_BOOTSTRAP") ?? "127.0.0.1:39092";
  const log = options.log ?? (() => {});
  const work = await Deno.makeTempDir({ prefix: "ferry-bench-" });
  const rows: Omit<UploadBenchRow, "mbPerSec">[] = [];
  const topics: string[] = [];
  await using admin = new Admin({ "bootstrap.servers": bootstrap });
  const newTopic = async (name: string) => {
    const topic = `ferry-bench-${name}-${Date.now().toString(36)}`;
    await admin.createTopics([{ topic, partitions: 4 }]);
    topics.push(topic);
    await new Promise((r) => setTimeout(r, 1000));
    return topic;
  };
  try {
    const data = join(work, "data");
    log(`writing ${(total / 2 ** 20).toFixed(0)} MiB of files...`);
    const files = await makeDataSet(data, total);
    const bytes = [...files.values()].reduce((a, b) => a + b, 0);
    const chunks = [...files.values()].reduce((a, s) => a + Math.ceil(s / CHUNK), 0);
    log(`${files.size} files, ${chunks} chunks`);
    const ferryArgs = (dir: string, topic: string) => [
      "run",
      "-A",
      CLI,
      "upload",
      dir,
      "-t",
      topic,
      "-b",
      bootstrap,
      "--no-upload-log",
      "-q",
    ];

    log("ferry...");
    const ferry = await timed(Deno.execPath(), ferryArgs(data, await newTopic("ferry")));
    rows.push({ name: "ferry upload", bytes, ...ferry });

    log("encoding messages for kcat...");
    const messages = await encodeMessages(data, files, join(work, "messages"));
    log("kcat -P...");
    const kcatTopic = await newTopic("kcat");
    const kcat = await timed("kcat", [
      "-P",
      "-b",
      bootstrap,
      "-t",
      kcatTopic,
      "-p",
      "-1",
      "-k",
      "bench",
      "-X",
      "enable.idempotence=true",
      "-X",
      "linger.ms=5",
      ...messages,
    ]);
    rows.push({ name: "kcat -P (same messages)", bytes, ...kcat });
    await Deno.remove(join(work, "messages"), { recursive: true });

    if (options.openmsistream ?? true) {
      const bin = await openMsiStreamBin();
      const config = join(work, "openmsistream.config");
      await Deno.writeTextFile(
        config,
        `[broker]\nbootstrap.servers = ${bootstrap}\n[producer]\nbatch.size = 2000000\n` +
          "linger.ms = 100\ncompression.type = lz4\nkey.serializer = StringSerializer\n" +
          "value.serializer = DataFileChunkSerializer\n",
      );
      log("OpenMSIStream DataFileUploadDirectory...");
      const topic = await newTopic("openmsistream");
      const omsi = await timed(
        join(bin, "DataFileUploadDirectory"),
        [data, "--config", config, "--topic_name", topic, "--upload_existing"],
        { until: async () => await messagesIn(bootstrap, topic, 4) >= chunks },
      );
      rows.push({ name: "OpenMSIStream DataFileUploadDirectory", bytes, ...omsi });
      await Deno.remove(join(data, "LOGS"), { recursive: true }).catch(() => {});
    }

    await Deno.remove(data, { recursive: true });
    if (bigFile > 0) {
      const dir = join(work, "big");
      await Deno.mkdir(dir);
      log(`writing one ${(bigFile / 2 ** 30).toFixed(1)} GiB file...`);
      await writeRandomFile(join(dir, "big.bin"), bigFile, 0);
      log("ferry, one big file...");
      const one = await timed(
        Deno.execPath(),
        ferryArgs(join(dir, "big.bin"), await newTopic("big")),
      );
      rows.push({
        name: `ferry upload, one ${(bigFile / 2 ** 30).toFixed(1)} GiB file`,
        bytes: bigFile,
        ...one,
      });
    }
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
    await admin.deleteTopics(topics).catch(() => {});
  }
  return rows.map(({ name, seconds, peakRssMb, bytes }) => ({
    name,
    bytes,
    seconds,
    peakRssMb,
    mbPerSec: bytes / 1e6 / seconds,
  }));
}

function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(k|kib|m|mib|g|gib)?$/i.exec(text.trim());
  if (!m) throw new Error(`Size ${JSON.stringify(text)} is not a size such as 256MiB or 1GiB.`);
  const unit = (m[2] ?? "").toLowerCase()[0];
  return Math.round(
    Number(m[1]) * (unit === "k" ? 1024 : unit === "m" ? 2 ** 20 : unit === "g" ? 2 ** 30 : 1),
  );
}

function print(line: string): void {
  Deno.stdout.writeSync(encoder.encode(`${line}\n`));
}

if (import.meta.main) {
  const args = [...Deno.args];
  const flag = (name: string) => {
    const i = args.indexOf(name);
    if (i === -1) return undefined;
    return args.splice(i, 2)[1];
  };
  const big = flag("--big-file");
  const noOmsi = args.includes("--no-openmsistream");
  const positional = args.filter((a) => !a.startsWith("--"));
  const rows = await runUploadBench({
    totalBytes: positional[0] ? parseSize(positional[0]) : undefined,
    bigFileBytes: big === undefined ? undefined : parseSize(big),
    openmsistream: !noOmsi,
    log: (line) => Deno.stderr.writeSync(encoder.encode(`${line}\n`)),
  });
  print(
    `${"what".padEnd(42)} ${"MB/s".padStart(8)} ${"peak RSS MB".padStart(12)} ${"s".padStart(7)}`,
  );
  for (const r of rows) {
    print(
      `${r.name.padEnd(42)} ${r.mbPerSec.toFixed(1).padStart(8)} ${
        r.peakRssMb.toFixed(0).padStart(12)
      } ${r.seconds.toFixed(1).padStart(7)}`,
    );
  }
  const rate = (prefix: string) => rows.find((r) => r.name.startsWith(prefix))?.mbPerSec;
  const ferry = rate("ferry upload")!;
  const kcat = rate("kcat");
  const omsi = rate("OpenMSIStream");
  if (kcat) print(`ferry / kcat:          ${(ferry / kcat).toFixed(2)}  (target >= 0.8)`);
  if (omsi) print(`ferry / OpenMSIStream: ${(ferry / omsi).toFixed(2)}  (target >= 3)`);
  const one = rows.find((r) => r.name.includes("one "));
  if (one) print(`ferry peak RSS, one big file: ${one.peakRssMb.toFixed(0)} MB  (target < 200)`);
}
