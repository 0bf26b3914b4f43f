/**
 * The coordinator of a file processor, on the main thread: one consumer in the group, chunk
 * decoding and reassembly, the registry, offset watermarks and commits, and the worker pool
 * that runs `process`. Because every chunk a process reads goes to one assembler, files whose
 * chunks are spread over partitions (topics written by OpenMSIStream) complete with any number
 * of workers; Ferry-written topics keep a file in one partition, so several processes in one
 * group split the work.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { decodeChunk } from "../chunks/decode.ts";
import { hashesEqual, hashHex } from "../hash/sha512.ts";
import { FileHashLane } from "../hash/file_hash_lane.ts";
import { relativePath as chunkRelativePath } from "../chunks/chunk.ts";
import type { DownloadedFile, ReassemblyMode } from "../files/downloaded_file.ts";
import { resolveInside, UnsafePathError } from "../files/path.ts";
import {
  type ChunkSource,
  DEFAULT_MAX_PARTIAL_FILES,
  FileAssembler,
  type FileAssembly,
} from "../files/reassembly.ts";
import {
  Admin,
  type ConsumedMessage,
  Consumer,
  type KafkaConfig,
  type KafkaError,
  type RebalanceEvent,
  type TopicPartition,
} from "../kafka/mod.ts";
import { type FailedRecord, FileRegistry } from "../registry/registry.ts";
import { FAILED_DIR, PARTIAL_DIR } from "../files/layout.ts";
import { OffsetTracker } from "./offsets.ts";
import { FetcherWaker } from "../kafka/fetcher_waker.ts";
import { GroupIdleCheck } from "../processor/group_idle.ts";
import { BrokerUnreachableError, BrokerWatch } from "./broker_watch.ts";
import { type PoolStopReport, WorkerPool } from "../workers/pool.ts";
import { fileRunMetrics, type PartitionLag, serveMetrics } from "../command/metrics.ts";
import { type FileJobMessage, hashMismatchResult, type JobResult } from "../workers/protocol.ts";

const logger = getLogger(["ferry", "runtime"]);

/** How long a run stopping for a broker outage may take to close before the process exits. */
const OUTAGE_EXIT_GRACE_MS = 20_000;

/**
 * After the outage limit: if closing hangs on requests the absent broker never answers, exit 1
 * anyway. That is as safe as `kill -9`: nothing unfinished was committed, the logs are whole.
 */
function exitIfStuck(): void {
  const timer = setTimeout(() => {
    logger.error(
      "Could not close cleanly with the broker away; exiting (nothing unfinished was " +
        "committed).",
    );
    Deno.exit(1);
  }, OUTAGE_EXIT_GRACE_MS);
  Deno.unrefTimer(timer);
}

/** Everything a file processor run needs, after the command line is parsed. */
export interface FileRunSettings {
  /** The processor's name. */
  name: string;
  /** The module whose `defineProcessor` call the workers load. */
  scriptUrl: string;
  /** The topic to read. */
  topic: string;
  /** The consumer group. */
  group: string;
  /** librdkafka consumer properties (at least `bootstrap.servers`). */
  kafka: KafkaConfig;
  /** The output directory. */
  outputDir: string;
  /** How files are rebuilt. */
  mode: ReassemblyMode;
  /** The number of workers. */
  workers: number;
  /** Only files whose relative path matches are processed (others are skipped). */
  downloadRegex?: RegExp;
  /** The values of the processor's extra options. */
  options: Record<string, unknown>;
  /** Stop once caught up and idle for this long (ms); undefined runs until stopped. */
  exitWhenIdleMs?: number;
  /** How often to report status (ms). */
  statusIntervalMs: number;
  /** Attempts per file before it stays failed. */
  maxAttempts: number;
  /** Time limit of one `process` call (ms); 0 for none. */
  processTimeoutMs: number;
  /** Stop with an error once the broker is unreachable this long (ms); 0 or undefined waits. */
  brokerTimeoutMs?: number;
  /** How long a graceful stop waits for running `process` calls (ms). */
  stopGraceMs: number;
  /** The most files in progress (default 1000); beyond, the least recently active is abandoned. */
  maxPartialFiles?: number;
  /** The most bytes of files in progress held in memory (default 256 MiB); beyond, they spill to disk. */
  maxPartialBytes?: number;
  /** The log level forwarded from workers. */
  logLevel?: string;
  /** Aborting it stops the run gracefully. */
  signal?: AbortSignal;
  /** Called with the status every `statusIntervalMs` and once at the end. */
  onStatus?: (status: RunStatus) => void;
  /** Serve Prometheus metrics on `http://127.0.0.1:<port>/metrics` while running (0: any port). */
  metricsPort?: number;
}

/**
 * Counters of a run.
 *
 * @example One line from a status
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RunStatus } from "../../mod.ts";
 *
 * function line(s: RunStatus): string {
 *   return `${s.processed} done, ${s.failed + s.invalid} failed, ${s.inProgress} in progress`;
 * }
 * const status: RunStatus = {
 *   processed: 9, failed: 1, invalid: 0, skipped: 0, filtered: 0, malformed: 0, abandoned: 0,
 *   inProgress: 2, running: 1, bytes: 1_000_000, seconds: 3, lag: 0, stopped: false, givenUp: 0,
 * };
 * assert.equal(line(status), "9 done, 1 failed, 2 in progress");
 * ```
 */
export interface RunStatus {
  /** Files processed successfully. */
  processed: number;
  /** Files whose `process` failed. */
  failed: number;
  /** Files whose content did not match their hash, or whose chunks did not fit. */
  invalid: number;
  /** Files skipped because they were processed (or failed) before. */
  skipped: number;
  /** Chunk messages skipped because their file did not match the download regex. */
  filtered: number;
  /** Messages that were not valid chunks. */
  malformed: number;
  /** Files in progress abandoned to keep within `maxPartialFiles` (their chunks skipped). */
  abandoned: number;
  /** Files being rebuilt. */
  inProgress: number;
  /** Files being processed. */
  running: number;
  /** Bytes of chunk data received. */
  bytes: number;
  /** Seconds since the run started. */
  seconds: number;
  /** Messages not yet read, over the assigned partitions (when known). */
  lag: number | undefined;
  /** Whether the run was stopped through its `signal` (SIGINT/SIGTERM on the command line). */
  stopped: boolean;
  /**
   * `process` calls still running when the stop grace ran out: given up, their files not
   * committed (they are read again on the next start).
   */
  givenUp: number;
}

interface RunningFile {
  assembly: FileAssembly;
  sources: ChunkSource[];
  /** When the poll that brought its last chunk returned (`performance.timeOrigin + now()`). */
  receivedAt?: number;
  /** Whether its SHA-512 is known to be right already (a file of one checked chunk). */
  checked?: boolean;
}

/** How long the loop waits for running jobs before it pauses the partitions (ms). */
const BACKPRESSURE_WAIT_MS = 5_000;

/**
 * The most messages read per poll: 32 chunks of 512 KiB are 16 MiB held at once, and a file
 * completed in a batch waits for at most that batch to be decoded before its job is sent.
 */
const POLL_MAX_MESSAGES = 32;

/** How often the loop lets other events in while it handles a batch of messages (ms). */
const YIELD_EVERY_MS = 2;

/** Resolves after the events already queued (workers' messages, timers, I/O) were handled. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs a file processor until it is stopped, or until idle with `exitWhenIdleMs`.
 * Resolves with the final status.
 */
export async function runFileProcessor(settings: FileRunSettings): Promise<RunStatus> {
  const runner = new FileRunner(settings);
  return await runner.run();
}

class FileRunner {
  readonly #s: FileRunSettings;
  readonly #tracker = new OffsetTracker();
  readonly #assembler: FileAssembler;
  /** Whole-file hashes computed while chunks arrive (each byte hashed once per hash). */
  #hashes!: FileHashLane;
  readonly #running = new Map<string, RunningFile>();
  readonly #jobs = new Set<Promise<void>>();
  readonly #started = Date.now();
  #registry!: FileRegistry;
  #pool!: WorkerPool;
  #consumer!: Consumer;
  /** Whether the whole group caught up, for `exitWhenIdleMs` (made on first use). */
  #groupIdle: GroupIdleCheck | undefined;
  #nextJobId = 1;
  #lastMessageAt = Date.now();
  #lastCommitAt = 0;
  /** The periodic commit in flight: a commit waits for the coordinator, so it is not awaited. */
  #committing: Promise<void> | undefined;
  #lastStatusAt = Date.now();
  #fatal: Error | undefined;
  #paused = false;
  #everAssigned = false;
  /** Wakes librdkafka's fetchers while messages come in (see {@linkcode FetcherWaker}). */
  #fetchers: FetcherWaker | undefined;
  readonly #watch: BrokerWatch;
  readonly #status: RunStatus = {
    processed: 0,
    failed: 0,
    invalid: 0,
    skipped: 0,
    filtered: 0,
    malformed: 0,
    abandoned: 0,
    inProgress: 0,
    running: 0,
    bytes: 0,
    seconds: 0,
    lag: undefined,
    stopped: false,
    givenUp: 0,
  };

  constructor(settings: FileRunSettings) {
    this.#s = settings;
    this.#assembler = new FileAssembler({
      outputDir: settings.outputDir,
      mode: settings.mode,
      maxFiles: settings.maxPartialFiles,
      maxMemoryBytes: settings.maxPartialBytes,
    });
    this.#watch = new BrokerWatch({
      bootstrap: String(settings.kafka["bootstrap.servers"] ?? ""),
      limitMs: settings.brokerTimeoutMs ?? 0,
    });
  }

  async run(): Promise<RunStatus> {
    const s = this.#s;
    // Check the broker and topic first: a bad config or topic leaves nothing half-started.
    await this.#checkTopic();
    await Deno.mkdir(s.outputDir, { recursive: true });
    try {
      await resolveInside(s.outputDir, PARTIAL_DIR);
    } catch (error) {
      if (!(error instanceof UnsafePathError)) throw error;
      throw new Error(
        `Ferry's folder in the output directory must be a real folder: ${error.message} ` +
          `Remove the link or choose another --output-dir.`,
      );
    }
    this.#registry = await FileRegistry.open(s.outputDir, s.topic, s.group);
    await Deno.remove(`${s.outputDir}/${PARTIAL_DIR}`, { recursive: true }).catch(
      (error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      },
    );
    this.#pool = new WorkerPool({
      size: s.workers,
      jobTimeoutMs: s.processTimeoutMs,
      init: {
        scriptUrl: s.scriptUrl,
        name: s.name,
        outputDir: s.outputDir,
        topic: s.topic,
        mode: s.mode,
        options: s.options,
        logLevel: s.logLevel,
      },
    });
    // Started here, stopped in the `finally` below: a worker left running keeps Deno alive.
    this.#hashes = new FileHashLane();
    try {
      // The workers start (each loads the user's script) while the consumer joins the group.
      const poolStarted = this.#pool.start();
      poolStarted.catch(() => undefined); // awaited below, once the consumer exists
      this.#consumer = new Consumer({
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        ...s.kafka,
        "group.id": s.group,
        "enable.auto.commit": false,
        "enable.auto.offset.store": false,
      }, {
        onRebalance: (event) => this.#onRebalance(event),
        onError: (error) => this.#onKafkaError(error),
      });
      try {
        this.#consumer.subscribe([s.topic]);
        await poolStarted;
        // From a stop asked for on, no file starts (see #drain), even before the loop ends.
        s.signal?.addEventListener("abort", this.#onAbort, { once: true });
        this.#retryFailed();
        logger.info(
          "Processor {name} reading {topic} as group {group} into {outputDir} " +
            "({workers} workers, {mode} mode).",
          { ...s, name: s.name },
        );
        await using _metrics = s.metricsPort === undefined ? undefined : serveMetrics({
          port: s.metricsPort,
          collect: () => fileRunMetrics(s.name, s.topic, this.#snapshot(), this.#partitionLags()),
        });
        // The limit on a broker outage also ends a loop stuck on a request it never answers.
        await Promise.race([
          this.#loop(),
          this.#watch.expired.then((error) => {
            this.#fail(error);
            exitIfStuck();
          }),
        ]);
        await this.#drain();
        if (!this.#watch.down) {
          await this.#committing;
          await this.#commit();
        }
      } finally {
        await this.#closeConsumer();
      }
    } finally {
      s.signal?.removeEventListener("abort", this.#onAbort);
      this.#hashes.close();
      await this.#stopJobs();
      await this.#registry.close();
    }
    this.#report(true);
    if (this.#fatal) throw this.#fatal;
    return this.#snapshot();
  }

  /**
   * Closes the consumer. With the broker away, a commit in flight and the group leave wait for
   * it; after 10 s the run ends without them (nothing unfinished was committed).
   */
  async #closeConsumer(): Promise<void> {
    const closing = this.#consumer.close();
    if (!this.#watch.down) return await closing;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = await Promise.race([
      closing.then(() => true, (error) => {
        logger.warn("Closing the Kafka consumer failed: {error}", { error: errorText(error) });
        return true;
      }),
      new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), 10_000)),
    ]);
    clearTimeout(timer);
    if (!closed) {
      logger.warn("The Kafka consumer did not close within 10 s with the broker away; leaving it.");
    }
  }

  async #checkTopic(): Promise<void> {
    await using admin = new Admin(this.#s.kafka, { onError: () => {} });
    await admin.partitionCount(this.#s.topic, 15_000);
  }

  async #loop(): Promise<void> {
    const s = this.#s;
    while (!s.signal?.aborted && !this.#fatal) {
      const batch = await this.#consumer.poll({ maxMessages: POLL_MAX_MESSAGES, timeoutMs: 100 });
      if (batch.length > 0) {
        this.#lastMessageAt = Date.now();
        this.#watch.noteReachable();
      }
      try {
        await this.#watch.tick(() => this.#consumer.queryWatermarks(s.topic, 0, 2_000));
      } catch (error) {
        if (!(error instanceof BrokerUnreachableError)) throw error;
        this.#fail(error);
        break;
      }
      const receivedAt = performance.timeOrigin + performance.now();
      (this.#fetchers ??= new FetcherWaker(this.#consumer)).polled(batch.length);
      let yieldedAt = performance.now();
      for (const message of batch) {
        await this.#handle(message, receivedAt);
        await this.#hashes.waitForRoom();
        // A batch can take tens of ms to decode and hash: let the workers' results in
        // between, so that they get their next files without waiting for the whole batch.
        if (performance.now() - yieldedAt >= YIELD_EVERY_MS) {
          await yieldToEventLoop();
          yieldedAt = performance.now();
        }
      }
      await this.#applyBackpressure();
      if (Date.now() - this.#lastCommitAt >= 1000 && !this.#committing && !this.#watch.down) {
        this.#committing = this.#commit().finally(() => this.#committing = undefined);
      }
      if (Date.now() - this.#lastStatusAt >= s.statusIntervalMs) this.#report(false);
      if (s.exitWhenIdleMs !== undefined && await this.#idle(s.exitWhenIdleMs)) {
        for (const assembly of this.#assembler.inProgress) {
          logger.warn(
            "Exiting with {path} incomplete ({received} of {total} chunks); its messages are " +
              "not committed and will be read again on the next start.",
            {
              path: assembly.relativePath,
              received: assembly.receivedChunks,
              total: assembly.totalChunks,
            },
          );
        }
        break;
      }
    }
  }

  /**
   * Whether the run is caught up: nothing running, every assigned partition read to its end,
   * and the group caught up too (see `group_idle.ts`).
   */
  async #idle(idleMs: number): Promise<boolean> {
    if (!this.#everAssigned || this.#jobs.size > 0 || this.#watch.down) return false;
    if (Date.now() - this.#lastMessageAt < idleMs) return false;
    if (await this.#lag() !== 0) return false;
    // Caught up on its own partitions (maybe none): the group must be too, or this process
    // would exit mid-rebalance, or while partitions it gave up have lag and no owner.
    this.#groupIdle ??= new GroupIdleCheck(this.#consumer, this.#s.topic, this.#s.group);
    return await this.#groupIdle.idle();
  }

  /** The messages not yet read from this process's own partitions (0 with none assigned). */
  async #lag(): Promise<number> {
    const assigned = this.#consumer.assignment();
    let total = 0;
    const positions = this.#consumer.position(assigned);
    for (const position of positions) {
      let { high } = this.#consumer.cachedWatermarks(position.topic, position.partition);
      if (high < 0) {
        high = (await this.#consumer.queryWatermarks(position.topic, position.partition, 5_000))
          .high;
      }
      if (position.offset < 0) {
        // Nothing consumed yet: compare with the committed offset.
        const [committed] = await this.#consumer.committed([position], 5_000);
        const start = committed.offset >= 0 ? committed.offset : 0;
        total += Math.max(0, high - start);
      } else total += Math.max(0, high - position.offset);
    }
    return total;
  }

  /** The lag of each assigned partition, from cached positions and watermarks (no requests). */
  #partitionLags(): PartitionLag[] {
    const lags: PartitionLag[] = [];
    for (const position of this.#consumer.position(this.#consumer.assignment())) {
      const { high } = this.#consumer.cachedWatermarks(position.topic, position.partition);
      if (high < 0 || position.offset < 0) continue; // not known before the first fetch
      lags.push({ ...position, lag: Math.max(0, high - position.offset) });
    }
    return lags;
  }

  #settle(source: ChunkSource): void {
    this.#tracker.settle({ topic: this.#s.topic, partition: source.partition }, source.offset);
  }

  #skip(message: ConsumedMessage, reason: string): void {
    this.#status.malformed++;
    logger.warn("Skipping message at {topic} partition {partition} offset {offset}: {reason}", {
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      reason,
    });
    this.#settle(message);
  }

  async #handle(message: ConsumedMessage, receivedAt: number): Promise<void> {
    const s = this.#s;
    this.#tracker.add(message, message.offset);
    if (message.value === null || message.value.length === 0) {
      return this.#skip(message, "the message has no value, so it is not a file chunk");
    }
    let chunk;
    try {
      chunk = decodeChunk(message.value);
    } catch (error) {
      return this.#skip(message, errorText(error));
    }
    this.#status.bytes += chunk.data.length;
    const path = chunkRelativePath(chunk);
    if (s.downloadRegex && !s.downloadRegex.test(path)) {
      this.#status.filtered++;
      return this.#settle(message);
    }
    const sha = hashHex(chunk.fileHash);
    const key = `${sha}:${path}`;
    // Where the chunk came from, without the message: a source kept with its file must not
    // keep the message's value (the chunk's bytes) alive until the file is settled.
    const source: ChunkSource = { partition: message.partition, offset: message.offset };
    const running = this.#running.get(key);
    if (running) {
      // A repeat of a chunk of a file being processed: settles with it.
      running.sources.push(source);
      return;
    }
    if (this.#registry.isProcessed(path, sha) || this.#isFailed(path, sha)) {
      if (chunk.chunkIndex === 1) this.#status.skipped++;
      return this.#settle(message);
    }
    let result;
    try {
      result = await this.#assembler.add(chunk, source);
    } catch (error) {
      this.#fail(new Error(`Could not write a chunk of "${path}": ${errorText(error)}`));
      return;
    }
    if (result.kind === "conflict") return this.#skip(message, result.reason);
    if (result.kind === "duplicate") return this.#settle(message);
    if (result.kind === "invalid") {
      const sources = [...result.assembly.sources];
      return await this.#recordInvalid({ assembly: result.assembly, sources }, result.reason);
    }
    const assembly = result.assembly;
    if (chunk.totalChunks > 1) {
      // A chunk written to disk or copied into its file's buffer is no longer needed here:
      // its message's buffer is handed over (no copy), and freed once hashed.
      this.#hashes.add(
        key,
        chunk.chunkOffset,
        chunk.data,
        assembly.receivedChunks === 1,
        result.released,
      );
    }
    await this.#enforceLimits();
    if (assembly.receivedChunks === 1) {
      this.#registry.recordStarted({ time: new Date().toISOString(), path, sha512: sha }).catch(
        (error) => logger.warn("Could not note {path} as started: {error}", { path, error }),
      );
    }
    if (assembly.complete) {
      this.#assembler.remove(assembly);
      const entry: RunningFile = {
        assembly,
        sources: [...assembly.sources],
        receivedAt,
        // One chunk from byte 0 whose checked hash is the file's hash: the file is checked.
        checked: chunk.totalChunks === 1 && chunk.chunkOffset === 0 &&
          hashesEqual(chunk.chunkHash, chunk.fileHash),
      };
      this.#running.set(key, entry);
      this.#track(this.#processAssembly(entry).finally(() => this.#running.delete(key)));
    }
  }

  /** Keeps files in progress within their limits; abandoned files' messages are skipped. */
  async #enforceLimits(): Promise<void> {
    let limits;
    try {
      limits = await this.#assembler.enforceLimits();
    } catch (error) {
      this.#fail(new Error(`Could not spill files in progress to disk: ${errorText(error)}`));
      return;
    }
    for (const assembly of limits.spilled) {
      logger.debug("Moved {path} ({bytes} bytes so far) from memory to disk.", {
        path: assembly.relativePath,
        bytes: assembly.receivedBytes,
      });
    }
    for (const assembly of limits.abandoned) {
      this.#status.abandoned++;
      const ranges = assembly.partitionRanges()
        .map((r) => `partition ${r.partition} offsets ${r.firstOffset}-${r.lastOffset}`)
        .join(", ");
      logger.warn(
        "Abandoning incomplete {path} ({received} of {total} chunks, {ranges} of {topic}): " +
          "more than {max} files in progress and it is the least recently active; its " +
          "messages are skipped.",
        {
          path: assembly.relativePath,
          received: assembly.receivedChunks,
          total: assembly.totalChunks,
          ranges,
          topic: this.#s.topic,
          max: this.#s.maxPartialFiles ?? DEFAULT_MAX_PARTIAL_FILES,
        },
      );
      for (const source of assembly.sources) this.#settle(source);
    }
  }

  #isFailed(path: string, sha: string): boolean {
    return this.#registry.failedFiles().some((f) => f.path === path && f.sha512 === sha);
  }

  #track(job: Promise<void>): void {
    this.#jobs.add(job);
    job.finally(() => this.#jobs.delete(job));
  }

  async #processAssembly(entry: RunningFile): Promise<void> {
    const { assembly } = entry;
    const s = this.#s;
    let size: number;
    let path: string | undefined;
    try {
      size = assembly.checkedSize();
      path = await this.#assembler.finalize(assembly, size);
    } catch (error) {
      await this.#assembler.discard(assembly);
      await this.#recordInvalid(entry, errorText(error));
      return;
    }
    const file: Omit<DownloadedFile, "bytes"> = {
      relativePath: assembly.outputRelativePath,
      filename: assembly.outputRelativePath.split("/").at(-1)!,
      subdir: assembly.subdir,
      size,
      sha512: assembly.sha512,
      topic: s.topic,
      partitions: assembly.partitionRanges(),
      attempt: 1,
      ...(entry.receivedAt === undefined ? {} : { receivedAt: entry.receivedAt }),
      ...(assembly.mtime === undefined ? {} : { mtime: assembly.mtime }),
      ...(path === undefined ? {} : { path }),
    };
    let chunks;
    try {
      chunks = s.mode === "disk" ? undefined : await this.#assembler.completeData(assembly, path);
    } catch (error) {
      this.#fail(new Error(`Could not read back "${file.relativePath}": ${errorText(error)}`));
      return;
    }
    const key = `${assembly.sha512}:${assembly.relativePath}`;
    // Hashed while its chunks arrived (undefined: not in order, the worker hashes the file).
    const digest = entry.checked ? assembly.sha512 : await this.#hashes.finish(key, size);
    if (digest !== undefined && digest !== assembly.sha512) {
      const result = hashMismatchResult(0, file.relativePath, digest, assembly.sha512);
      await this.#recordResult(entry, file, result);
      return;
    }
    const result = await this.#runJob(file, chunks, digest !== undefined);
    await this.#recordResult(entry, file, result);
  }

  #runJob(
    file: Omit<DownloadedFile, "bytes">,
    chunks: { offset: number; data: Uint8Array }[] | undefined,
    checked = false,
  ): Promise<JobResult> {
    const message: FileJobMessage = { type: "file", id: this.#nextJobId++, file };
    if (checked) message.checked = true;
    const transfer: Transferable[] = [];
    if (chunks) {
      // Each chunk's data lives in its own message buffer: transfer instead of copying.
      message.chunks = chunks;
      const seen = new Set<ArrayBufferLike>();
      for (const chunk of chunks) {
        const buffer = chunk.data.buffer;
        if (buffer instanceof ArrayBuffer && !seen.has(buffer)) {
          seen.add(buffer);
          transfer.push(buffer);
        }
      }
    }
    return this.#pool.run(message, transfer);
  }

  async #recordResult(
    entry: RunningFile | undefined,
    file: Omit<DownloadedFile, "bytes">,
    result: JobResult,
    keptAt?: string,
  ): Promise<void> {
    // Not run (or not to its end) because the run stops: nothing settles, it is read again.
    if (result.outcome === "stopped") return;
    const time = new Date().toISOString();
    const partitions = file.partitions.map((p) => p.partition);
    const base = {
      time,
      path: file.relativePath,
      sha512: file.sha512,
      size: file.size,
      partitions,
    };
    try {
      if (result.outcome === "processed") {
        await this.#registry.recordProcessed({
          ...base,
          ms: Math.round(result.ms),
          attempt: file.attempt,
        });
        this.#status.processed++;
        logger.info("Processed {path} ({size} bytes) in {ms} ms.", {
          path: file.relativePath,
          size: file.size,
          ms: Math.round(result.ms),
        });
      } else if (result.outcome === "failed") {
        const kept = keptAt ?? this.#kept(file, result);
        await this.#registry.recordFailed({
          ...base,
          error: result.error?.message ?? "unknown error",
          attempt: file.attempt,
          kept,
        });
        this.#status.failed++;
        logger.error("Failed {path} ({size} bytes) in {ms} ms (attempt {attempt}): {error}", {
          path: file.relativePath,
          size: file.size,
          ms: Math.round(result.ms),
          attempt: file.attempt,
          error: result.error?.message ?? "unknown error",
        });
      } else {
        if (file.path !== undefined) await Deno.remove(file.path).catch(() => undefined);
        if (entry) await this.#recordInvalid(entry, result.error?.message ?? "invalid file");
        return;
      }
    } catch (error) {
      // The log could not be written (disk full, not writable): nothing is settled or
      // committed past this file, and the run stops.
      this.#fail(
        new Error(`Could not record the result of "${file.relativePath}": ${errorText(error)}`),
      );
      return;
    }
    for (const source of entry?.sources ?? []) this.#settle(source);
  }

  /**
   * Where a failed file's data is kept, relative to the output directory: in place in disk and
   * both modes; in memory mode the worker, which holds the bytes, wrote a copy under
   * `.ferry/failed/`.
   */
  #kept(file: Omit<DownloadedFile, "bytes">, result: JobResult): string {
    if (file.path !== undefined) return file.relativePath;
    return result.kept ?? "";
  }

  async #recordInvalid(entry: RunningFile, reason: string): Promise<void> {
    const { assembly } = entry;
    try {
      await this.#registry.recordFailed({
        time: new Date().toISOString(),
        path: assembly.outputRelativePath,
        sha512: assembly.sha512,
        size: assembly.receivedBytes,
        partitions: assembly.partitionRanges().map((p) => p.partition),
        error: reason,
        attempt: this.#s.maxAttempts,
        kept: "",
      });
    } catch (error) {
      this.#fail(
        new Error(`Could not record "${assembly.relativePath}" as invalid: ${errorText(error)}`),
      );
      return;
    }
    this.#status.invalid++;
    logger.error("Invalid file {path} ({ranges} of {topic}): {reason}", {
      path: assembly.relativePath,
      ranges: assembly.partitionRanges()
        .map((r) => `partition ${r.partition} offsets ${r.firstOffset}-${r.lastOffset}`)
        .join(", "),
      topic: this.#s.topic,
      reason,
    });
    for (const source of entry.sources) this.#settle(source);
  }

  /** Retries failed files kept from earlier runs (fewer attempts than the limit). */
  #retryFailed(): void {
    for (const record of this.#registry.failedFiles()) {
      if (record.kept === "" || record.attempt >= this.#s.maxAttempts) continue;
      this.#track(this.#retry(record));
    }
  }

  async #retry(record: FailedRecord): Promise<void> {
    const s = this.#s;
    const keptPath = `${s.outputDir}/${record.kept}`;
    let bytes: Uint8Array | undefined;
    try {
      if (s.mode !== "disk") bytes = await Deno.readFile(keptPath);
      else await Deno.stat(keptPath);
    } catch (error) {
      logger.error("Cannot retry {path}: its kept data {kept} is unreadable: {error}", {
        path: record.path,
        kept: record.kept,
        error: errorText(error),
      });
      return;
    }
    const file: Omit<DownloadedFile, "bytes"> = {
      relativePath: record.path,
      filename: record.path.split("/").at(-1)!,
      subdir: record.path.includes("/") ? record.path.slice(0, record.path.lastIndexOf("/")) : "",
      size: record.size,
      sha512: record.sha512,
      topic: s.topic,
      partitions: record.partitions.map((p) => ({ partition: p, firstOffset: -1, lastOffset: -1 })),
      attempt: record.attempt + 1,
      ...(s.mode === "memory" ? {} : { path: keptPath }),
    };
    logger.info("Retrying {path} (attempt {attempt}).", {
      path: record.path,
      attempt: file.attempt,
    });
    const chunks = bytes ? [{ offset: 0, data: bytes }] : undefined;
    const result = await this.#runJob(file, chunks);
    await this.#recordResult(undefined, file, result, record.kept);
    if (result.outcome === "processed" && record.kept.startsWith(`${FAILED_DIR}/`)) {
      await Deno.remove(keptPath).catch(() => undefined);
    }
  }

  async #applyBackpressure(): Promise<void> {
    // Memory held by files in progress is bounded by spilling (#enforceLimits), not by pausing:
    // pausing for files that never complete would block the partitions for good.
    const limit = this.#s.workers * 2;
    // Wait a little for running jobs before pausing: librdkafka drops what it fetched for a
    // paused partition and refetches it after resume (about 1 s lost each time, measured), so
    // short waits cost far less. Polling resumes within BACKPRESSURE_WAIT_MS, and pausing
    // keeps a long process() from stalling the group (max.poll.interval.ms).
    const deadline = Date.now() + BACKPRESSURE_WAIT_MS;
    while (
      this.#jobs.size >= limit && Date.now() < deadline && !this.#s.signal?.aborted && !this.#fatal
    ) await Promise.race([...this.#jobs, sleep(50)]);
    const busy = this.#jobs.size >= limit;
    const assigned = this.#consumer.assignment();
    if (busy && !this.#paused && assigned.length > 0) {
      this.#consumer.pause(assigned);
      this.#paused = true;
    } else if (!busy && this.#paused) {
      if (assigned.length > 0) this.#consumer.resume(assigned);
      this.#paused = false;
    }
  }

  async #commit(only?: readonly TopicPartition[]): Promise<void> {
    this.#lastCommitAt = Date.now();
    const offsets = this.#tracker.committable(only);
    if (offsets.length === 0) return;
    try {
      // Group commit: the files settled below these offsets were recorded (written) before
      // `committable` saw them; one fdatasync per log makes them all durable first.
      await this.#registry.sync();
    } catch (error) {
      this.#fail(new Error(`Could not commit offsets: ${errorText(error)}`));
      return;
    }
    try {
      await this.#consumer.commit(offsets);
      this.#tracker.markCommitted(offsets);
    } catch (error) {
      // While the broker is away the outage has been reported; the commit is retried later.
      const message = "Committing offsets failed (will retry): {error}";
      if (this.#watch.down) logger.debug(message, { error: errorText(error) });
      else logger.warn(message, { error: errorText(error) });
    }
  }

  async #onRebalance(event: RebalanceEvent): Promise<void> {
    const names = event.partitions.map((p) => p.partition).join(", ");
    if (event.kind === "assigned") {
      this.#everAssigned = true;
      logger.info("Assigned partitions {names} of {topic}.", { names, topic: this.#s.topic });
      if (this.#paused) this.#consumer.pause(event.partitions);
      return;
    }
    const gone = new Set(event.partitions.map((p) => p.partition));
    if (event.kind === "revoked") {
      // Last chance: let files from these partitions finish, then commit what settled.
      const deadline = Date.now() + this.#s.stopGraceMs;
      while (
        [...this.#running.values()].some((r) => r.sources.some((src) => gone.has(src.partition))) &&
        Date.now() < deadline
      ) await sleep(50);
      await this.#commit(event.partitions);
    }
    logger.info("Partitions {names} of {topic} {kind}.", {
      names,
      topic: this.#s.topic,
      kind: event.kind,
    });
    this.#tracker.forget(event.partitions);
    for (const assembly of this.#assembler.inProgress) {
      assembly.dropPartitions(gone);
      if (assembly.sources.length === 0) await this.#assembler.discard(assembly);
    }
  }

  #onKafkaError(error: KafkaError): void {
    if (error.fatal) {
      this.#fail(error);
      return;
    }
    if (this.#watch.noteError(error)) return;
    logger.warn("Kafka: {message}", { message: error.message });
  }

  #fail(error: Error): void {
    if (!this.#fatal) {
      this.#fatal = error;
      logger.error("Stopping: {error}", { error: error.message });
    }
  }

  /** The run's signal was aborted: no file starts from now on. */
  readonly #onAbort = (): void => {
    logger.info("Stop asked for: no new file starts; running process() calls have {grace} s.", {
      grace: this.#s.stopGraceMs / 1000,
    });
    this.#stopJobs();
  };

  /**
   * Stops the workers' jobs ({@linkcode WorkerPool.stop}, at most once per run): no file
   * starts its `process` call from then on, running calls finish up to the stop grace, those
   * still running then are given up. A file that did not run to its end gets a `stopped`
   * result, which settles nothing: its offsets are not committed and it is read again.
   */
  #stopJobs(): Promise<PoolStopReport> {
    return this.#pool.stop(this.#s.stopGraceMs);
  }

  /**
   * Stops the jobs (see {@linkcode FileRunner.#stopJobs}; the stop grace counts from the
   * signal when there was one) and waits until every job's result is recorded.
   */
  async #drain(): Promise<void> {
    const { notStarted, givenUp } = await this.#stopJobs();
    // Every job sent to the pool has its result now, and any other ends `stopped` at once.
    while (this.#jobs.size > 0) await Promise.allSettled([...this.#jobs]);
    this.#status.stopped = this.#s.signal?.aborted === true;
    this.#status.givenUp = givenUp;
    if (notStarted > 0) {
      logger.info(
        "{count} file(s) not started because of the stop: not committed; they will be read " +
          "again on the next start.",
        { count: notStarted },
      );
    }
    if (givenUp > 0) {
      logger.error(
        "The stop grace of {grace} s ran out with {count} process() call(s) still running: " +
          "given up, not committed; their files will be read again on the next start.",
        { count: givenUp, grace: this.#s.stopGraceMs / 1000 },
      );
    }
  }

  #snapshot(): RunStatus {
    return {
      ...this.#status,
      inProgress: this.#assembler.inProgress.length,
      running: this.#jobs.size,
      seconds: (Date.now() - this.#started) / 1000,
    };
  }

  #report(final: boolean): void {
    this.#lastStatusAt = Date.now();
    const status = this.#snapshot();
    this.#s.onStatus?.(status);
    if (final) {
      logger.info(
        "Summary: {processed} processed, {failed} failed, {invalid} invalid, {skipped} skipped, " +
          "{filtered} chunks filtered, {malformed} malformed messages, {abandoned} incomplete " +
          "files abandoned, {mb} MB in {seconds} s.",
        { ...status, mb: (status.bytes / 1e6).toFixed(1), seconds: status.seconds.toFixed(1) },
      );
    }
  }
}

/** The default consumer group for a processor: stable across restarts. */
export function defaultGroup(name: string, topic: string): string {
  return `ferry-${name}-${topic}`;
}
