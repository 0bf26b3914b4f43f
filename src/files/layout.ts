/**
 * The one place that knows where Ferry keeps its own files: the `.ferry/` folder inside an
 * output directory (processors, `ferry download`) or an upload root (`ferry upload`).
 *
 * ```text
 * <output-dir>/
 *   <relative path>                              rebuilt files (disk and both modes)
 *   .ferry/
 *     processed_from_<topic>_by_<group>.jsonl    registry: files processed
 *     failed_from_<topic>_by_<group>.jsonl       registry: files failed, with their errors
 *     in_progress_from_<topic>_by_<group>.jsonl  registry: files being processed
 *     partial/                                   files being rebuilt (disk mode)
 *     failed/<sha512 prefix>/<file name>         a failed file's bytes kept (memory mode)
 *     <processor name>.log                       the run's log (rotated)
 *     running/<host>-<pid>.json                  a processor running on it (while it runs)
 *
 * <state home>/ferry/uploads/<folder hash>/      `ferry upload`'s state for one folder
 *   upload_to_<topic>.jsonl                      the upload log (default place)
 *   folder.txt                                   the folder's absolute path, for people
 * <upload root>/.ferry/upload_to_<topic>.jsonl   where earlier versions kept it (read once)
 * ```
 *
 * The state home is `$XDG_STATE_HOME`, or `~/.local/state` (see `src/upload/upload_log.ts`).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";

/** The folder inside an output directory (or upload root) that holds Ferry's own files. */
export const FERRY_DIR = ".ferry";

/** Where disk mode rebuilds files, relative to the output directory. */
export const PARTIAL_DIR = `${FERRY_DIR}/partial`;

/** Where memory mode keeps the bytes of failed files, relative to the output directory. */
export const FAILED_DIR = `${FERRY_DIR}/failed`;

/** A topic or group name as it appears in a file name: other characters become `_`. */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, "_");
}

/**
 * The names of the three registry logs for a topic and consumer group, inside `.ferry/`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { registryFileNames } from "./layout.ts";
 * assert.equal(registryFileNames("raw", "g").processed, "processed_from_raw_by_g.jsonl");
 * ```
 */
export function registryFileNames(
  topic: string,
  group: string,
): { processed: string; failed: string; inProgress: string } {
  const suffix = `${safeName(topic)}_by_${safeName(group)}.jsonl`;
  return {
    processed: `processed_from_${suffix}`,
    failed: `failed_from_${suffix}`,
    inProgress: `in_progress_from_${suffix}`,
  };
}

/**
 * Matches a registry log's file name; groups: the (safe) topic and group names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { REGISTRY_LOG_NAME } from "./layout.ts";
 * assert.deepEqual(REGISTRY_LOG_NAME.exec("failed_from_raw_by_g.jsonl")?.slice(1), ["raw", "g"]);
 * ```
 */
export const REGISTRY_LOG_NAME: RegExp =
  /^(?:processed|failed|in_progress)_from_(.+?)_by_(.+)\.jsonl$/;

/**
 * Where a failed file's bytes are kept in memory mode, relative to the output directory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { failedCopyPath } from "./layout.ts";
 * assert.equal(failedCopyPath("ab".repeat(64), "x.csv"), `.ferry/failed/${"ab".repeat(16)}/x.csv`);
 * ```
 */
export function failedCopyPath(sha512: string, filename: string): string {
  return `${FAILED_DIR}/${sha512.slice(0, 32)}/${filename}`;
}

/**
 * The log file of a processor run when no `--log-file` is given, relative to the output
 * directory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runLogPath } from "./layout.ts";
 * assert.equal(runLogPath("checksum"), ".ferry/checksum.log");
 * ```
 */
export function runLogPath(name: string): string {
  return `${FERRY_DIR}/${name}.log`;
}

/**
 * Where earlier versions of Ferry kept the upload log of `ferry upload` for `topic`: inside the
 * uploaded folder (now only read, once, when the per-user state has no log yet).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { uploadLogPath } from "./layout.ts";
 * assert.equal(uploadLogPath("/data", "raw"), "/data/.ferry/upload_to_raw.jsonl");
 * ```
 */
export function uploadLogPath(root: string, topic: string): string {
  return join(root, FERRY_DIR, uploadLogName(topic));
}

/**
 * The upload log's file name for `topic` (in `.ferry/`, or the folder `--upload-log-dir` gives).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { uploadLogName } from "./layout.ts";
 * assert.equal(uploadLogName("raw"), "upload_to_raw.jsonl");
 * ```
 */
export function uploadLogName(topic: string): string {
  return `upload_to_${topic}.jsonl`;
}

/**
 * Matches an upload log's file name; group: the topic.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UPLOAD_LOG_NAME } from "./layout.ts";
 * assert.equal(UPLOAD_LOG_NAME.exec("upload_to_raw-data.jsonl")?.[1], "raw-data");
 * ```
 */
export const UPLOAD_LOG_NAME: RegExp = /^upload_to_(.+)\.jsonl$/;

/** The file in an upload state folder that names the folder it is for. */
export const UPLOAD_STATE_FOLDER_FILE = "folder.txt";

/**
 * The folder holding `ferry upload`'s state (its upload logs) for the uploaded folder `root`:
 * `<stateHome>/ferry/uploads/<hash>`, the hash being the first 32 hex digits of the SHA-256 of
 * the absolute path of `root`, so the state lives outside the folder it describes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { uploadStateDir } from "./layout.ts";
 * const dir = uploadStateDir("/home/me/.local/state", "/data/run1");
 * assert.match(dir, /^\/home\/me\/\.local\/state\/ferry\/uploads\/[0-9a-f]{32}$/);
 * assert.notEqual(dir, uploadStateDir("/home/me/.local/state", "/data/run2"));
 * ```
 *
 * @param stateHome The per-user state folder (`$XDG_STATE_HOME`, or `~/.local/state`).
 * @param root The absolute path of the uploaded folder.
 * @returns The absolute path of its state folder.
 */
export function uploadStateDir(stateHome: string, root: string): string {
  const hash = createHash("sha256").update(root).digest("hex").slice(0, 32);
  return join(stateHome, "ferry", "uploads", hash);
}

/**
 * The folder inside an output directory where each running processor leaves a file naming
 * itself (see `src/files/run_marker.ts`), relative to the output directory.
 */
export const RUNNING_DIR = `${FERRY_DIR}/running`;

/**
 * The file a running processor leaves in its output directory, relative to it: removed when it
 * stops; left behind only by a crash (`ferry status` then says the process is gone).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runMarkerPath } from "./layout.ts";
 * assert.equal(runMarkerPath("lab-pc", 4242), ".ferry/running/lab-pc-4242.json");
 * ```
 */
export function runMarkerPath(hostname: string, pid: number): string {
  return `${RUNNING_DIR}/${safeName(hostname)}-${pid}.json`;
}
