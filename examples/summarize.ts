/**
 * What the summary example computes for one file: size and SHA-256 for every file; rows,
 * columns, per-column statistics and a thinned-out series to plot for CSV; header fields, pixel
 * statistics and a thumbnail for FRM1 detector frames; lines (and top-level keys) for text and
 * JSON.
 *
 * @module
 */

import { type FrameHeader, framePixels, parseFrameHeader } from "./frame_format.ts";

/** Minimum, maximum and mean of one numeric CSV column. */
export interface ColumnStats {
  /** The column's name from the header row. */
  name: string;
  /** Smallest value. */
  min: number;
  /** Largest value. */
  max: number;
  /** Mean value. */
  mean: number;
  /** The first column's value in the row of the largest value (where the peak is). */
  maxAt?: number;
}

/** What a CSV file holds. */
export interface CsvSummary {
  /** Data rows (not counting the header and `#` lines). */
  rows: number;
  /** The column names. */
  columns: string[];
  /** `key: value` pairs from `#` comment lines before the header. */
  metadata: Record<string, string>;
  /** Statistics of the numeric columns. */
  stats: ColumnStats[];
  /** At most {@linkcode PLOT_POINTS} rows for a plot: the first column against the others. */
  plot: { x: string; xs: number[]; ys: Record<string, number[]> };
}

/** What a detector frame holds. */
export interface FrameSummary extends FrameHeader {
  /** Smallest pixel value. */
  min: number;
  /** Largest pixel value. */
  max: number;
  /** Mean pixel value. */
  mean: number;
  /** Block means, at most {@linkcode THUMBNAIL_SIZE} on a side, row by row. */
  thumbnail: { width: number; height: number; values: number[] };
}

/** One line of the summary example's results file. */
export interface FileSummary {
  /** The path relative to the upload root. */
  path: string;
  /** Size in bytes. */
  size: number;
  /** SHA-256, lowercase hex. */
  sha256: string;
  /** What the file was recognised as. */
  kind: "csv" | "frame" | "json" | "text" | "binary";
  /** Lines, for text files (CSV and JSON included). */
  lines?: number;
  /** For CSV files. */
  csv?: CsvSummary;
  /** For FRM1 frames. */
  frame?: FrameSummary;
  /** Top-level keys, for JSON objects. */
  jsonKeys?: string[];
}

/** Most rows kept for a CSV file's plot. */
export const PLOT_POINTS = 240;

/** Largest side of a frame's thumbnail. */
export const THUMBNAIL_SIZE = 32;

/**
 * Summarizes a file.
 *
 * @example
 * ```ts
 * import { summarize } from "./summarize.ts";
 *
 * const csv = new TextEncoder().encode("# unit: C\nt,temp\n0,20\n1,22\n");
 * const summary = await summarize("log.csv", csv);
 * console.assert(summary.kind === "csv" && summary.csv?.stats[1].max === 22);
 * ```
 *
 * @param path The file's relative path (its extension picks CSV parsing).
 * @param bytes The file's content.
 * @returns The summary.
 */
export async function summarize(
  path: string,
  bytes: Uint8Array<ArrayBuffer>,
): Promise<FileSummary> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const base: FileSummary = {
    path,
    size: bytes.length,
    sha256: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""),
    kind: "binary",
  };
  const header = parseFrameHeader(bytes);
  if (header) return { ...base, kind: "frame", frame: summarizeFrame(bytes, header) };
  const text = decodeText(bytes);
  if (text === undefined) return base;
  const lines = text.length === 0 ? 0 : text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  const lower = path.toLowerCase();
  if (lower.endsWith(".csv")) {
    const csv = summarizeCsv(text);
    if (csv) return { ...base, kind: "csv", lines, csv };
  }
  if (lower.endsWith(".json")) {
    try {
      const value: unknown = JSON.parse(text);
      const keys = value !== null && typeof value === "object" && !Array.isArray(value)
        ? Object.keys(value)
        : [];
      return { ...base, kind: "json", lines, jsonKeys: keys };
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      // Not valid JSON: summarized as plain text below.
    }
  }
  return { ...base, kind: "text", lines };
}

/** The content as UTF-8 text, or `undefined` for binary content (invalid UTF-8 or NUL bytes). */
function decodeText(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    if (error instanceof TypeError) return undefined;
    throw error;
  }
}

function summarizeCsv(text: string): CsvSummary | undefined {
  const metadata: Record<string, string> = {};
  const rows: string[][] = [];
  let columns: string[] | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      const match = /^#\s*([^:]+):\s*(.*)$/.exec(line);
      if (match && columns === undefined) metadata[match[1].trim()] = match[2].trim();
      continue;
    }
    const cells = line.split(",").map((c) => c.trim());
    if (columns === undefined) columns = cells;
    else rows.push(cells);
  }
  if (columns === undefined) return undefined;
  const numeric = columns.map((_, i) => rows.every((r) => r[i] !== "" && isFinite(Number(r[i]))));
  const stats: ColumnStats[] = [];
  columns.forEach((name, i) => {
    if (!numeric[i] || rows.length === 0) return;
    let min = Infinity, max = -Infinity, sum = 0, maxRow = rows[0];
    for (const row of rows) {
      const v = Number(row[i]);
      min = Math.min(min, v);
      if (v > max) [max, maxRow] = [v, row];
      sum += v;
    }
    const mean = sum / rows.length;
    stats.push({ name, min, max, mean, ...(numeric[0] ? { maxAt: Number(maxRow[0]) } : {}) });
  });
  const step = Math.max(1, Math.ceil(rows.length / PLOT_POINTS));
  const kept = rows.filter((_, i) => i % step === 0 || i === rows.length - 1);
  const ys: Record<string, number[]> = {};
  if (numeric[0]) {
    columns.forEach((name, i) => {
      if (i > 0 && numeric[i]) ys[name] = kept.map((r) => Number(r[i]));
    });
  }
  return {
    rows: rows.length,
    columns,
    metadata,
    stats,
    plot: { x: columns[0], xs: numeric[0] ? kept.map((r) => Number(r[0])) : [], ys },
  };
}

function summarizeFrame(bytes: Uint8Array, header: FrameHeader): FrameSummary {
  const pixels = framePixels(bytes, header);
  let min = Infinity, max = -Infinity, sum = 0;
  for (const v of pixels) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
  }
  const block = Math.max(1, Math.ceil(Math.max(header.width, header.height) / THUMBNAIL_SIZE));
  const width = Math.ceil(header.width / block);
  const height = Math.ceil(header.height / block);
  const values: number[] = [];
  for (let by = 0; by < height; by++) {
    for (let bx = 0; bx < width; bx++) {
      let total = 0, count = 0;
      for (let y = by * block; y < Math.min(header.height, (by + 1) * block); y++) {
        for (let x = bx * block; x < Math.min(header.width, (bx + 1) * block); x++) {
          total += pixels[y * header.width + x];
          count++;
        }
      }
      values.push(Math.round(total / count));
    }
  }
  return {
    ...header,
    min,
    max,
    mean: pixels.length === 0 ? 0 : Math.round((sum / pixels.length) * 100) / 100,
    thumbnail: { width, height, values },
  };
}
