/**
 * Taking a consumer group over from an OpenMSIStream processor (`DataFileStreamProcessor`,
 * `DataFileDownloadDirectory`): its registry (`<output_dir>/LOGS`,
 * {@linkcode readOmsProcessorRegistry}) says which files it processed and which it left in
 * progress, failed, or with a mismatched hash. OpenMSIStream itself, on its next start, reads
 * the topic again from the beginning for the latter; Ferry does the same once, here:
 *
 * 1. the topic is read from its beginning to its end (chunk headers only), to find each file's
 *    versions (path and SHA-512) and the offsets of their chunks;
 * 2. each version of a file OpenMSIStream processed whose chunks all lie below the group's
 *    committed offsets (or its only version) is recorded as processed in Ferry's registry
 *    (`<output dir>/.ferry`), so a Ferry processor on the group skips it;
 * 3. the group's committed offset of each partition is moved back to the first chunk of a file
 *    OpenMSIStream left in progress or failed, so a Ferry processor on the group reads those
 *    files again, whole, and processes them.
 *
 * The group must have no members (stop OpenMSIStream first).
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";
import { relativePath } from "../chunks/chunk.ts";
import { decodeChunk } from "../chunks/decode.ts";
import { hashHex } from "../hash/sha512.ts";
import { Consumer, type KafkaConfig } from "../kafka/mod.ts";
import { FileRegistry } from "../registry/registry.ts";
import { readOmsProcessorRegistry } from "./registries.ts";

/** One version of a file on the topic. */
export interface FileVersion {
  /** Relative path. */
  path: string;
  /** SHA-512, hex. */
  sha512: string;
  /** Bytes (the sum of its distinct chunks read). */
  size: number;
  /** Lowest offset of its chunks, by partition. */
  firstOffsets: Map<number, number>;
  /** Whether all of its chunks lie below the group's committed offsets. */
  belowCommitted: boolean;
}

/** The takeover of one topic and group, worked out and not yet applied. */
export interface ProcessorTakeoverPlan {
  /** The topic. */
  topic: string;
  /** The consumer group taken over. */
  group: string;
  /** Ferry's output directory (its registry is in `.ferry/`). */
  outputDir: string;
  /** OpenMSIStream's registry files read. */
  registryFiles: string[];
  /** Versions recorded as processed (Ferry skips them). */
  skip: FileVersion[];
  /** Versions OpenMSIStream left in progress or failed (Ferry processes them), and the status. */
  rerun: { version: FileVersion; status: string }[];
  /** Paths in OpenMSIStream's registry with no chunk on the topic. */
  missing: string[];
  /**
   * Versions in neither registry whose chunks lie between a rewound offset and the committed one:
   * OpenMSIStream would not read them again, Ferry processes them (they are listed to be seen).
   */
  unlisted: FileVersion[];
  /** The group's committed offsets now, by partition (-1001: none). */
  committed: Map<number, number>;
  /** The offsets committed for the group, by partition, where they move back. */
  rewind: Map<number, number>;
}

/** What the takeover reads. */
export interface ProcessorTakeoverOptions {
  /** The consumer's librdkafka configuration (brokers, security). */
  kafka: KafkaConfig;
  /** The topic. */
  topic: string;
  /** OpenMSIStream's consumer group, which Ferry's processor joins. */
  group: string;
  /** OpenMSIStream's `LOGS` folder. */
  logsDir: string;
  /** Ferry's output directory. */
  outputDir: string;
  /** Stops the scan. */
  signal?: AbortSignal;
}

/**
 * Reads OpenMSIStream's registry and the topic and works out the takeover.
 *
 * @throws {ConfigError} when there is no registry, or the group still has members.
 */
export async function planProcessorTakeover(
  options: ProcessorTakeoverOptions,
): Promise<ProcessorTakeoverPlan> {
  const { topic, group } = options;
  const registry = await readOmsProcessorRegistry(options.logsDir, topic, group);
  if (registry.files.length === 0) {
    throw new ConfigError(
      `No OpenMSIStream processor registry for topic ${JSON.stringify(topic)} and group ` +
        `${JSON.stringify(group)} in ${JSON.stringify(options.logsDir)} ` +
        `(processed_from_${topic}_by_${group}.csv or ` +
        `consuming_from_${topic}_in_progress_by_${group}.csv): check the topic, the group ` +
        "(OpenMSIStream's --consumer_group_id) and --logs-dir.",
    );
  }
  await using consumer = new Consumer({
    ...options.kafka,
    "group.id": group,
    "enable.auto.commit": false,
    "enable.auto.offset.store": false,
  });
  const description = await consumer.describeConsumerGroup(group);
  if (description.members.length > 0) {
    throw new ConfigError(
      `Consumer group ${JSON.stringify(group)} still has ${description.members.length} ` +
        "member(s): stop the OpenMSIStream processor first (type quit, or stop its service).",
    );
  }
  const partitions = await consumer.topicPartitions(topic);
  const committedList = await consumer.committed(partitions.map((partition) => ({
    topic,
    partition,
  })));
  const committed = new Map(committedList.map((p) => [p.partition, Number(p.offset)]));
  const ends = new Map<number, number>();
  const starts: { topic: string; partition: number; offset: number }[] = [];
  for (const partition of partitions) {
    const { low, high } = await consumer.queryWatermarks(topic, partition);
    if (Number(high) > Number(low)) {
      ends.set(partition, Number(high));
      starts.push({ topic, partition, offset: Number(low) });
    }
  }
  const versions = new Map<string, FileVersion & { chunks: Set<number> }>();
  if (starts.length > 0) await consumer.assign(starts);
  const remaining = new Set(ends.keys());
  while (remaining.size > 0 && !options.signal?.aborted) {
    for (const message of await consumer.poll({ timeoutMs: 500 })) {
      const offset = Number(message.offset);
      if (offset >= (ends.get(message.partition) ?? 0) - 1) remaining.delete(message.partition);
      if (message.value === undefined || message.value === null) continue;
      let chunk;
      try {
        chunk = decodeChunk(message.value);
      } catch {
        continue; // not a chunk: a processor skips it too
      }
      const path = relativePath(chunk);
      const sha512 = hashHex(chunk.fileHash);
      const key = `${sha512}:${path}`;
      let version = versions.get(key);
      if (version === undefined) {
        version = {
          path,
          sha512,
          size: 0,
          firstOffsets: new Map(),
          belowCommitted: true,
          chunks: new Set(),
        };
        versions.set(key, version);
      }
      if (!version.chunks.has(chunk.chunkIndex)) {
        version.chunks.add(chunk.chunkIndex);
        version.size += chunk.data.length;
      }
      const first = version.firstOffsets.get(message.partition);
      if (first === undefined || offset < first) {
        version.firstOffsets.set(message.partition, offset);
      }
      if (offset >= (committed.get(message.partition) ?? -1)) version.belowCommitted = false;
    }
  }
  const byPath = new Map<string, FileVersion[]>();
  for (const { chunks: _, ...version } of versions.values()) {
    byPath.set(version.path, [...byPath.get(version.path) ?? [], version]);
  }
  const plan: ProcessorTakeoverPlan = {
    topic,
    group,
    outputDir: options.outputDir,
    registryFiles: registry.files,
    skip: [],
    rerun: [],
    missing: [],
    unlisted: [],
    committed,
    rewind: new Map(),
  };
  for (const [path, entry] of registry.toRerun) {
    const found = byPath.get(path);
    if (found === undefined) {
      plan.missing.push(path);
      continue;
    }
    for (const version of found) {
      plan.rerun.push({ version, status: entry.status });
      for (const [partition, offset] of version.firstOffsets) {
        const now = committed.get(partition) ?? -1;
        if (now >= 0 && offset < now && offset < (plan.rewind.get(partition) ?? now)) {
          plan.rewind.set(partition, offset);
        }
      }
    }
  }
  for (const path of registry.processed.keys()) {
    if (registry.toRerun.has(path)) continue;
    const found = byPath.get(path);
    if (found === undefined) {
      plan.missing.push(path);
      continue;
    }
    for (const version of found) {
      if (found.length === 1 || version.belowCommitted) plan.skip.push(version);
    }
  }
  const listed = new Set([...registry.processed.keys(), ...registry.toRerun.keys()]);
  for (const [path, found] of byPath) {
    if (listed.has(path)) continue;
    for (const version of found) {
      const reread = [...version.firstOffsets].some(([partition, offset]) =>
        offset >= (plan.rewind.get(partition) ?? Infinity) &&
        offset < (committed.get(partition) ?? -1)
      );
      if (reread) plan.unlisted.push(version);
    }
  }
  return plan;
}

/**
 * Applies a plan: records the versions to skip as processed in Ferry's registry, then commits
 * the rewound offsets for the group.
 */
export async function applyProcessorTakeover(
  plan: ProcessorTakeoverPlan,
  kafka: KafkaConfig,
): Promise<void> {
  const registry = await FileRegistry.open(plan.outputDir, plan.topic, plan.group);
  try {
    for (const version of plan.skip) {
      await registry.recordProcessed({
        time: new Date().toISOString(),
        path: version.path,
        sha512: version.sha512,
        size: version.size,
        partitions: [...version.firstOffsets.keys()].sort((a, b) => a - b),
        ms: 0,
        attempt: 0,
      });
    }
    await registry.sync();
  } finally {
    await registry.close();
  }
  if (plan.rewind.size === 0) return;
  await using consumer = new Consumer({
    ...kafka,
    "group.id": plan.group,
    "enable.auto.commit": false,
  });
  await consumer.commit(
    [...plan.rewind].map(([partition, offset]) => ({ topic: plan.topic, partition, offset })),
  );
}

/**
 * The lines a processor takeover prints (its dry run prints the same).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeProcessorTakeover } from "./processor_takeover.ts";
 *
 * const version = (path: string) => ({
 *   path, sha512: "ab".repeat(64), size: 10, firstOffsets: new Map([[0, 4]]),
 *   belowCommitted: true,
 * });
 * const lines = describeProcessorTakeover({
 *   topic: "raw", group: "g", outputDir: "out", registryFiles: [],
 *   skip: [version("a.dat")], rerun: [{ version: version("b.dat"), status: "failed" }],
 *   missing: [], unlisted: [], committed: new Map([[0, 9]]), rewind: new Map([[0, 4]]),
 * });
 * assert.ok(lines.includes("skip     a.dat (abababababab, processed by OpenMSIStream)"));
 * assert.ok(lines.includes("process  b.dat (abababababab, failed in OpenMSIStream)"));
 * assert.ok(lines.includes("rewind   partition 0 of group g: 9 -> 4"));
 * ```
 */
export function describeProcessorTakeover(plan: ProcessorTakeoverPlan): string[] {
  const lines = [
    `OpenMSIStream registry: ${plan.registryFiles.join(", ")}`,
    `Ferry registry: ${plan.outputDir}/.ferry (topic ${plan.topic}, group ${plan.group})`,
  ];
  const byPath = (a: { path: string }, b: { path: string }) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
  for (const version of [...plan.skip].sort(byPath)) {
    lines.push(
      `skip     ${version.path} (${version.sha512.slice(0, 12)}, processed by OpenMSIStream)`,
    );
  }
  for (const { version, status } of [...plan.rerun].sort((a, b) => byPath(a.version, b.version))) {
    const what = status === "in_progress" ? "in progress" : status.replaceAll("_", " ");
    lines.push(
      `process  ${version.path} (${version.sha512.slice(0, 12)}, ${what} in OpenMSIStream)`,
    );
  }
  for (const version of [...plan.unlisted].sort(byPath)) {
    lines.push(
      `process  ${version.path} (${version.sha512.slice(0, 12)}, in no OpenMSIStream registry, ` +
        "read again after the rewind)",
    );
  }
  for (const path of plan.missing.sort()) {
    lines.push(`missing  ${path} (in OpenMSIStream's registry, no chunk on the topic)`);
  }
  for (const [partition, offset] of [...plan.rewind].sort((a, b) => a[0] - b[0])) {
    lines.push(
      `rewind   partition ${partition} of group ${plan.group}: ` +
        `${plan.committed.get(partition)} -> ${offset}`,
    );
  }
  return lines;
}
