/**
 * The file handed to a processor's `process` function.
 *
 * @module
 */

/** How files are rebuilt from their chunks. */
export type ReassemblyMode = "memory" | "disk" | "both";

/** The messages one partition contributed to a file. */
export interface PartitionRange {
  /** The partition. */
  partition: number;
  /** The lowest offset of the file's chunks in it. */
  firstOffset: number;
  /** The highest offset of the file's chunks in it. */
  lastOffset: number;
}

/**
 * A file rebuilt from its chunks, with its SHA-512 checked. `bytes` is there in `memory` and
 * `both` modes, `path` in `disk` and `both` modes.
 *
 * @example Read the content whatever the mode
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DownloadedFile } from "../../mod.ts";
 *
 * async function content(file: DownloadedFile): Promise<Uint8Array> {
 *   return file.bytes ?? await Deno.readFile(file.path!);
 * }
 * const file: DownloadedFile = {
 *   relativePath: "run1/a.csv", filename: "a.csv", subdir: "run1", size: 4, sha512: "…",
 *   topic: "raw", partitions: [], bytes: new TextEncoder().encode("a;b\n"), attempt: 1,
 * };
 * assert.equal((await content(file)).length, file.size);
 * ```
 */
export interface DownloadedFile {
  /** The path relative to the upload root and the output directory, such as `run1/a.csv`. */
  relativePath: string;
  /** The bare file name, such as `a.csv`. */
  filename: string;
  /** The directory part of the relative path, `""` at the root. */
  subdir: string;
  /** Size in bytes. */
  size: number;
  /** SHA-512 of the content, lowercase hex. */
  sha512: string;
  /** The topic the chunks came from. */
  topic: string;
  /** The partitions the chunks came from and their offsets. */
  partitions: PartitionRange[];
  /** The file's modification time at upload (ms since the epoch), when the uploader sent it. */
  mtime?: number;
  /** The content (`memory` and `both` modes). */
  bytes?: Uint8Array<ArrayBuffer>;
  /** The full path of the rebuilt file on disk (`disk` and `both` modes). */
  path?: string;
  /** Which attempt this is: 1, or more when a failed file is retried on a later start. */
  attempt: number;
  /**
   * When the file's last chunk was read from Kafka, in ms since the epoch with sub-millisecond
   * precision (`performance.timeOrigin + performance.now()` of the coordinator; compare it with
   * the same expression in `process` to see how long the file waited). Absent for a failed
   * file retried on a later start.
   */
  receivedAt?: number;
}
