/**
 * What Ferry's logs say about a folder, read for `ferry status`: for an output directory, its
 * registry logs in `<dir>/.ferry` and whether a process seems to be working on it (run markers,
 * how recently the logs were written); for a folder given to `ferry upload`, its upload logs.
 * `ferry status` (src/cli/commands/status.ts) prints it as a table or as JSON.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { UsageError } from "../command/exit_codes.ts";
import { type OutputStatus, readOutputStatus } from "./output_status.ts";
import { FERRY_DIR, UPLOAD_LOG_NAME, uploadStateDir } from "../files/layout.ts";
import { type FoundRunMarker, readRunMarkers } from "../files/run_marker.ts";
import { readUploadLog, userStateHome } from "../upload/upload_log.ts";

/** Logs written this recently suggest that a process is working on the folder. */
export const ACTIVE_SECONDS = 60;

/** Whether a process seems to be working on the folder, and why Ferry thinks so. */
export interface FolderActivity {
  /** When a log in `.ferry/` was last written (ISO 8601), or null when there is none. */
  lastWrite: string | null;
  /**
   * `yes`: a run marker's process runs on this host. `no`: no marker, or only markers of
   * processes that are gone, and nothing written for a while. `likely`: no live marker, but a
   * log was written in the last 60 s. `unlikely`: nothing written for longer (an idle processor
   * writes nothing, so this is not certain). `unknown`: a marker from another host.
   */
  running: "yes" | "no" | "likely" | "unlikely" | "unknown";
  /** The run markers in `.ferry/running/`, each with whether its process still runs. */
  processes: FoundRunMarker[];
}

/** What one upload log says. */
export interface UploadLogStatus {
  /** The topic the files were uploaded to. */
  topic: string;
  /** The log file, absolute. */
  log: string;
  /**
   * True for a log an earlier Ferry kept inside the folder (`<dir>/.ferry/`); the next upload
   * reads it into the per-user state folder.
   */
  legacy: boolean;
  /** Files uploaded (every chunk acknowledged), empty files included. */
  uploaded: number;
  /** Empty files, skipped (nothing is sent for them). */
  empty: number;
  /** Uploads begun and not finished: how many chunks of how many were acknowledged. */
  partial: { path: string; chunks: number; acked: number }[];
  /** When the log was last written (ISO 8601). */
  lastWrite: string | null;
}

/** What `ferry status <dir> --json` prints (schema version 1). */
export interface FolderStatus extends OutputStatus {
  /** Whether a process seems to be working on the folder. */
  activity: FolderActivity;
  /** The upload logs of the folder, when it was given to `ferry upload`. */
  uploads: UploadLogStatus[];
}

async function mtime(path: string): Promise<Date | null> {
  try {
    return (await Deno.stat(path)).mtime;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** The newest modification time of the files directly in `dir` (its logs). */
async function newestWrite(dir: string): Promise<Date | null> {
  let newest: Date | null = null;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile) continue;
      const time = await mtime(join(dir, entry.name));
      if (time !== null && (newest === null || time > newest)) newest = time;
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return null;
    }
    throw error;
  }
  return newest;
}

/**
 * Works out whether a process seems to be working on the folder, from its run markers and from
 * when its logs were last written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { judgeActivity } from "./folder_status.ts";
 *
 * const now = Date.parse("2026-01-01T00:10:00Z");
 * assert.equal(judgeActivity([], new Date(now - 5_000), now).running, "likely");
 * assert.equal(judgeActivity([], new Date(now - 600_000), now).running, "unlikely");
 * assert.equal(judgeActivity([], null, now).running, "no");
 * ```
 *
 * @param processes The run markers found.
 * @param lastWrite When a log was last written.
 * @param now The time now, in milliseconds.
 * @returns The verdict.
 */
export function judgeActivity(
  processes: FoundRunMarker[],
  lastWrite: Date | null,
  now: number = Date.now(),
): FolderActivity {
  const fresh = lastWrite !== null && now - lastWrite.getTime() <= ACTIVE_SECONDS * 1000;
  const running: FolderActivity["running"] = processes.some((p) => p.alive === true)
    ? "yes"
    : processes.some((p) => p.alive === null)
    ? "unknown"
    : fresh
    ? "likely"
    : lastWrite === null || processes.length > 0
    ? "no"
    : "unlikely";
  return { lastWrite: lastWrite?.toISOString() ?? null, running, processes };
}

/** The upload logs of `dir`: in the per-user state folder, and an earlier version's in .ferry/. */
async function readUploads(dir: string): Promise<UploadLogStatus[]> {
  const places: { folder: string; legacy: boolean }[] = [];
  try {
    places.push({ folder: uploadStateDir(userStateHome(), resolve(dir)), legacy: false });
  } catch {
    // No state home (no HOME): only the folder's own logs.
  }
  places.push({ folder: join(resolve(dir), FERRY_DIR), legacy: true });
  const uploads: UploadLogStatus[] = [];
  for (const { folder, legacy } of places) {
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(folder)) {
        if (entry.isFile && UPLOAD_LOG_NAME.test(entry.name)) names.push(entry.name);
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        continue;
      }
      throw error;
    }
    for (const name of names.sort()) {
      const log = join(folder, name);
      const contents = await readUploadLog(log);
      if (contents === undefined) continue;
      const records = [...contents.uploaded.values()];
      uploads.push({
        topic: UPLOAD_LOG_NAME.exec(name)![1],
        log,
        legacy,
        uploaded: records.length,
        empty: records.filter((r) => r.empty).length,
        partial: [...contents.partial.values()].map((p) => ({
          path: p.path,
          chunks: p.chunks,
          acked: p.acked.size,
        })),
        lastWrite: (await mtime(log))?.toISOString() ?? null,
      });
    }
  }
  return uploads;
}

/**
 * Reads what Ferry's logs say about `dir`: an output directory's registry, its run markers and
 * how recently its logs were written, and the upload logs of a folder given to `ferry upload`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFolderStatus } from "./folder_status.ts";
 *
 * await assert.rejects(readFolderStatus("/nonexistent/folder"), /does not exist/);
 * ```
 *
 * @throws {UsageError} when `dir` does not exist or holds no Ferry logs.
 */
export async function readFolderStatus(dir: string): Promise<FolderStatus> {
  let status: OutputStatus | undefined;
  let isDirectory = false;
  try {
    isDirectory = (await Deno.stat(dir)).isDirectory;
    status = await readOutputStatus(dir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`Output directory ${JSON.stringify(dir)} does not exist.`);
    }
    throw error;
  }
  const uploads = isDirectory ? await readUploads(dir) : [];
  if (status === undefined && uploads.length === 0) {
    throw new UsageError(
      `${JSON.stringify(dir)} holds no Ferry logs (no .ferry/processed_from_*.jsonl, and no ` +
        "upload log for it): give the --output-dir of a processor or of ferry download, or a " +
        "folder given to ferry upload.",
    );
  }
  const ferryDir = join(dir, FERRY_DIR);
  const activity = judgeActivity(await readRunMarkers(dir), await newestWrite(ferryDir));
  return {
    ...(status ?? {
      version: 1,
      outputDir: resolve(dir),
      totals: { processed: 0, failed: 0, inProgress: 0, retired: 0 },
      processors: [],
    }),
    activity,
    uploads,
  };
}
