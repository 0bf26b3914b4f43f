/**
 * Watch mode (`ferry upload --watch`, OpenMSIStream's `DataFileUploadDirectory`): uploads each
 * new or changed file of a folder tree once it stayed unchanged for the settle time.
 *
 * - **Change events** (`Deno.watchFs`: inotify on Linux) say which paths changed; each gets a
 *   settle deadline ({@linkcode SettleScheduler}) that every further change moves. When it
 *   passes, the file is `stat`ed: gone (deleted before it settled) is forgotten, a folder (one
 *   that appeared) is listed and its files settle in turn, a file not in the upload log at that
 *   size and mtime is queued.
 * - **Uploads** start as soon as a file is queued and a slot is free ({@linkcode UploadQueue}):
 *   no poll interval in between, several files in flight.
 * - **A safety rescan** every few minutes ({@linkcode FolderIndex}) finds files the events
 *   missed, listing only folders whose mtime moved; an event queue overflow triggers one at once.
 * - **Polling** replaces the events where they are not available (some network filesystems) or
 *   when the inotify watch limit (`fs.inotify.max_user_watches`) is reached, with a warning
 *   saying how to raise it; `poll: true` (`--poll`) forces it. A poll lists and `stat`s the whole
 *   tree.
 *
 * Memory: one small entry per file settling, queued or in flight, and per folder; nothing per
 * file uploaded (the upload log knows those; with no upload log, what was uploaded is kept in
 * memory, one entry per file). Files already there when the watch starts are left alone unless
 * `uploadExisting`: a file counts as new when its mtime or status change time (a rename moves
 * it) is later than the start.
 *
 * @module
 */

import { join, relative, resolve, sep } from "node:path";
import { getLogger } from "@logtape/logtape";
import type { FileOutcome } from "./file_uploader.ts";
import { FolderIndex, type FoundFile, statFound } from "./rescan.ts";
import { SettleScheduler, type SettlingFile } from "./settle_scheduler.ts";
import { UploadQueue } from "./upload_queue.ts";
import {
  Session,
  type UploadOptions,
  type UploadSummary,
  WATCH_OUTCOMES_KEPT,
} from "./uploader.ts";

/** Options of {@linkcode watchAndUpload} and {@linkcode UploadWatch}. */
export interface WatchOptions extends UploadOptions {
  /** How long a file must stay unchanged before it is uploaded; default 3000 ms. */
  settleMs?: number;
  /** Upload the files already there when watching starts; default false. */
  uploadExisting?: boolean;
  /** Poll instead of using change events (for filesystems whose events are missing). */
  poll?: boolean;
  /** How often the folder is polled when polling; default min(1000, settleMs / 2) ms. */
  pollMs?: number;
  /** How often the safety rescan runs when events are used; default 300 000 ms (5 minutes). */
  rescanMs?: number;
}

/** The watch's backlog now, for the progress line, heartbeats and metrics. */
export interface WatchBacklog {
  /** `events` (change events, with a safety rescan) or `polling`. */
  mode: "events" | "polling";
  /** Files seen changing that have not stayed unchanged for the settle time yet. */
  settling: number;
  /** Files settled and waiting for an upload slot: the uploader is behind when this grows. */
  waiting: number;
  /** Milliseconds the longest-waiting settled file has waited (0 when none waits). */
  oldestWaitingMs: number;
  /** Files being uploaded (read and sent, or awaiting their acknowledgements). */
  uploading: number;
}

/**
 * The backlog for a progress line: `backlog 12 (oldest 1.4 s), settling 3, 4 uploading`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backlogText } from "./watcher.ts";
 *
 * const idle = { mode: "events", settling: 0, waiting: 0, oldestWaitingMs: 0, uploading: 0 };
 * assert.equal(backlogText({ ...idle, mode: "events" }), "backlog 0");
 * assert.equal(
 *   backlogText({ ...idle, mode: "polling", waiting: 12, oldestWaitingMs: 1400, settling: 3, uploading: 4 }),
 *   "backlog 12 (oldest 1.4 s), settling 3, 4 uploading, polling",
 * );
 * ```
 *
 * @param backlog The figures.
 * @returns The text.
 */
export function backlogText(backlog: WatchBacklog): string {
  const parts = [
    backlog.waiting === 0
      ? "backlog 0"
      : `backlog ${backlog.waiting} (oldest ${(backlog.oldestWaitingMs / 1000).toFixed(1)} s)`,
  ];
  if (backlog.settling > 0) parts.push(`settling ${backlog.settling}`);
  if (backlog.uploading > 0) parts.push(`${backlog.uploading} uploading`);
  if (backlog.mode === "polling") parts.push("polling");
  return parts.join(", ");
}

const logger = getLogger(["ferry", "upload", "watch"]);

/**
 * The Deno flag a long-running watch or processor is best run with: V8's young generation kept
 * small (2 MB semi-spaces instead of up to 16 MB). Under a steady stream of files V8 otherwise
 * lets it grow to about 50 MB, which shows as RSS growing by tens of MB over the first minutes (a
 * plateau, not a leak: the heap left after a full GC stays flat). Measured in the watch bench's
 * soak at 20 files a second: the uploader's RSS +2 % after the first minute instead of +20 %,
 * `ferry download`'s (reading the files meanwhile) the young generation flat at 4 MB instead of
 * growing from 4 to 15 MB; no measurable CPU cost. V8 reads it only when the process starts, so
 * it goes on the command line (`deno run --v8-flags=... cli.ts upload --watch ...`, or
 * `DENO_V8_FLAGS`): the service units of `ferry service install` carry it, for `upload --watch`,
 * `download` and processor scripts.
 */
export const WATCH_V8_FLAGS = "--v8-flags=--max-semi-space-size=2";

/** Failures remembered so that a rescan does not retry an unreadable file until it changes. */
const FAILED_KEPT = 10_000;

/**
 * What `ferry upload --watch` says when it cannot use change events and polls instead: why, what
 * polling costs, and how to raise the inotify watch limit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pollingFallbackWarning } from "./watcher.ts";
 *
 * const text = pollingFallbackWarning("/data", new Error("OS file watch limit reached."));
 * assert.match(text, /^Cannot watch "\/data" for change events \(OS file watch limit reached\.\)/);
 * assert.match(text, /sudo sysctl fs\.inotify\.max_user_watches=1048576/);
 * assert.match(pollingFallbackWarning("/nfs", new Error("Not supported")), /--poll/);
 * ```
 *
 * @param root The watched folder.
 * @param error What `Deno.watchFs` threw (or its events stream).
 * @returns The warning.
 */
export function pollingFallbackWarning(root: string, error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const limit = /limit|ENOSPC|os error 28|No space left/i.test(text);
  return `Cannot watch ${JSON.stringify(root)} for change events (${text}); polling it instead ` +
    "(every file is checked at each poll, which costs CPU on a large tree). " +
    (limit
      ? "The inotify watch limit is reached: raise fs.inotify.max_user_watches (one watch per " +
        "folder), for example `sudo sysctl fs.inotify.max_user_watches=1048576` (persist it in " +
        "/etc/sysctl.d/), and restart the watch."
      : "If this is the inotify watch limit, raise fs.inotify.max_user_watches (`sudo sysctl " +
        "fs.inotify.max_user_watches=1048576`); on a network filesystem without change events, " +
        "use --poll to say so and silence this warning.");
}

/**
 * A watch of one folder: {@linkcode UploadWatch.run} until the signal is aborted;
 * {@linkcode UploadWatch.backlog} at any time.
 *
 * @example
 * ```ts ignore
 * import { UploadWatch } from "./watcher.ts";
 * const stop = new AbortController();
 * const watch = new UploadWatch("/data", {
 *   kafka: { "bootstrap.servers": "127.0.0.1:19092" },
 *   topic: "raw-data",
 *   signal: stop.signal,
 * });
 * setInterval(() => console.log(watch.backlog()), 10_000);
 * const summary = await watch.run();
 * ```
 */
export class UploadWatch {
  readonly #dir: string;
  readonly #options: WatchOptions;
  readonly #settleMs: number;
  #mode: "events" | "polling";
  #scheduler: SettleScheduler | undefined;
  #queue: UploadQueue | undefined;

  /**
   * Prepares the watch (nothing happens before {@linkcode UploadWatch.run}).
   *
   * @param dir The folder to watch.
   * @param options Broker, topic, settle time and the rest.
   */
  constructor(dir: string, options: WatchOptions) {
    this.#dir = dir;
    this.#options = options;
    this.#settleMs = options.settleMs ?? 3000;
    this.#mode = options.poll ? "polling" : "events";
    for (
      const [name, value] of [
        ["settleMs", this.#settleMs],
        ["pollMs", options.pollMs],
        ["rescanMs", options.rescanMs],
      ] as const
    ) {
      if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
        throw new RangeError(`Watch option ${name} is ${value}, expected a number of ms >= 0.`);
      }
    }
  }

  /** The backlog now (all zero before the watch started). */
  backlog(): WatchBacklog {
    const queue = this.#queue?.stats();
    return {
      mode: this.#mode,
      settling: this.#scheduler?.size ?? 0,
      waiting: queue?.waiting ?? 0,
      oldestWaitingMs: queue?.oldestWaitingMs ?? 0,
      uploading: (queue?.reading ?? 0) + (queue?.awaitingAcks ?? 0),
    };
  }

  /**
   * Watches until `options.signal` is aborted, then lets the uploads under way end.
   *
   * @returns What happened (see {@linkcode UploadSummary} for the outcomes kept).
   */
  async run(): Promise<UploadSummary> {
    const options = this.#options;
    const root = resolve(this.#dir);
    const info = await Deno.stat(root);
    if (!info.isDirectory) throw new Error(`Watch target "${this.#dir}" is not a folder.`);
    await using session = new Session(root, options);
    session.outcomesKept = WATCH_OUTCOMES_KEPT;
    await session.init();
    const signal = options.signal;
    const settleMs = this.#settleMs;
    const filter = session.filter;
    // A file counts as new when it changed after this (a little slack for coarse clocks).
    const startedAt = Date.now() - 10;
    const index = new FolderIndex(root, filter);

    // Versions queued or in flight (`size:mtime`); failures not to retry until the file changes;
    // with no upload log, what was uploaded.
    const queuedStamps = new Map<string, string>();
    const failed = new Map<string, string>();
    const uploadedHere = session.log ? undefined : new Map<string, string>();
    const stampOf = (f: FoundFile) => `${f.size}:${f.mtime}`;
    const isDone = (f: FoundFile): boolean => {
      const stamp = stampOf(f);
      if (failed.get(f.path) === stamp) return true;
      if (uploadedHere) return uploadedHere.get(f.path) === stamp;
      return session.log?.hasUploaded(f.path, f.size, f.mtime) ?? false;
    };

    const queue = new UploadQueue((path, onAllSent) => session.uploadOne(path, onAllSent), {
      concurrency: options.concurrency,
      signal,
      onDone: (path, outcome) => finished(path, outcome),
    });
    this.#queue = queue;
    const scheduler = new SettleScheduler(settleMs, (path, file) => {
      settled(path, file).catch((error) => {
        logger.error("Cannot check {path}: {error}", { path, error: String(error) });
      });
    });
    this.#scheduler = scheduler;

    const finished = (path: string, outcome: FileOutcome) => {
      const stamp = queuedStamps.get(path);
      queuedStamps.delete(path);
      if (outcome.status === "failed") {
        const kind = outcome.error.kind;
        if (kind === "changed") scheduler.touch(path); // tried again once it settles
        else if ((kind === "unreadable" || kind === "not_a_file") && stamp !== undefined) {
          failed.set(path, stamp);
          if (failed.size > FAILED_KEPT) failed.delete(failed.keys().next().value!);
        }
        return;
      }
      failed.delete(path);
      if (uploadedHere && stamp !== undefined) uploadedHere.set(path, stamp);
    };

    const enqueue = (file: FoundFile) => {
      queuedStamps.set(file.path, stampOf(file));
      queue.push(file.path);
    };

    /**
     * A file found by a listing (a poll, a rescan, a new folder): queued at once when it has not
     * changed for the settle time already, else settling with its stamp. `isNew`: it is in a
     * folder that appeared since the watch began (so it is new whatever its times say).
     */
    const found = (file: FoundFile, isNew: boolean, existing = false) => {
      if (!isNew && !options.uploadExisting && file.changed < startedAt) return;
      // The files there at the start go through the uploader even when the upload log has
      // them (it skips them, and the summary counts them); later, they are not looked at again.
      if (queue.has(file.path) || (!existing && isDone(file))) return;
      const stamp = stampOf(file);
      const settling = scheduler.get(file.path);
      if (settling) {
        // Settling on an event's word: the events keep its deadline. Else a new stamp moves it.
        if (settling.stamp !== undefined && settling.stamp !== stamp) {
          scheduler.touch(file.path, stamp);
        }
        return;
      }
      if (Date.now() - file.changed >= settleMs) enqueue(file);
      else scheduler.touch(file.path, stamp);
    };

    /** A settle deadline passed: what is at the path now? */
    const settled = async (path: string, file: SettlingFile) => {
      if (signal?.aborted) return;
      if (queue.inFlight(path)) {
        scheduler.touch(path, file.stamp); // looked at again once that upload is over
        return;
      }
      if (queue.has(path)) return;
      const full = join(root, ...path.split("/"));
      let isDir = false;
      try {
        const info = await Deno.lstat(full);
        isDir = info.isDirectory;
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return; // deleted before it settled
        throw error;
      }
      if (isDir) {
        // A folder appeared (or changed): its files settle in turn. Those of a folder the index
        // did not know yet (made or moved in since the watch began) are all new.
        await index.scanFolder(path, found);
        return;
      }
      if (!filter.accepts(path)) return;
      const now = await statFound(full, path);
      if (now === undefined || scheduler.get(path) || queue.has(path)) return;
      if (file.stamp !== undefined && file.stamp !== stampOf(now)) {
        scheduler.touch(path, stampOf(now));
        return;
      }
      if (isDone(now)) return;
      enqueue(now);
    };

    /** A path an event named. */
    const changed = (absolute: string) => {
      const rel = relative(root, absolute);
      if (rel === "" || rel.startsWith("..")) return;
      const path = sep === "/" ? rel : rel.split(sep).join("/");
      // Hidden or in an excluded folder, as a file or as a folder: nothing to do.
      if (!filter.acceptsDir(path)) return;
      scheduler.touch(path);
    };

    // Events first, then the first walk: nothing written in between is missed.
    let watcher: Deno.FsWatcher | undefined;
    if (this.#mode === "events") {
      try {
        watcher = Deno.watchFs(root, { recursive: true });
      } catch (error) {
        logger.warn("{message}", { message: pollingFallbackWarning(root, error) });
        this.#mode = "polling";
      }
    }
    const pollMs = options.pollMs ?? Math.max(50, Math.min(1000, settleMs / 2));
    const rescanMs = options.rescanMs ?? 300_000;

    if (options.uploadExisting) await index.rescan((f) => found(f, false, true), { all: true });
    else await index.rescan(() => {}, { statFiles: false });
    logger.info(
      "Watching {root} for files to upload to topic {topic} ({existing}; {how}).",
      {
        root,
        topic: options.topic,
        existing: options.uploadExisting ? "uploading files already there" : "new files only",
        how: this.#mode === "events"
          ? `change events, a safety rescan every ${rescanMs / 1000} s`
          : `polling every ${pollMs / 1000} s`,
        folders: index.folders,
      },
    );

    // The rescans (polls, or the slow safety rescan), one at a time.
    let scanning: Promise<void> | undefined;
    const rescan = (all: boolean) => {
      if (scanning || signal?.aborted) return;
      const began = performance.now();
      scanning = index.rescan(found, { all }).then((listed) => {
        logger.debug("Rescan: {listed} of {folders} folder(s) listed in {ms} ms.", {
          listed,
          folders: index.folders,
          ms: Math.round(performance.now() - began),
        });
      }, (error) => {
        logger.error("Rescan of {root} failed: {error}", { root, error: String(error) });
      }).finally(() => {
        scanning = undefined;
      });
    };
    let rescanTimer: ReturnType<typeof setInterval> | undefined;
    const startPolling = () => {
      clearInterval(rescanTimer);
      rescanTimer = setInterval(() => rescan(true), pollMs);
    };
    if (this.#mode === "polling") startPolling();
    else if (rescanMs > 0) rescanTimer = setInterval(() => rescan(false), rescanMs);

    const stop = () => watcher?.close();
    signal?.addEventListener("abort", stop, { once: true });
    try {
      if (watcher && !signal?.aborted) {
        try {
          for await (const event of watcher) {
            if (event.flag === "rescan") {
              logger.warn(
                "Change events were lost (the event queue overflowed); rescanning {root}.",
                { root },
              );
              rescan(true);
            }
            if (event.kind === "access") continue;
            for (const path of event.paths) changed(path);
          }
        } catch (error) {
          if (!signal?.aborted) {
            logger.warn("{message}", { message: pollingFallbackWarning(root, error) });
            this.#mode = "polling";
            startPolling();
            rescan(true);
          }
        }
      }
      if (!signal?.aborted) {
        await new Promise<void>((wake) => signal?.addEventListener("abort", () => wake()));
      }
    } finally {
      signal?.removeEventListener("abort", stop);
      clearInterval(rescanTimer);
      watcher?.close();
      scheduler.close();
      await scanning;
      await queue.drain();
    }
    return session.finish();
  }
}

/**
 * Watches a folder and uploads each new or changed file once it has stayed unchanged for the
 * settle time, until `options.signal` is aborted (see the module documentation).
 *
 * @example
 * ```ts ignore
 * import { watchAndUpload } from "./watcher.ts";
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
 * @returns What happened (see {@linkcode UploadSummary} for the outcomes kept), when stopped.
 */
export async function watchAndUpload(dir: string, options: WatchOptions): Promise<UploadSummary> {
  return await new UploadWatch(dir, options).run();
}
