/**
 * Taking an uploaded folder over from OpenMSIStream's `DataFileUploadDirectory`: its upload
 * registry (`<folder>/LOGS`, {@linkcode readOmsUploadRegistry}) is turned into records of
 * Ferry's upload log, so that `ferry upload` on the same folder and topic skips what
 * OpenMSIStream sent and sends only the chunks it left unsent of a half-sent file.
 *
 * A file counts as the one OpenMSIStream sent only if it was not modified after OpenMSIStream
 * started sending it (its registry has the start time, to the second); a file changed since is
 * left to `ferry upload`, which sends it whole as a new version.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { ConfigError } from "../config/config_error.ts";
import { hashHex, sha512File } from "../hash/sha512.ts";
import { readUploadLog, UploadLog } from "../upload/upload_log.ts";
import { uploadLogLocation } from "../upload/uploader.ts";
import { OMS_LOGS_SUBDIR } from "./upload_filter.ts";
import { readOmsUploadRegistry } from "./registries.ts";

/** What the takeover does with one file OpenMSIStream's registry lists. */
export type UploadTakeoverAction =
  | { kind: "skip"; path: string; chunks: number }
  | { kind: "resume"; path: string; chunks: number; delivered: Set<number>; toSend: number }
  | { kind: "send"; path: string; reason: string }
  | { kind: "known"; path: string }
  | { kind: "gone"; path: string };

/** The takeover of one folder and topic, worked out and not yet written. */
export interface UploadTakeoverPlan {
  /** The uploaded folder (absolute). */
  root: string;
  /** The topic. */
  topic: string;
  /** The chunk size OpenMSIStream used (Ferry's `--chunk-size` must be the same). */
  chunkSize: number;
  /** Ferry's upload log that is written. */
  logPath: string;
  /** OpenMSIStream's registry files read. */
  registryFiles: string[];
  /** One action per file listed. */
  actions: UploadTakeoverAction[];
}

/** Where to look and what chunk size OpenMSIStream used. */
export interface UploadTakeoverOptions {
  /** OpenMSIStream's `LOGS` folder (default `<root>/LOGS`). */
  logsDir?: string;
  /** OpenMSIStream's `--chunk_size` (its default is 524288, Ferry's too). */
  chunkSize: number;
  /** Ferry's `--upload-log-dir`, when the upload uses one. */
  uploadLogDir?: string;
}

/** A modification time this much after OpenMSIStream's start time (to the second) is a change. */
const MTIME_SLACK_MS = 1000;

/**
 * Works out what taking `root` over from OpenMSIStream means for `topic`, reading nothing but
 * its registry and the files' sizes and times.
 *
 * @throws {ConfigError} when no registry is there, or a half-sent file's chunk count does not
 *   fit `chunkSize`.
 */
export async function planUploadTakeover(
  root: string,
  topic: string,
  options: UploadTakeoverOptions,
): Promise<UploadTakeoverPlan> {
  const abs = resolve(root);
  const logsDir = options.logsDir ?? join(abs, OMS_LOGS_SUBDIR);
  const registry = await readOmsUploadRegistry(logsDir, topic);
  if (registry.files.length === 0) {
    throw new ConfigError(
      `No OpenMSIStream upload registry for topic ${JSON.stringify(topic)} in ` +
        `${JSON.stringify(logsDir)} (uploaded_to_${topic}.csv or ` +
        `upload_to_${topic}_in_progress.csv): check the topic, or give the folder with --logs-dir.`,
    );
  }
  const logPath = uploadLogLocation(abs, topic, options.uploadLogDir);
  const log = await readUploadLog(logPath);
  const actions: UploadTakeoverAction[] = [];
  {
    const check = async (path: string, started: number | undefined) => {
      if (log?.uploaded.has(path) || log?.partial.has(path)) {
        return { kind: "known", path } as const;
      }
      let info: Deno.FileInfo;
      try {
        info = await Deno.stat(join(abs, ...path.split("/")));
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return { kind: "gone", path } as const;
        throw error;
      }
      const mtime = info.mtime?.getTime();
      if (started !== undefined && mtime !== undefined && mtime > started + MTIME_SLACK_MS) {
        return {
          kind: "send",
          path,
          reason: "modified after OpenMSIStream started sending it",
        } as const;
      }
      return info;
    };
    for (const entry of registry.uploaded.values()) {
      if (registry.halfSent.has(entry.path)) continue;
      const info = await check(entry.path, entry.started);
      actions.push(
        "kind" in info ? info : { kind: "skip", path: entry.path, chunks: entry.chunks },
      );
    }
    for (const entry of registry.halfSent.values()) {
      const info = await check(entry.path, entry.started);
      if ("kind" in info) {
        actions.push(info);
        continue;
      }
      const chunks = Math.ceil(info.size / options.chunkSize);
      if (chunks !== entry.chunks) {
        throw new ConfigError(
          `OpenMSIStream left ${JSON.stringify(entry.path)} half-sent in ${entry.chunks} ` +
            `chunks, but at a chunk size of ${options.chunkSize} bytes it has ${chunks}: give ` +
            "the chunk size OpenMSIStream used (its --chunk_size) as --chunk-size.",
        );
      }
      actions.push({
        kind: "resume",
        path: entry.path,
        chunks,
        delivered: entry.delivered,
        toSend: chunks - entry.delivered.size,
      });
    }
  }
  actions.sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  return {
    root: abs,
    topic,
    chunkSize: options.chunkSize,
    logPath,
    registryFiles: registry.files,
    actions,
  };
}

/**
 * Writes the plan into Ferry's upload log: a `done` record for each file OpenMSIStream sent
 * (hashed now), a `start` record and the acknowledged chunks for each half-sent one.
 *
 * @returns How many files were recorded as sent and as half-sent.
 */
export async function applyUploadTakeover(
  plan: UploadTakeoverPlan,
): Promise<{ sent: number; halfSent: number }> {
  const log = await UploadLog.open(plan.logPath);
  let sent = 0;
  let halfSent = 0;
  try {
    for (const action of plan.actions) {
      if (action.kind !== "skip" && action.kind !== "resume") continue;
      const full = join(plan.root, ...action.path.split("/"));
      const info = await Deno.stat(full);
      const sha512 = hashHex(await sha512File(full));
      const mtime = info.mtime?.getTime() ?? null;
      if (action.kind === "skip") {
        await log.recordDone({
          path: action.path,
          size: info.size,
          mtime,
          sha512,
          chunks: action.chunks,
          chunkSize: plan.chunkSize,
          empty: false,
        });
        sent++;
      } else {
        await log.recordStart(
          { path: action.path, size: info.size, mtime, sha512, chunks: action.chunks },
          plan.chunkSize,
        );
        for (const index of action.delivered) log.recordAck(action.path, sha512, index);
        await log.flushAcks();
        halfSent++;
      }
    }
  } finally {
    await log.close();
  }
  return { sent, halfSent };
}

/**
 * The lines a takeover prints (its dry run prints the same, saying nothing was written).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeUploadTakeover } from "./upload_takeover.ts";
 *
 * const lines = describeUploadTakeover({
 *   root: "/data", topic: "raw", chunkSize: 4096, logPath: "/s/upload_to_raw.jsonl",
 *   registryFiles: [], actions: [
 *     { kind: "skip", path: "a.dat", chunks: 3 },
 *     { kind: "resume", path: "b.dat", chunks: 10, delivered: new Set([1, 2]), toSend: 8 },
 *   ],
 * });
 * assert.ok(lines.includes("skip    a.dat (OpenMSIStream sent its 3 chunk(s))"));
 * assert.ok(lines.includes("resume  b.dat (8 of 10 chunk(s) left to send)"));
 * ```
 */
export function describeUploadTakeover(plan: UploadTakeoverPlan): string[] {
  const lines = [
    `OpenMSIStream registry: ${plan.registryFiles.join(", ")}`,
    `Ferry upload log: ${plan.logPath}`,
  ];
  for (const action of plan.actions) {
    switch (action.kind) {
      case "skip":
        lines.push(`skip    ${action.path} (OpenMSIStream sent its ${action.chunks} chunk(s))`);
        break;
      case "resume":
        lines.push(
          `resume  ${action.path} (${action.toSend} of ${action.chunks} chunk(s) left to send)`,
        );
        break;
      case "send":
        lines.push(`send    ${action.path} (${action.reason}: sent whole)`);
        break;
      case "known":
        lines.push(`known   ${action.path} (already in Ferry's upload log: left as it is)`);
        break;
      case "gone":
        lines.push(`gone    ${action.path} (no longer in the folder)`);
        break;
    }
  }
  return lines;
}
