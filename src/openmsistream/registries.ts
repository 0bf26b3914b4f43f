/**
 * OpenMSIStream's file registries, as its 1.8.8 code names and writes them in a `LOGS` folder:
 *
 * - the uploader's (`producer_file_registry.py`): `upload_to_<topic>_in_progress.csv` (files
 *   half-sent: which chunks the broker acknowledged, which are still to send) and
 *   `uploaded_to_<topic>.csv` plus the per-producer `uploaded_to_<topic>_p<id>[_<time>].csv` it
 *   consolidates into it on the next start (files fully sent);
 * - a processor's (`stream_handler_registries.py`):
 *   `consuming_from_<topic>_in_progress_by_<group>.csv` (files in progress, failed, or whose
 *   hash did not match, which OpenMSIStream reads again on its next start) and
 *   `processed_from_<topic>_by_<group>.csv` plus its per-thread
 *   `processed_from_<topic>_by_<group>_t<id>[_<time>].csv` (files processed).
 *
 * @module
 */

import { join } from "node:path";
import { intSetValue, readTable, stringValue, type Table, timeValue } from "./csv_table.ts";

/** A file OpenMSIStream's uploader fully sent. */
export interface OmsUploaded {
  /** Relative POSIX path in the uploaded folder. */
  path: string;
  /** Its number of chunks. */
  chunks: number;
  /** When its upload started (ms since the epoch, local time as written), if readable. */
  started: number | undefined;
  /** The registry file that lists it. */
  file: string;
}

/** A file OpenMSIStream's uploader left half-sent. */
export interface OmsHalfSent {
  /** Relative POSIX path in the uploaded folder. */
  path: string;
  /** Its number of chunks. */
  chunks: number;
  /** When its upload started (ms since the epoch), if readable. */
  started: number | undefined;
  /** The chunk indexes (1-based) the broker acknowledged. */
  delivered: Set<number>;
  /** The chunk indexes still to send. */
  toSend: Set<number>;
}

/** OpenMSIStream's upload registry for one topic. */
export interface OmsUploadRegistry {
  /** The registry files read. */
  files: string[];
  /** Fully sent files, by path (the first line for a path). */
  uploaded: Map<string, OmsUploaded>;
  /** Half-sent files, by path. */
  halfSent: Map<string, OmsHalfSent>;
}

/** A file in OpenMSIStream's processor registry. */
export interface OmsProcessorEntry {
  /** Relative POSIX path of the file. */
  path: string;
  /** Its number of chunks. */
  chunks: number;
  /** `in_progress`, `failed` or `mismatched_hash` for the in-progress table; `processed`. */
  status: string;
}

/** OpenMSIStream's processor registry for one topic and consumer group. */
export interface OmsProcessorRegistry {
  /** The registry files read. */
  files: string[];
  /** Files processed, by path. */
  processed: Map<string, OmsProcessorEntry>;
  /** Files in progress, failed, or with a mismatched hash, by path. */
  toRerun: Map<string, OmsProcessorEntry>;
}

const UPLOADED_FIELDS = ["filename", "rel_filepath", "n_chunks", "started", "completed"];
const UPLOAD_IN_PROGRESS_FIELDS = [
  "filename",
  "rel_filepath",
  "n_chunks",
  "n_chunks_delivered",
  "n_chunks_to_send",
  "started",
  "chunks_delivered",
  "chunks_to_send",
];
const PROCESSED_FIELDS = ["filename", "rel_filepath", "n_chunks", "first_message", "processed_at"];
const PROCESSOR_IN_PROGRESS_FIELDS = [
  "filename",
  "rel_filepath",
  "status",
  "n_chunks",
  "first_message",
  "most_recent_message",
];

/** Paths in OpenMSIStream's registries are `str(pathlib.Path)`: backslashes on Windows. */
function posix(path: string): string {
  return path.replaceAll("\\", "/");
}

/** The files of `dir` named `<stem>.csv` or `<stem><sep>...csv` (sorted, the main one first). */
async function tableFiles(dir: string, stem: string, sep: string): Promise<string[]> {
  let main: string | undefined;
  const others: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile) continue;
      if (entry.name === `${stem}.csv`) main = join(dir, entry.name);
      else if (entry.name.startsWith(stem + sep) && entry.name.endsWith(".csv")) {
        others.push(join(dir, entry.name));
      }
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  others.sort();
  return main === undefined ? others : [main, ...others];
}

async function readTables(files: string[], fields: string[]): Promise<Table[]> {
  const tables: Table[] = [];
  for (const file of files) {
    const table = await readTable(file, fields);
    if (table !== undefined) tables.push(table);
  }
  return tables;
}

/**
 * Reads OpenMSIStream's upload registry for `topic` from its `LOGS` folder (nothing there: an
 * empty registry).
 *
 * @param logsDir The uploader's `LOGS` folder (`<uploaded folder>/LOGS` by default).
 * @param topic The topic it uploaded to.
 * @throws {ConfigError} for a table OpenMSIStream 1.8 did not write.
 */
export async function readOmsUploadRegistry(
  logsDir: string,
  topic: string,
): Promise<OmsUploadRegistry> {
  const doneFiles = await tableFiles(logsDir, `uploaded_to_${topic}`, "_p");
  const progressFile = join(logsDir, `upload_to_${topic}_in_progress.csv`);
  const registry: OmsUploadRegistry = { files: [], uploaded: new Map(), halfSent: new Map() };
  for (const table of await readTables(doneFiles, UPLOADED_FIELDS)) {
    registry.files.push(table.file);
    for (const row of table.rows) {
      const path = posix(stringValue(row.get("rel_filepath")!));
      if (registry.uploaded.has(path)) continue;
      registry.uploaded.set(path, {
        path,
        chunks: Number(row.get("n_chunks")),
        started: timeValue(row.get("started")!),
        file: table.file,
      });
    }
  }
  const progress = await readTable(progressFile, UPLOAD_IN_PROGRESS_FIELDS);
  if (progress !== undefined) {
    registry.files.push(progress.file);
    for (const row of progress.rows) {
      const path = posix(stringValue(row.get("rel_filepath")!));
      const toSend = intSetValue(row.get("chunks_to_send")!);
      if (toSend.size === 0) continue; // OpenMSIStream skips these too
      registry.halfSent.set(path, {
        path,
        chunks: Number(row.get("n_chunks")),
        started: timeValue(row.get("started")!),
        delivered: intSetValue(row.get("chunks_delivered")!),
        toSend,
      });
    }
  }
  return registry;
}

/**
 * Reads OpenMSIStream's processor registry for `topic` and consumer group `group` from its
 * `LOGS` folder. A path both processed and in progress counts as to rerun (OpenMSIStream reads
 * every in-progress path again on its next start).
 *
 * @param logsDir The processor's `LOGS` folder (`<output_dir>/LOGS` by default).
 * @param topic The topic it consumed.
 * @param group Its consumer group id.
 * @throws {ConfigError} for a table OpenMSIStream 1.8 did not write.
 */
export async function readOmsProcessorRegistry(
  logsDir: string,
  topic: string,
  group: string,
): Promise<OmsProcessorRegistry> {
  const doneFiles = await tableFiles(logsDir, `processed_from_${topic}_by_${group}`, "_t");
  const progressFile = join(logsDir, `consuming_from_${topic}_in_progress_by_${group}.csv`);
  const registry: OmsProcessorRegistry = { files: [], processed: new Map(), toRerun: new Map() };
  for (const table of await readTables(doneFiles, PROCESSED_FIELDS)) {
    registry.files.push(table.file);
    for (const row of table.rows) {
      const path = posix(stringValue(row.get("rel_filepath")!));
      registry.processed.set(path, {
        path,
        chunks: Number(row.get("n_chunks")),
        status: "processed",
      });
    }
  }
  const progress = await readTable(progressFile, PROCESSOR_IN_PROGRESS_FIELDS);
  if (progress !== undefined) {
    registry.files.push(progress.file);
    for (const row of progress.rows) {
      const path = posix(stringValue(row.get("rel_filepath")!));
      registry.toRerun.set(path, {
        path,
        chunks: Number(row.get("n_chunks")),
        status: stringValue(row.get("status")!),
      });
    }
  }
  return registry;
}
