/**
 * `ferry status <dir>`: what Ferry's logs say about a folder.
 *
 * - For an output directory (a processor's, or `ferry download`'s): the registry logs in
 *   `<dir>/.ferry`: how many files were processed, which failed (with the error, the number of
 *   attempts and where the file's data is kept), which are in progress.
 * - Whether a process seems to be working on it: the run markers processors keep in
 *   `.ferry/running/` (checked against the running processes), else how long ago the logs were
 *   last written.
 * - For a folder given to `ferry upload`: its upload logs (kept in the per-user state folder,
 *   or in `<dir>/.ferry/` by earlier versions): how many files were uploaded to each topic, and
 *   which uploads are unfinished.
 *
 * A table for people by default; `--json` prints {@linkcode FolderStatus} (schema version 1)
 * for scripts:
 *
 * ```
 * {
 *   "version": 1,
 *   "outputDir": "/abs/path",
 *   "totals": { "processed": 3, "failed": 1, "inProgress": 0, "retired": 0 },
 *   "processors": [{
 *     "topic": "raw-data", "group": "ferry-checksum-raw-data",
 *     "files": { "processed": ".ferry/processed_from_...", "failed": "...", "inProgress": "..." },
 *     "counts": { "processed": 3, "failed": 1, "inProgress": 0, "retired": 0 },
 *     "processed": [{ "time", "path", "sha512", "size", "partitions", "ms", "attempt" }],
 *     "failed": [{ "time", "path", "sha512", "size", "partitions", "error", "attempt",
 *       "maxAttempts", "kept", "mtime" }],
 *     "retired": [{ ...as failed, "retiredBy" }],
 *     "inProgress": [{ "time", "path", "sha512" }]
 *   }],
 *   "activity": { "lastWrite": "2026-...Z" | null, "running": "yes" | "no" | "likely" |
 *     "unlikely" | "unknown", "processes": [{ "pid", "hostname", "startedAt", "exec", "name",
 *     "topic", "group", "file", "alive" }] },
 *   "uploads": [{ "topic", "log", "legacy", "uploaded", "empty", "partial": [{ "path",
 *     "chunks", "acked" }], "lastWrite" }]
 * }
 * ```
 *
 * Times are ISO 8601, sizes bytes, `ms` the duration of `process`, `attempt` which attempt
 * succeeded (processed) or how many failed (failed), `kept` where a failed file's data is kept,
 * relative to the output directory (`""` when it is not). Fields may be added in version 1;
 * none is removed or changed without a new version.
 *
 * @module
 */

import { Command } from "commander";
import { formatBytes } from "../../command/progress.ts";
import type { ProcessorLogStatus } from "../../registry/output_status.ts";
import { generationLabel } from "../../registry/registry.ts";
import { RUNNING_DIR } from "../../files/layout.ts";
import type { FoundRunMarker } from "../../files/run_marker.ts";
import {
  ACTIVE_SECONDS,
  type FolderActivity,
  type FolderStatus,
  readFolderStatus,
  type UploadLogStatus,
} from "../../registry/folder_status.ts";
import type { CliContext } from "../context.ts";

export type { FolderStatus } from "../../registry/folder_status.ts";

/** How many processed files the table lists without `--all`. */
const PROCESSED_SHOWN = 20;

interface StatusFlags {
  json?: boolean;
  all?: boolean;
}

/**
 * Builds the `status` subcommand.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createStatusCommand } from "./status.ts";
 *
 * const context = { exitCode: 0, signal: new AbortController().signal, print: () => {} };
 * assert.equal(createStatusCommand(context).name(), "status");
 * ```
 *
 * @param context Where the action prints and reports its exit code.
 * @returns The command.
 */
export function createStatusCommand(context: CliContext): Command {
  return new Command("status")
    .summary("show what Ferry's logs say about an output directory or an uploaded folder")
    .description(
      "Show what Ferry's logs say about a folder. For the output directory of a processor or " +
        "of ferry download (the registry logs in <dir>/.ferry), for each topic and consumer " +
        "group that wrote there: files processed, files failed (with the error, the number " +
        "of attempts, and where the file's data is kept; they are retried on the next start " +
        "until the attempt limit, then by ferry retry), failed generations retired by a newer " +
        "processed one, files in progress, each with its generation; and whether a process " +
        "seems to be working on it. For a folder given to ferry upload: how many files its upload logs " +
        "record as uploaded, per topic, and the unfinished uploads. Reads the logs only, so it " +
        "is safe while a processor or an upload runs.",
    )
    .argument(
      "<dir>",
      "the --output-dir of a processor or of ferry download, or an uploaded folder",
    )
    .option("--json", "print the status as JSON (schema version 1, see below)")
    .option("-a, --all", `list every processed file (default: the latest ${PROCESSED_SHOWN})`)
    .addHelpText(
      "after",
      `
Is a process running? Processors record themselves in <dir>/${RUNNING_DIR}/ while they run,
which status checks against the processes of this host; without such a record, logs written
in the last ${ACTIVE_SECONDS} s suggest one is (an idle processor writes nothing).

Upload logs are read from the per-user state folder
($XDG_STATE_HOME/ferry/uploads/<hash of the folder's absolute path>/upload_to_<topic>.jsonl,
$XDG_STATE_HOME being ~/.local/state unless set) and from <dir>/.ferry/ (earlier versions).

JSON (--json), schema version 1 (fields may be added; none removed without a new version):
  { "version": 1, "outputDir": <absolute path>,
    "totals": { "processed": n, "failed": n, "inProgress": n, "retired": n },
    "processors": [ { "topic", "group", "files": { "processed", "failed", "inProgress" },
      "counts": { "processed", "failed", "inProgress", "retired" },
      "processed": [ { "time", "path", "sha512", "size", "partitions", "ms", "attempt",
        "mtime"? } ],
      "failed": [ { "time", "path", "sha512", "size", "partitions", "error", "attempt",
        "maxAttempts"?, "kept", "mtime"? } ],
      "retired": [ { ...as failed, "retiredBy": <sha512 of the newer generation> } ],
      "inProgress": [ { "time", "path", "sha512", "mtime"? } ] } ],
    "activity": { "lastWrite", "running": "yes"|"no"|"likely"|"unlikely"|"unknown",
      "processes": [ { "pid", "hostname", "startedAt", "exec", "name", "topic", "group", "file",
      "alive" } ] },
    "uploads": [ { "topic", "log", "legacy", "uploaded", "empty",
      "partial": [ { "path", "chunks", "acked" } ], "lastWrite" } ] }
  Times ISO 8601; sizes in bytes; "kept": where a failed file's data is, relative to the
  output directory ("" if nowhere); "mtime": the generation's file_mtime (ms since the epoch),
  when its uploader sent one. GENERATION in the tables: that mtime, else the SHA-512's start.

Exit status: 0 the logs were read (whatever they say); 2 the directory does not exist or holds
no Ferry logs.

Examples:
  ferry status ./downloads
  ferry status checksum-output --json | jq '.totals'
  ferry status /data/run1        # a folder given to ferry upload`,
    )
    .action(async (dir: string, flags: StatusFlags) => {
      const status = await readFolderStatus(dir);
      const lines = flags.json
        ? [JSON.stringify(status, null, 2)]
        : statusTable(status, { all: flags.all ?? false });
      for (const line of lines) context.print(line);
    });
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    "  " + cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i])).join("  ");
  return [line(header), ...rows.map(line)];
}

function counts(
  c: { processed: number; failed: number; inProgress: number; retired?: number },
): string {
  const retired = c.retired ? `, ${c.retired} retired` : "";
  return `${c.processed} processed, ${c.failed} failed, ${c.inProgress} in progress${retired}`;
}

function when(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** "12 s ago", "5 min ago", "3 h ago", "2 days ago". */
function ago(iso: string, now: number): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} days ago`;
}

function processorLines(p: ProcessorLogStatus, all: boolean): string[] {
  const lines = [
    "",
    `Topic ${JSON.stringify(p.topic)}, group ${JSON.stringify(p.group)}: ${counts(p.counts)}`,
  ];
  if (p.failed.length > 0) {
    lines.push(
      "",
      `Failed (${p.failed.length}; KEPT AT is where the file's data is kept; ATTEMPTS n/n: ` +
        "used up, run again with ferry retry):",
    );
    lines.push(...table(
      ["PATH", "GENERATION", "SIZE", "ATTEMPTS", "LAST ATTEMPT", "KEPT AT", "ERROR"],
      p.failed.map((f) => [
        f.path,
        generationLabel(f),
        formatBytes(f.size),
        f.maxAttempts === undefined ? String(f.attempt) : `${f.attempt}/${f.maxAttempts}`,
        when(f.time),
        f.kept === "" ? "(not kept)" : f.kept,
        f.error.replace(/\s+/g, " "),
      ]),
    ));
  }
  const retired = p.retired ?? [];
  if (retired.length > 0) {
    lines.push(
      "",
      `Retired (${retired.length}; failed generations superseded by a newer processed one, ` +
        "not retried):",
    );
    lines.push(...table(
      ["PATH", "GENERATION", "RETIRED BY", "ERROR"],
      retired.map((f) => [
        f.path,
        generationLabel(f),
        `sha512 ${(f.retiredBy ?? "").slice(0, 12)}`,
        f.error.replace(/\s+/g, " "),
      ]),
    ));
  }
  if (p.inProgress.length > 0) {
    lines.push("", `In progress (${p.inProgress.length}):`);
    lines.push(...table(
      ["PATH", "GENERATION", "SINCE"],
      p.inProgress.map((s) => [s.path, generationLabel(s), when(s.time)]),
    ));
  }
  if (p.processed.length > 0) {
    const shown = all ? p.processed : p.processed.slice(-PROCESSED_SHOWN);
    const note = shown.length < p.processed.length
      ? `, the latest ${shown.length} (--all lists every one)`
      : "";
    lines.push("", `Processed (${p.processed.length}${note}):`);
    lines.push(...table(
      ["PATH", "GENERATION", "SIZE", "ATTEMPT", "PROCESSED AT", "PROCESS MS"],
      shown.map((r) => [
        r.path,
        generationLabel(r),
        formatBytes(r.size),
        String(r.attempt),
        when(r.time),
        String(r.ms),
      ]),
    ));
  }
  return lines;
}

function describeProcess(p: FoundRunMarker): string {
  const what = [
    p.name === undefined ? undefined : `processor ${JSON.stringify(p.name)}`,
    p.topic === undefined ? undefined : `topic ${JSON.stringify(p.topic)}`,
    p.group === undefined ? undefined : `group ${JSON.stringify(p.group)}`,
  ].filter((w) => w !== undefined).join(", ");
  return `pid ${p.pid}${what === "" ? "" : ` (${what})`}, started ${when(p.startedAt)}`;
}

/**
 * The lines saying whether a process seems to be working on the folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { activityLines } from "./status.ts";
 *
 * const now = Date.parse("2026-01-01T00:10:00Z");
 * const [line] = activityLines({
 *   lastWrite: "2026-01-01T00:09:55.000Z", running: "likely", processes: [],
 * }, now);
 * assert.equal(line, "Running: probably: the logs were written 5 s ago (2026-01-01 00:09:55Z).");
 * ```
 *
 * @param activity What `judgeActivity` (src/registry/folder_status.ts) found.
 * @param now The time now, in milliseconds.
 * @returns The lines.
 */
export function activityLines(activity: FolderActivity, now: number = Date.now()): string[] {
  const lines: string[] = [];
  const written = activity.lastWrite === null
    ? "no log was written"
    : `the logs were written ${ago(activity.lastWrite, now)} (${when(activity.lastWrite)})`;
  for (const p of activity.processes) {
    if (p.alive === true) lines.push(`Running: yes, ${describeProcess(p)}.`);
    else if (p.alive === null) {
      lines.push(
        `Running: recorded by ${describeProcess(p)} on host ${JSON.stringify(p.hostname)}, ` +
          "which cannot be checked from here.",
      );
    } else {
      lines.push(
        `Running: not ${describeProcess(p)}, which is gone without removing ${p.file} (a ` +
          "crash, or kill -9).",
      );
    }
  }
  if (activity.running === "likely") lines.push(`Running: probably: ${written}.`);
  else if (activity.running === "unlikely") {
    lines.push(
      `Running: probably not: ${written} (an idle processor writes nothing, so it may still ` +
        "be waiting for files).",
    );
  } else if (activity.running === "no" && activity.processes.length === 0) {
    lines.push(`Running: no: ${written}.`);
  }
  return lines;
}

function uploadLines(uploads: UploadLogStatus[], now: number): string[] {
  if (uploads.length === 0) return [];
  const lines = ["", "Uploaded from this folder (upload logs):"];
  for (const u of uploads) {
    const partial = u.partial.length === 0 ? "" : `, ${u.partial.length} unfinished`;
    const written = u.lastWrite === null ? "" : `, last written ${ago(u.lastWrite, now)}`;
    lines.push(
      `  Topic ${JSON.stringify(u.topic)}: ${u.uploaded} file(s) uploaded (${u.empty} empty, ` +
        `nothing sent)${partial}${written}`,
      `    log: ${u.log}${
        u.legacy
          ? " (kept by an earlier Ferry; the next upload reads it into the state folder)"
          : ""
      }`,
    );
    if (u.partial.length > 0) {
      lines.push(
        ...table(
          ["PATH", "CHUNKS ACKNOWLEDGED"],
          u.partial.map((p) => [p.path, `${p.acked} of ${p.chunks}`]),
        ).map((l) => `  ${l}`),
      );
    }
  }
  return lines;
}

/**
 * The human-readable status: a line of totals, whether a process seems to be running, then for
 * each topic and group its counts and tables of failed (with where each is kept), in-progress
 * and (the latest) processed files, then the folder's upload logs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { statusTable } from "./status.ts";
 *
 * const lines = statusTable({
 *   version: 1, outputDir: "/out",
 *   totals: { processed: 0, failed: 1, inProgress: 0, retired: 0 },
 *   processors: [{
 *     topic: "raw", group: "g", files: { processed: "p", failed: "f", inProgress: "i" },
 *     counts: { processed: 0, failed: 1, inProgress: 0, retired: 0 }, processed: [],
 *     inProgress: [], retired: [],
 *     failed: [{
 *       time: "2026-01-01T00:00:00.000Z", path: "a.bin", sha512: "00", size: 10,
 *       partitions: [0], error: "boom", attempt: 3, kept: ".ferry/failed/00/a.bin",
 *     }],
 *   }],
 *   activity: { lastWrite: null, running: "no", processes: [] },
 *   uploads: [],
 * }, { all: false });
 * assert.equal(lines[0], "/out: 0 processed, 1 failed, 0 in progress");
 * assert.equal(lines[1], "Running: no: no log was written.");
 * assert.ok(lines.some((l) =>
 *   /a\.bin\s+sha512 00\s+10 B\s+3\s+2026-01-01 00:00:00Z\s+\.ferry\/failed\/00\/a\.bin\s+boom/
 *     .test(l)
 * ));
 * ```
 *
 * @param status What the logs say.
 * @param options `all`: list every processed file, not only the latest 20.
 * @returns The lines.
 */
export function statusTable(
  status: FolderStatus,
  options: { all: boolean; now?: number },
): string[] {
  const now = options.now ?? Date.now();
  const uploaded = status.uploads.reduce((sum, u) => sum + u.uploaded, 0);
  const lines = [
    status.processors.length > 0 || status.uploads.length === 0
      ? `${status.outputDir}: ${counts(status.totals)}`
      : `${status.outputDir}: ${uploaded} file(s) uploaded to ${status.uploads.length} topic(s)`,
  ];
  if (status.processors.length > 0) lines.push(...activityLines(status.activity, now));
  for (const p of status.processors) lines.push(...processorLines(p, options.all));
  lines.push(...uploadLines(status.uploads, now));
  return lines;
}
