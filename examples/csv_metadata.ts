/**
 * Example, like OpenMSIStream's `MetadataJSONReproducer`: reads the header lines of every
 * instrument CSV file rebuilt from a topic (the `# key: value` comment lines before the data, and
 * the column names) and produces one JSON document per file to `--output-topic`. With
 * `--exactly-once`, a `read_committed` reader of the output topic sees one document per file,
 * whatever crashes happen.
 *
 *     deno run -A examples/csv_metadata.ts --topic raw-data \
 *       --bootstrap-servers 127.0.0.1:19092 --output-topic csv-metadata --exactly-once \
 *       --exit-when-idle
 *
 * Files that are not CSV produce nothing (and count as processed).
 *
 * @module
 */

import { defineProcessor, type ProcessorResult } from "../mod.ts";

/** What is read from a CSV file's first lines. */
export interface CsvMetadata {
  /** The file's relative path. */
  path: string;
  /** The `# key: value` (or `key,value` before a blank line) comment lines, by key. */
  metadata: Record<string, string>;
  /** The column names (the first line that is not a comment). */
  columns: string[];
  /** How many data lines follow the column names. */
  rows: number;
}

/** Reads the header of a CSV text: comment lines, column names, and the number of rows. */
export function readCsvMetadata(path: string, text: string): CsvMetadata {
  const metadata: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  let at = 0;
  for (; at < lines.length; at++) {
    const line = lines[at].trim();
    if (!line.startsWith("#")) break;
    const body = line.slice(1).trim();
    const colon = body.indexOf(":");
    if (colon > 0) metadata[body.slice(0, colon).trim()] = body.slice(colon + 1).trim();
  }
  const columns = (lines[at] ?? "").split(",").map((c) => c.trim()).filter((c) => c !== "");
  const rows = lines.slice(at + 1).filter((l) => l.trim() !== "").length;
  return { path, metadata, columns, rows };
}

const processor = defineProcessor({
  name: "csv-metadata",
  description: "Produces one JSON document of header metadata per CSV file to --output-topic.",
  async process(file): Promise<ProcessorResult | undefined> {
    if (!file.relativePath.toLowerCase().endsWith(".csv")) return undefined;
    const bytes = file.bytes ?? await Deno.readFile(file.path!);
    const document = readCsvMetadata(file.relativePath, new TextDecoder().decode(bytes));
    return {
      key: file.relativePath,
      value: JSON.stringify(document),
      headers: { "content-type": "application/json" },
    };
  },
});

if (import.meta.main) await processor.runFromCommandLine();
