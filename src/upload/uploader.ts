/**
 * The uploader: one file or a directory tree, once or watching for new and changed files, to a
 * Kafka topic in OpenMSIStream's chunk format.
 *
 * @module
 */

import { basename, dirname, relative, resolve, sep } from "node:path";
import { getLogger } from "@logtape/logtape";
import { DEFAULT_CHUNK_SIZE } from "../chunks/chunk.ts";
import {
  Admin,
  IDEMPOTENT_MAX_IN_FLIGHT,
  type KafkaConfig,
  type KafkaError,
  Producer,
} from "../kafka/mod.ts";
import { ByteWindow } from "./byte_window.ts";
import { type FileOutcome, type UploadEvents, uploadFile } from "./file_uploader.ts";
import { FileFilter, type FileFilterOptions } from "./filter.ts";
import { consistentPartition, partitionForPath } from "./partition.ts";
import { scanTree } from "./scan.ts";
import { UploadQueue } from "./upload_queue.ts";
import { defaultUploadLogPath, UploadLog, userStateHome } from "./upload_log.ts";
import { UPLOAD_STATE_FOLDER_FILE, uploadLogName, uploadLogPath } from "../files/layout.ts";
import { join } from "node:path";
import { createTopic } from "../kafka/topics.ts";

/** How the partition of a chunk is chosen. */
export type PartitionerChoice = "path" | "default";

/** Options of {@linkcode upload} and of a watch (`watchAndUpload` in `watcher.ts`). */
export interface UploadOptions extends FileFilterOptions {
  /** librdkafka producer properties; `bootstrap.servers` at least. */
  kafka: KafkaConfig;
  /** The topic to upload to (it must exist, unless `createTopic` is given). */
  topic: string;
  /**
   * Create the topic when it does not exist: with this many partitions and this replication
   * factor (each defaults to the broker's default). Default: a missing topic is an error.
   */
  createTopic?: { partitions?: number; replicationFactor?: number } | false;
  /** Chunk size in bytes; default 524288 (OpenMSIStream's default). */
  chunkSize?: number;
  /**
   * `path` (default): every chunk of a file goes to the partition murmur2(relative path) modulo
   * the partition count. `default`: the producer's partitioner chooses per chunk key, as
   * OpenMSIStream does (chunks of one file spread over partitions).
   */
  partitioner?: PartitionerChoice;
  /**
   * Folder of the upload log (`upload_to_<topic>.jsonl`); `false` keeps no log (nothing is
   * skipped on a restart). Default: outside the uploaded folder, in the per-user state folder,
   * `<stateHome>/ferry/uploads/<hash of the folder's absolute path>/` (a log an earlier Ferry
   * left in `<root>/.ferry/` is read into it once).
   */
  uploadLogDir?: string | false;
  /** The state home of the default upload log; default `$XDG_STATE_HOME` or `~/.local/state`. */
  stateHome?: string;
  /** Most bytes handed to the producer and not yet acknowledged; default 32 MiB. */
  maxInFlightBytes?: number;
  /** Files read and sent at once (more await their acknowledgements meanwhile); default 4. */
  concurrency?: number;
  /**
   * How long the producer keeps retrying a chunk while the broker is unreachable before the
   * file fails (librdkafka's `message.timeout.ms`); default 300 000 ms.
   */
  deliveryTimeoutMs?: number;
  /** Progress callbacks. */
  events?: UploadEvents;
  /** Called for errors librdkafka reports on its own (a broker going away). */
  onKafkaError?: (error: KafkaError) => void;
  /** Stops the upload (watch mode ends; files in progress fail). */
  signal?: AbortSignal;
}

/** The result of an upload run. */
export interface UploadSummary {
  /**
   * Every file's outcome, in the order they finished. A watch keeps only those of files not
   * uploaded (skipped or failed), the latest {@linkcode WATCH_OUTCOMES_KEPT} (it runs for months).
   */
  outcomes: FileOutcome[];
  /** Files uploaded. */
  uploaded: number;
  /** Files skipped (already uploaded, or empty). */
  skipped: number;
  /** Files that failed. */
  failed: number;
  /** Bytes of file data sent and acknowledged in this run. */
  bytes: number;
  /** Wall-clock seconds. */
  seconds: number;
}

const logger = getLogger(["ferry", "upload"]);

/** Outcomes of files not uploaded that a watch keeps for its summary (see {@linkcode UploadSummary}). */
export const WATCH_OUTCOMES_KEPT = 1000;

/** The producer properties Ferry sets unless the user's configuration says otherwise. */
export function producerDefaults(chunkSize: number, deliveryTimeoutMs: number): KafkaConfig {
  return {
    // Retries after a broker outage never duplicate or reorder chunks.
    "enable.idempotence": true,
    "linger.ms": 5,
    "message.timeout.ms": deliveryTimeoutMs,
    // A chunk message is the chunk plus about 300 bytes of fields.
    "message.max.bytes": Math.max(1_000_000, chunkSize + 64 * 1024),
  };
}

/** The longest `linger.ms` worth waiting with at most 5 chunks of a partition in flight. */
const CAPPED_LINGER_MS = 5;

/**
 * `config` with `linger.ms` at most {@linkcode CAPPED_LINGER_MS}: with no more than
 * {@linkcode IDEMPOTENT_MAX_IN_FLIGHT} chunks of a partition handed to librdkafka, a longer wait
 * cannot fill a batch, it only delays each one (OpenMSIStream's suggested `linger.ms = 100` with
 * 4 KiB chunks sent 50 chunks a second, 0.2 MB/s).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lingerForCap } from "./uploader.ts";
 *
 * assert.equal(lingerForCap({ "linger.ms": "100" })["linger.ms"], 5);
 * assert.equal(lingerForCap({ "linger.ms": 0 })["linger.ms"], 0);
 * ```
 */
export function lingerForCap(config: KafkaConfig): KafkaConfig {
  const linger = Number(config["linger.ms"] ?? config["queue.buffering.max.ms"] ?? 0);
  if (!(linger > CAPPED_LINGER_MS)) return config;
  logger.info(
    "Sending each partition's chunks after at most {capped} ms, not the configured linger.ms " +
      "{linger}: with at most {inFlight} chunks of a partition in flight (the idempotent " +
      "producer's limit) a longer wait cannot fill a batch.",
    { capped: CAPPED_LINGER_MS, linger, inFlight: IDEMPOTENT_MAX_IN_FLIGHT },
  );
  const { "queue.buffering.max.ms": _alias, ...rest } = config;
  return { ...rest, "linger.ms": CAPPED_LINGER_MS };
}

/**
 * Where the upload log of `root` (an absolute folder) for `topic` is: in `uploadLogDir` when
 * given (`--upload-log-dir`), else in the user's state folder ({@linkcode defaultUploadLogPath}).
 *
 * @param root The uploaded folder, absolute.
 * @param topic The topic.
 * @param uploadLogDir The folder `--upload-log-dir` gives, if any.
 * @param stateHome The per-user state folder (default {@linkcode userStateHome}).
 * @returns The log's path.
 */
export function uploadLogLocation(
  root: string,
  topic: string,
  uploadLogDir?: string,
  stateHome?: string,
): string {
  return uploadLogDir === undefined
    ? defaultUploadLogPath(root, topic, stateHome ?? userStateHome())
    : join(resolve(uploadLogDir), uploadLogName(topic));
}

/** Writes, once, the file naming the folder a state folder is for (for people looking in it). */
async function nameStateFolder(stateDir: string, root: string): Promise<void> {
  try {
    await Deno.writeTextFile(join(stateDir, UPLOAD_STATE_FOLDER_FILE), `${root}\n`, {
      createNew: true,
    });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
}

/**
 * The shared pieces of an upload run (a one-off upload or a watch): root, filter, upload log,
 * producer, partitioner, summary. Create it, {@linkcode Session.init}, upload, dispose.
 */
export class Session implements AsyncDisposable {
  /** The uploaded folder (absolute). */
  readonly root: string;
  /** Which files are uploaded. */
  readonly filter: FileFilter;
  /** The producer every file shares. */
  readonly producer: Producer;
  /** Bounds the bytes sent and not yet acknowledged. */
  readonly window: ByteWindow;
  /** Chunk size in bytes. */
  readonly chunkSize: number;
  /** Where the upload log goes (undefined: no log). */
  readonly logPath: string | undefined;
  readonly #defaultLog: boolean;
  /** The upload log, once {@linkcode Session.init} opened it (undefined: none kept). */
  log: UploadLog | undefined;
  /** Partitions of the topic, with the `path` partitioner. */
  partitionCount: number | undefined;
  /**
   * Partitions of the topic, with the `default` partitioner when it is librdkafka's default
   * (`consistent_random`, no `partitioner` property): each chunk's is computed.
   */
  chunkPartitionCount: number | undefined;
  /** What happened so far. */
  readonly summary: UploadSummary;
  /** Outcomes of uploaded files are not kept, and at most this many others (a watch). */
  outcomesKept: number | undefined;
  readonly #started = performance.now();

  /**
   * Checks the options and creates the producer (nothing is contacted before `init`).
   *
   * @param root The uploaded folder (absolute).
   * @param options Broker, topic and the rest.
   */
  constructor(root: string, readonly options: UploadOptions) {
    this.root = root;
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isSafeInteger(this.chunkSize) || this.chunkSize < 1) {
      throw new RangeError(`Chunk size ${options.chunkSize} is not a positive integer.`);
    }
    this.#defaultLog = options.uploadLogDir === undefined;
    this.logPath = options.uploadLogDir === false
      ? undefined
      : uploadLogLocation(root, options.topic, options.uploadLogDir, options.stateHome);
    const inside = this.logPath === undefined ? undefined : relative(root, dirname(this.logPath));
    const excludeDirs = [...(options.excludeDirs ?? [])];
    if (inside !== undefined && inside !== "" && !inside.startsWith("..")) {
      excludeDirs.push(inside.split(sep).join("/"));
    }
    this.filter = new FileFilter({ ...options, excludeDirs });
    this.window = new ByteWindow(options.maxInFlightBytes ?? 32 * 1024 * 1024);
    const config: KafkaConfig = {
      ...producerDefaults(this.chunkSize, options.deliveryTimeoutMs ?? 300_000),
      ...options.kafka,
    };
    // librdkafka's idempotent producer sends at most 5 messages of a partition at once and
    // polls without sleeping while more wait: hand it no more (see partition_slots.ts).
    const capped = String(config["enable.idempotence"]).toLowerCase() === "true";
    this.producer = new Producer(capped ? lingerForCap(config) : config, {
      onError: options.onKafkaError,
      closeTimeoutMs: 5_000,
      maxInFlightPerPartition: capped ? IDEMPOTENT_MAX_IN_FLIGHT : undefined,
    });
    this.summary = { outcomes: [], uploaded: 0, skipped: 0, failed: 0, bytes: 0, seconds: 0 };
  }

  /** Checks the topic (creating it if asked) and opens the upload log. */
  async init(): Promise<void> {
    // Fails early and clearly when the broker or the topic is not there, before anything is
    // written (the upload log folder included).
    {
      await using admin = new Admin(this.options.kafka, { onError: this.options.onKafkaError });
      let count: number;
      if (this.options.createTopic) {
        const { created, partitions } = await createTopic(admin, {
          topic: this.options.topic,
          partitions: this.options.createTopic.partitions,
          replicationFactor: this.options.createTopic.replicationFactor,
        }, { ifNotExists: true });
        if (created) {
          logger.info("Created topic {topic} with {partitions} partition(s).", {
            topic: this.options.topic,
            partitions,
          });
        }
        count = partitions;
      } else count = await admin.partitionCount(this.options.topic, 30_000);
      if ((this.options.partitioner ?? "path") === "path") this.partitionCount = count;
      else if ((this.options.kafka.partitioner ?? "consistent_random") === "consistent_random") {
        this.chunkPartitionCount = count;
      }
    }
    if (this.logPath !== undefined) {
      const path = this.logPath;
      this.log = await UploadLog.open(path, {
        legacyPath: this.#defaultLog ? uploadLogPath(this.root, this.options.topic) : undefined,
      });
      if (this.#defaultLog) await nameStateFolder(dirname(path), this.root);
      logger.info("Upload log: {path}", { path });
    }
  }

  /** The partition of a relative path (undefined: the producer's partitioner chooses). */
  partitionFor = (path: string): number | undefined =>
    this.partitionCount === undefined ? undefined : partitionForPath(path, this.partitionCount);

  /** With the `default` partitioner: the partition librdkafka's would give a chunk's key. */
  chunkPartitionFor = (key: string): number | undefined =>
    this.chunkPartitionCount === undefined
      ? undefined
      : consistentPartition(key, this.chunkPartitionCount);

  /** Uploads one file; `onAllSent` is called once only acknowledgements are awaited. */
  async uploadOne(path: string, onAllSent?: () => void): Promise<FileOutcome> {
    const events = this.options.events;
    const outcome = await uploadFile(this.root, path, {
      producer: this.producer,
      topic: this.options.topic,
      chunkSize: this.chunkSize,
      partitionFor: this.partitionFor,
      chunkPartitionFor: this.chunkPartitionFor,
      window: this.window,
      log: this.log,
      signal: this.options.signal,
      events: {
        chunkSent: events?.chunkSent,
        chunkAcked: (info) => {
          this.summary.bytes += info.bytes;
          events?.chunkAcked?.(info);
        },
        allSent: (info) => {
          onAllSent?.();
          events?.allSent?.(info);
        },
        fileDone: events?.fileDone,
      },
    });
    if (this.outcomesKept === undefined) this.summary.outcomes.push(outcome);
    else if (outcome.status !== "uploaded") {
      this.summary.outcomes.push(outcome);
      if (this.summary.outcomes.length > this.outcomesKept) this.summary.outcomes.shift();
    }
    if (outcome.status === "uploaded") this.summary.uploaded++;
    else if (outcome.status === "skipped") this.summary.skipped++;
    else this.summary.failed++;
    return outcome;
  }

  /** Uploads paths, a few at once (see {@linkcode UploadQueue}); resolves when all are done. */
  async uploadAll(paths: readonly string[]): Promise<void> {
    const queue = new UploadQueue((path, onAllSent) => this.uploadOne(path, onAllSent), {
      concurrency: this.options.concurrency,
      signal: this.options.signal,
      // A producer that can no longer deliver fails every file the same way: the run ends
      // with that error instead.
      fatalError: () => this.producer.fatalError,
    });
    for (const path of paths) queue.push(path);
    await queue.drain();
  }

  /** The summary, with the time since the session was created. */
  finish(): UploadSummary {
    this.summary.seconds = (performance.now() - this.#started) / 1000;
    return this.summary;
  }

  /** Closes the producer (waiting for what it holds) and the upload log. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.producer.close();
    } finally {
      await this.log?.close();
    }
  }
}

/**
 * Uploads one file, or every file of a directory tree (relative paths become the chunks'
 * subdirectories; hidden files and folders and Ferry's `.ferry` folder are left out). A file
 * counts as uploaded only when the broker acknowledged every chunk.
 *
 * @example
 * ```ts ignore
 * import { upload } from "./uploader.ts";
 * const summary = await upload("/data/run1", {
 *   kafka: { "bootstrap.servers": "127.0.0.1:19092" },
 *   topic: "raw-data",
 * });
 * if (summary.failed > 0) Deno.exit(1);
 * ```
 *
 * @param target A file or a folder.
 * @param options Broker, topic and the rest.
 * @returns What happened to each file.
 */
export async function upload(target: string, options: UploadOptions): Promise<UploadSummary> {
  const full = resolve(target);
  const info = await Deno.stat(full);
  const root = info.isDirectory ? full : dirname(full);
  await using session = new Session(root, options);
  await session.init();
  if (info.isDirectory) {
    const files = await scanTree(root, session.filter);
    logger.info("Uploading {count} file(s) from {root} to topic {topic}.", {
      count: files.length,
      root,
      topic: options.topic,
    });
    await session.uploadAll(files.map((f) => f.path));
  } else {
    await session.uploadOne(basename(full));
  }
  return session.finish();
}
