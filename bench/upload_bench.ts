// deno-lint-ignore-file no-console
/**
 * Upload throughput, CPU and peak memory, on the same broker in the same run, of:
 *
 * - Ferry (`ferry upload <folder>`, a child `deno run cli.ts upload`);
 * - `kcat -P` sending the very same chunk messages, pre-encoded into one file each (the
 *   floor of what a librdkafka producer can do here: no reading, hashing or encoding; the
 *   baseline, target 0.8);
 * - OpenMSIStream's `DataFileUploadDirectory --upload_existing` (its shipped producer settings),
 *   timed until the topic holds every chunk (target: Ferry 3x faster);
 * - Ferry uploading one big file (the memory bound: peak RSS must stay under 200 MB).
 *
 * The data set: about 80 % in two large files, 20 % in files of 100 KiB. Rates are MB/s
 * (10^6 bytes of file data per second, wall clock from spawning the process, start-up
 * included); peak memory is `VmHWM` of the process, sampled from `/proc`; CPU is user + system
 * of the whole process (OpenMSIStream's until it has exited after being told to quit), also
 * given in "passes": CPU seconds over those of one SHA-512 pass over the same bytes, measured
 * in the same run (`bench/support/sha512_pass.ts`). Ferry's format needs two passes per byte
 * (a chunk hash and a file hash); kcat sends messages already hashed.
 *
 *     deno task bench --only upload [--size-mib 1024]
 *     deno run -A bench/upload_bench.ts [--size-mib N] [--big-mib N] [--no-openmsistream]
 *
 * `--size-mib` below 1024 also shrinks the big file (to twice the size, at most 2048 MiB).
 *
 * @module
 */

import { join } from "node:path";
import { DEFAULT_CHUNK_SIZE } from "../src/chunks/chunk.ts";
import { encodeChunk } from "../src/chunks/encode.ts";
import { sha512, Sha512Hasher } from "../src/hash/sha512.ts";
import { Consumer } from "../src/kafka/mod.ts";
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
  makeDataSet,
  measureDenoScript,
  measureSha512Pass,
  openMsiStreamBin,
  ratioLines,
  readPeakRss,
  requireBroker,
  runKcat,
  type Sample,
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

const ROOT = new URL("..", import.meta.url).pathname;
const CLI = join(ROOT, "cli.ts");
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

async function messagesIn(bootstrap: string, topic: string): Promise<number> {
  await using consumer = new Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": "ferry-bench",
  });
  let sum = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    const w = await consumer.queryWatermarks(topic, p);
    sum += w.high - w.low;
  }
  return sum;
}

/** `ferry upload` of a folder or file, a measured child process. */
async function ferryUpload(bootstrap: string, path: string, topic: string): Promise<Sample> {
  const run = await measureDenoScript(CLI, [
    "upload",
    path,
    "-t",
    topic,
    "-b",
    bootstrap,
    "--no-upload-log",
    "-q",
  ]);
  return { seconds: run.seconds, cpuSeconds: run.cpuSeconds, peakRssBytes: run.peakRssBytes };
}

/**
 * OpenMSIStream's `DataFileUploadDirectory --upload_existing`, timed from spawning it until the
 * topic holds `chunks` messages; then told to quit (`q`). CPU is the whole process's, until it
 * has exited.
 */
async function openMsiStreamUpload(
  bin: string,
  bootstrap: string,
  data: string,
  topic: string,
  chunks: number,
  work: string,
): Promise<Sample> {
  const config = join(work, "openmsistream-upload.config");
  await Deno.writeTextFile(
    config,
    `[broker]\nbootstrap.servers = ${bootstrap}\n[producer]\nbatch.size = 2000000\n` +
      "linger.ms = 100\ncompression.type = lz4\nkey.serializer = StringSerializer\n" +
      "value.serializer = DataFileChunkSerializer\n",
  );
  const cpuBefore = cpuSeconds("self", true);
  const started = performance.now();
  const child = new Deno.Command(join(bin, "DataFileUploadDirectory"), {
    args: [data, "--config", config, "--topic_name", topic, "--upload_existing"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  let peak: number | undefined;
  const sampler = setInterval(() => {
    const value = readPeakRss(child.pid);
    if (value !== undefined && (peak === undefined || value > peak)) peak = value;
  }, 10);
  let seconds: number | undefined;
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + 3_600_000;
  try {
    while (seconds === undefined) {
      if (await messagesIn(bootstrap, topic) >= chunks) {
        seconds = (performance.now() - started) / 1000;
      } else if (exited || Date.now() > deadline) {
        const out = await output;
        const text = new TextDecoder().decode(out.stderr).slice(-4000);
        throw new Error(
          `OpenMSIStream ${exited ? "exited" : "timed out"} before uploading:\n${text}`,
        );
      } else await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    clearInterval(sampler);
    if (!exited) {
      const writer = child.stdin.getWriter();
      await writer.write(encoder.encode("q\n")).catch(() => {});
      await writer.close().catch(() => {});
    }
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    await output.catch(() => {});
    clearTimeout(killer);
  }
  const cpuAfter = cpuSeconds("self", true);
  return {
    seconds,
    peakRssBytes: peak,
    cpuSeconds: cpuBefore === undefined || cpuAfter === undefined
      ? undefined
      : cpuAfter - cpuBefore,
  };
}

/** Options of {@linkcode run}. */
export interface UploadBenchOptions extends BenchOptions {
  /** Size of the single big file, MiB; 0 leaves the memory check out. */
  bigMiB?: number;
  /** Include OpenMSIStream (its venv from `scripts/openmsistream/venv.sh`); default true. */
  openmsistream?: boolean;
}

/**
 * Runs the upload benchmark and returns its rows: Ferry (target 0.8 of kcat), kcat -P with the
 * same messages (the baseline), OpenMSIStream, and Ferry on one big file (its peak RSS), each
 * with its CPU in SHA-512 passes over the same bytes.
 *
 * @example
 * ```ts ignore
 * import { run } from "./upload_bench.ts";
 * const rows = await run({ sizeMiB: 64, bootstrap: "127.0.0.1:19092", log: () => {} });
 * ```
 */
export async function run(options: UploadBenchOptions): Promise<BenchRow[]> {
  const sizeMiB = options.sizeMiB ?? DEFAULT_SIZE_MIB;
  const bigMiB = options.bigMiB ??
    (options.sizeMiB === undefined ? DEFAULT_BIG_MIB : Math.min(DEFAULT_BIG_MIB, 2 * sizeMiB));
  const { bootstrap, log } = options;
  await requireBroker(bootstrap);
  const work = await Deno.makeTempDir({ prefix: "ferry-upload-bench-" });
  const topics: string[] = [];
  const newTopic = async (name: string) => {
    const topic = uniqueTopicName(`ferry-bench-upload-${name}`);
    topics.push(topic);
    await createTopics(bootstrap, [topic], PARTITIONS);
    return topic;
  };
  const rows: BenchRow[] = [];
  try {
    const data = join(work, "data");
    log(`upload: writing ${sizeMiB} MiB of files into ${data}`);
    const files = await makeDataSet(data, Math.round(sizeMiB * 2 ** 20));
    const bytes = [...files.values()].reduce((a, b) => a + b, 0);
    const chunks = [...files.values()].reduce((a, s) => a + Math.ceil(s / CHUNK), 0);
    const set = { bytes, messages: chunks };
    const group = `${sizeMiB} MiB, ${files.size} files, ${chunks} chunks, ${PARTITIONS} partitions`;
    log(`upload: ${files.size} files, ${chunks} chunks`);

    await syncDisks();
    log("upload: ferry upload");
    const ferry = await ferryUpload(bootstrap, data, await newTopic("ferry"));
    log(`upload:   ${(bytes / 1e6 / ferry.seconds).toFixed(1)} MB/s`);

    log("upload: encoding the same messages for kcat");
    const messages = await encodeMessages(data, files, join(work, "messages"));
    const kcatTopic = await newTopic("kcat");
    await syncDisks();
    log("upload: kcat -P");
    const kcat = await runKcat([
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
    log(`upload:   ${(bytes / 1e6 / kcat.seconds).toFixed(1)} MB/s`);
    await Deno.remove(join(work, "messages"), { recursive: true });

    const groupRows: BenchRow[] = [
      { ...summarizeSamples(group, "ferry upload", set, [ferry]), target: 0.8 },
      { ...summarizeSamples(group, "kcat -P (same messages)", set, [kcat]), baseline: true },
    ];
    if (options.openmsistream ?? true) {
      const bin = await openMsiStreamBin();
      const topic = await newTopic("openmsistream");
      await syncDisks();
      log("upload: OpenMSIStream DataFileUploadDirectory");
      const omsi = await openMsiStreamUpload(bin, bootstrap, data, topic, chunks, work);
      log(`upload:   ${(bytes / 1e6 / omsi.seconds).toFixed(1)} MB/s`);
      groupRows.push(
        summarizeSamples(group, "OpenMSIStream DataFileUploadDirectory", set, [omsi]),
      );
    }
    await Deno.remove(data, { recursive: true });
    log(`upload: one SHA-512 pass over ${bytes} bytes`);
    groupRows[0].note = applySha512Pass(groupRows, await measureSha512Pass(bytes), group);
    rows.push(...groupRows);

    if (bigMiB > 0) {
      const dir = join(work, "big");
      await Deno.mkdir(dir);
      const bigBytes = bigMiB * 2 ** 20;
      log(`upload: writing one ${bigMiB} MiB file`);
      await writeRandomFile(join(dir, "big.bin"), bigBytes, 0);
      const topic = await newTopic("big");
      await syncDisks();
      log("upload: ferry upload, one big file");
      const one = await ferryUpload(bootstrap, join(dir, "big.bin"), topic);
      await Deno.remove(dir, { recursive: true });
      const row = summarizeSamples(
        `one ${bigMiB} MiB file`,
        "ferry upload, one file",
        { bytes: bigBytes, messages: Math.ceil(bigBytes / CHUNK) },
        [one],
      );
      log(`upload: one SHA-512 pass over ${bigBytes} bytes`);
      const passNote = applySha512Pass([row], await measureSha512Pass(bigBytes), row.group);
      const peak = (one.peakRssBytes ?? 0) / 1e6;
      row.note = `one ${bigMiB} MiB file: peak RSS ${peak.toFixed(0)} MB (target < 200 MB: ${
        peak < 200 ? "met" : "MISSED"
      }); ${passNote}`;
      rows.push(row);
    }
    return rows;
  } finally {
    await deleteTopics(bootstrap, topics).catch((error) =>
      log(`upload: deleting topics failed: ${error}`)
    );
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const value = (flag: string) => {
    const i = Deno.args.indexOf(flag);
    return i >= 0 ? Number(Deno.args[i + 1]) : undefined;
  };
  const rows = await run({
    sizeMiB: value("--size-mib"),
    bigMiB: value("--big-mib"),
    openmsistream: !Deno.args.includes("--no-openmsistream"),
    bootstrap: defaultBootstrap(),
    log: (line) => console.error(line),
  });
  console.log(benchTable(rows));
  for (const row of rows) if (row.note) console.log(`- ${row.note}`);
  for (const line of formatRatios(ratioLines(rows), "- ")) console.log(line);
  const ferry = rows.find((r) => r.name === "ferry upload");
  const omsi = rows.find((r) => r.name.startsWith("OpenMSIStream"));
  if (ferry && omsi) {
    const ratio = omsi.seconds / ferry.seconds;
    console.log(
      `- ferry upload / OpenMSIStream = ${ratio.toFixed(2)}; target >= 3.00: ${
        ratio >= 3 ? "met" : "MISSED"
      }`,
    );
  }
}
