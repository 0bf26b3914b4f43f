/**
 * The uploader: one file or a directory tree, once or watching for new and changed files, to a
 * Kafka topic in OpenMSIStream's chunk format.
 *
 * @module
 */

import { basename, dirname, relative, resolve, sep } from "node:path";
import { getLogger } from "@logtape/logtape";
import { DEFAULT_CHUNK_SIZE } from "../chunks/chunk.ts";
import { Admin, type KafkaConfig, type KafkaError, Producer } from "../kafka/mod.ts";
import { ByteWindow } from "./byte_window.ts";
import { type FileOutcome, type UploadEvents, uploadFile } from "./file_uploader.ts";
import { FileFilter, type FileFilterOptions } from "./filter.ts";
import { partitionForPath } from "./partition.ts";
import { type ScannedFile, scanTree } from "./scan.ts";
import { defaultUploadLogPath, UploadLog, userStateHome } from "./upload_log.ts";
import { UPLOAD_STATE_FOLDER_FILE, uploadLogName, uploadLogPath } from "../files/layout.ts";
import { join } from "node:path";
import { createTopic } from "../kafka/topics.ts";

/** How the partition of a chunk is chosen. */
export type PartitionerChoice = "path" | "default";

/** Options of {@linkcode upload} and {@linkcode watchAndUpload}. */
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
  /** Files uploaded at once; default 4. */
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

/** Options only {@linkcode watchAndUpload} takes. */
export interface WatchOptions extends UploadOptions {
  /** How long a file must stay unchanged before it is uploaded; default 3000 ms. */
  settleMs?: number;
  /** Upload the files already there when watching starts; default false. */
  uploadExisting?: boolean;
  /** How often the folder is scanned; default min(1000, settleMs / 2) ms. */
  pollMs?: number;
}

/** The result of an upload run. */
export interface UploadSummary {
  /** Every file's outcome, in the order they finished. */
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

/** Files at most whose chunks were all sent and whose acknowledgements are awaited. */
const MAX_FILES_AWAITING_ACKS = 256;

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

/** Sets up the shared pieces of a run: root, filter, log, producer, partitioner. */
class Session implements AsyncDisposable {
  readonly root: string;
  readonly filter: FileFilter;
  readonly producer: Producer;
  readonly window: ByteWindow;
  readonly chunkSize: number;
  /** Where the upload log goes (undefined: no log), and whether that is the default place. */
  readonly logPath: string | undefined;
  readonly #defaultLog: boolean;
  log: UploadLog | undefined;
  partitionCount: number | undefined;
  readonly summary: UploadSummary;
  readonly #started = performance.now();

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
    this.producer = new Producer(
      {
        ...producerDefaults(this.chunkSize, options.deliveryTimeoutMs ?? 300_000),
        ...options.kafka,
      },
      { onError: options.onKafkaError, closeTimeoutMs: 5_000 },
    );
    this.summary = { outcomes: [], uploaded: 0, skipped: 0, failed: 0, bytes: 0, seconds: 0 };
  }

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

  partitionFor = (path: string): number | undefined =>
    this.partitionCount === undefined ? undefined : partitionForPath(path, this.partitionCount);

  /** Uploads one file; `onAllSent` is called once only acknowledgements are awaited. */
  async uploadOne(path: string, onAllSent?: () => void): Promise<FileOutcome> {
    const events = this.options.events;
    const outcome = await uploadFile(this.root, path, {
      producer: this.producer,
      topic: this.options.topic,
      chunkSize: this.chunkSize,
      partitionFor: this.partitionFor,
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
    this.summary.outcomes.push(outcome);
    if (outcome.status === "uploaded") this.summary.uploaded++;
    else if (outcome.status === "skipped") this.summary.skipped++;
    else this.summary.failed++;
    return outcome;
  }

  /**
   * Uploads paths, reading and sending at most `concurrency` files at once. A file whose chunks
   * were all handed to the producer no longer takes a place while its acknowledgements arrive
   * (at most {@linkcode MAX_FILES_AWAITING_ACKS} such files; the byte window bounds the rest):
   * otherwise many small files would each wait a broker round trip with the next one idle.
   */
  async uploadAll(paths: readonly string[]): Promise<void> {
    let next = 0;
    const finishing = new Set<Promise<FileOutcome>>();
    const worker = async () => {
      while (next < paths.length) {
        if (this.options.signal?.aborted) return;
        // A producer that can no longer deliver (not authorized to write to the topic, say)
        // fails every file the same way: the run ends with that error instead.
        if (this.producer.fatalError) throw this.producer.fatalError;
        while (finishing.size >= MAX_FILES_AWAITING_ACKS) await Promise.race(finishing);
        const sent = Promise.withResolvers<void>();
        const done = this.uploadOne(paths[next++], sent.resolve);
        finishing.add(done);
        done.then(() => finishing.delete(done), (error) => {
          finishing.delete(done);
          failures.push(error);
        });
        await Promise.race([sent.promise, done]);
      }
    };
    const failures: unknown[] = [];
    const n = Math.max(1, Math.min(this.options.concurrency ?? 4, paths.length));
    const stopped = await Promise.all(Array.from({ length: n }, worker)).then(
      () => undefined,
      (error) => ({ error }),
    );
    while (finishing.size > 0) await Promise.allSettled(finishing);
    if (stopped) throw stopped.error;
    if (failures.length > 0) throw failures[0];
  }

  finish(): UploadSummary {
    this.summary.seconds = (performance.now() - this.#started) / 1000;
    return this.summary;
  }

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

/**
 * Watches a folder and uploads each new or changed file once it has stayed unchanged for the
 * settle time, until `options.signal` is aborted. Files already there are uploaded only with
 * `uploadExisting` (files the upload log records as uploaded are skipped either way). The folder
 * is polled (portable, and no event is ever missed), every `pollMs`.
 *
 * @example
 * ```ts ignore
 * import { watchAndUpload } from "./uploader.ts";
 * const stop = new AbortController();
 * Deno.addSignalListener("SIGINT", () => stop.abort());
 * await watchAndUpload("/data", {
 *   kafka: { "bootstrap.servers": "127.0.0.1:19092" },
 *   topic: "raw-data",
 *   uploadExisting: true,
 *   signal: stop.signal,
 * });
 * ```
 *
 * @param dir The folder to watch.
 * @param options Broker, topic, settle time and the rest.
 * @returns What happened to each file, when the watch is stopped.
 */
export async function watchAndUpload(dir: string, options: WatchOptions): Promise<UploadSummary> {
  const root = resolve(dir);
  const info = await Deno.stat(root);
  if (!info.isDirectory) throw new Error(`Watch target "${dir}" is not a folder.`);
  await using session = new Session(root, options);
  await session.init();
  const settleMs = options.settleMs ?? 3000;
  const pollMs = options.pollMs ?? Math.max(50, Math.min(1000, settleMs / 2));
  const signal = options.signal;

  // What each path looked like: its stamp, since when, and the stamp last handled.
  const seen = new Map<string, { stamp: string; since: number; handled?: string }>();
  const stampOf = (f: ScannedFile) => `${f.size}:${f.mtime}`;
  const now = Date.now();
  for (const file of await scanTree(root, session.filter)) {
    const stamp = stampOf(file);
    seen.set(file.path, { stamp, since: now, handled: options.uploadExisting ? undefined : stamp });
  }
  logger.info("Watching {root} for files to upload to topic {topic} ({existing}).", {
    root,
    topic: options.topic,
    existing: options.uploadExisting ? "uploading files already there" : "new files only",
  });
  const active = new Set<Promise<void>>();
  const busy = new Set<string>();
  const limit = Math.max(1, options.concurrency ?? 4);
  while (!signal?.aborted) {
    const files = await scanTree(root, session.filter);
    const t = Date.now();
    const present = new Set<string>();
    for (const file of files) {
      present.add(file.path);
      const stamp = stampOf(file);
      const state = seen.get(file.path);
      if (!state || state.stamp !== stamp) {
        seen.set(file.path, { stamp, since: t, handled: state?.handled });
        continue;
      }
      if (state.handled === stamp || busy.has(file.path) || t - state.since < settleMs) continue;
      if (busy.size >= limit) continue;
      state.handled = stamp;
      busy.add(file.path);
      const job = session.uploadOne(file.path).then((outcome) => {
        // A file that changed under the upload is tried again once it settles.
        if (outcome.status === "failed" && outcome.error.kind === "changed") {
          const s = seen.get(file.path);
          if (s) s.handled = undefined;
        }
      }).finally(() => {
        busy.delete(file.path);
        active.delete(job);
      });
      active.add(job);
    }
    for (const path of seen.keys()) if (!present.has(path)) seen.delete(path);
    await new Promise<void>((wake) => {
      const timer = setTimeout(wake, pollMs);
      signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        wake();
      }, { once: true });
    });
  }
  await Promise.all(active);
  return session.finish();
}
