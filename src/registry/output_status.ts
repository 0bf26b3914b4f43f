/**
 * What the registry logs of an output directory say, for every processor (topic and consumer
 * group) that wrote logs there: read and compacted in memory, the logs left as they are (a
 * processor may be running and appending to them).
 *
 * @module
 */

import { resolve } from "node:path";
import {
  type FailedRecord,
  type ProcessedRecord,
  readRegistry,
  type StartedRecord,
} from "./registry.ts";
import { FERRY_DIR, REGISTRY_LOG_NAME, registryFileNames } from "../files/layout.ts";

/** Counts of files by state. */
export interface StatusCounts {
  /** Files processed (downloaded, for `ferry download`). */
  processed: number;
  /** Files whose latest attempt failed, or whose content did not match their SHA-512. */
  failed: number;
  /** Files started and neither processed nor failed yet. */
  inProgress: number;
  /**
   * Failed generations retired because a newer generation of the same path was processed (not
   * retried, not counted as failed).
   */
  retired: number;
}

/** The logs of one processor (one topic and consumer group) in an output directory. */
export interface ProcessorLogStatus {
  /**
   * The topic, as written in the log file names (characters other than letters, digits, `.`,
   * `_` and `-` appear as `_`).
   */
  topic: string;
  /** The consumer group, as written in the log file names. */
  group: string;
  /** The log files, relative to the output directory. */
  files: { processed: string; failed: string; inProgress: string };
  /** How many files are in each state. */
  counts: StatusCounts;
  /** Processed files, oldest first. */
  processed: ProcessedRecord[];
  /** Failed files, with their error, attempts and where their data is kept. */
  failed: FailedRecord[];
  /** Failed generations retired by a newer processed generation (`retiredBy`). */
  retired: FailedRecord[];
  /** Files in progress. */
  inProgress: StartedRecord[];
}

/** What `ferry status <output-dir> --json` prints (schema version 1). */
export interface OutputStatus {
  /** The schema version: 1. Fields may be added; none is removed or changed without a new one. */
  version: 1;
  /** The output directory, absolute. */
  outputDir: string;
  /** Sums over every processor's logs. */
  totals: StatusCounts;
  /** One entry per topic and consumer group, sorted by topic then group. */
  processors: ProcessorLogStatus[];
}

/**
 * Reads what the registry logs in `<outputDir>/.ferry/` say.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileRegistry } from "./registry.ts";
 * import { readOutputStatus } from "./output_status.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const registry = await FileRegistry.open(dir, "raw", "checksum");
 * await registry.recordProcessed({
 *   time: new Date().toISOString(), path: "a.csv", sha512: "00", size: 1,
 *   partitions: [0], ms: 1, attempt: 1,
 * });
 * await registry.close();
 * const status = await readOutputStatus(dir);
 * assert.equal(status?.totals.processed, 1);
 * assert.equal(status?.processors[0].group, "checksum");
 * assert.equal(await readOutputStatus(await Deno.makeTempDir()), undefined);
 * ```
 *
 * @param outputDir The output directory of a processor or of `ferry download`.
 * @returns The status, or `undefined` when the directory holds no Ferry registry logs.
 * @throws {Deno.errors.NotFound} when `outputDir` does not exist.
 */
export async function readOutputStatus(outputDir: string): Promise<OutputStatus | undefined> {
  const info = await Deno.stat(outputDir);
  if (!info.isDirectory) return undefined;
  const dir = `${outputDir}/${FERRY_DIR}`;
  const pairs = new Map<string, { topic: string; group: string }>();
  try {
    for await (const entry of Deno.readDir(dir)) {
      const match = entry.isFile ? REGISTRY_LOG_NAME.exec(entry.name) : null;
      if (match) pairs.set(`${match[1]}\n${match[2]}`, { topic: match[1], group: match[2] });
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  if (pairs.size === 0) return undefined;
  const processors: ProcessorLogStatus[] = [];
  const sorted = [...pairs.values()].sort((a, b) =>
    a.topic.localeCompare(b.topic) || a.group.localeCompare(b.group)
  );
  for (const { topic, group } of sorted) {
    const snapshot = await readRegistry(dir, topic, group);
    const names = registryFileNames(topic, group);
    processors.push({
      topic,
      group,
      files: {
        processed: `${FERRY_DIR}/${names.processed}`,
        failed: `${FERRY_DIR}/${names.failed}`,
        inProgress: `${FERRY_DIR}/${names.inProgress}`,
      },
      counts: {
        processed: snapshot.processed.length,
        failed: snapshot.failed.length,
        inProgress: snapshot.inProgress.length,
        retired: snapshot.retired.length,
      },
      ...snapshot,
    });
  }
  const totals: StatusCounts = { processed: 0, failed: 0, inProgress: 0, retired: 0 };
  for (const p of processors) {
    totals.processed += p.counts.processed;
    totals.failed += p.counts.failed;
    totals.inProgress += p.counts.inProgress;
    totals.retired += p.counts.retired;
  }
  return { version: 1, outputDir: resolve(outputDir), totals, processors };
}
