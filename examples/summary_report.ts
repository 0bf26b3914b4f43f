/**
 * Example: turns the summary example's results (`<output-dir>/summary.jsonl`) into a table on
 * the terminal and a self-contained HTML report, `<output-dir>/report.html`, with a line plot
 * of every CSV column and a picture of every detector frame (inline SVG, nothing to download).
 *
 *     deno run --allow-read --allow-write examples/summary_report.ts summary-output
 *
 * Exit status 0 with a report, 1 when there are no results, 2 for a bad command line.
 *
 * @module
 */

import { join, resolve } from "node:path";
import type { FileSummary, FrameSummary } from "./summarize.ts";

/** Reads the results file: one summary per path (the last line wins), sorted by path. */
export async function readSummaries(resultsFile: string): Promise<FileSummary[]> {
  const byPath = new Map<string, FileSummary>();
  const text = await Deno.readTextFile(resultsFile);
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const summary = JSON.parse(line) as FileSummary;
    byPath.set(summary.path, summary);
  }
  return [...byPath.values()].sort((a, b) => a.path.localeCompare(b.path));
}

/** A size in bytes as people read it: `512 B`, `31.9 KiB`, `1.2 MiB`. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function round(value: number): string {
  if (value !== 0 && (Math.abs(value) < 0.01 || Math.abs(value) >= 1e6)) {
    return value.toExponential(2);
  }
  return String(Math.round(value * 100) / 100);
}

/** One short line saying what is in a file. */
export function describe(summary: FileSummary): string {
  const { csv, frame } = summary;
  if (csv) {
    const first = Object.keys(csv.plot.ys)[0];
    const shape = `${csv.rows} rows × ${csv.columns.length} cols`;
    const stat = csv.stats.find((s) => s.name === first);
    if (first === undefined || !stat) return shape;
    const range = `${shape}; ${first} ${round(stat.min)}–${round(stat.max)}`;
    return stat.maxAt === undefined
      ? range
      : `${range}, peak at ${csv.plot.x} ${round(stat.maxAt)}`;
  }
  if (frame) {
    return `${frame.width}×${frame.height} frame #${frame.frameNumber}, ${frame.exposureMs} ms, ` +
      `${round(frame.detectorTempC)} °C; pixels ${frame.min}–${frame.max}, mean ${
        round(frame.mean)
      }`;
  }
  if (summary.kind === "json") {
    return `${summary.lines} lines; keys ${(summary.jsonKeys ?? []).join(", ")}`;
  }
  if (summary.kind === "text") return `${summary.lines} lines`;
  return "binary";
}

/** The summaries as an aligned plain-text table (header, rule, one row per file, total). */
export function formatTable(summaries: readonly FileSummary[]): string {
  const rows = summaries.map((s) => [
    s.path,
    s.kind,
    formatSize(s.size),
    s.sha256.slice(0, 12),
    describe(s),
  ]);
  const header = ["File", "Kind", "Size", "SHA-256", "Contents"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) =>
      i === cells.length - 1 ? c : i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i])
    ).join("  ");
  const total = summaries.reduce((sum, s) => sum + s.size, 0);
  return [
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    `${summaries.length} files, ${formatSize(total)}`,
  ].join("\n");
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];

/** An SVG line plot of `ys` against `xs`, with its range written on the axes. */
function linePlot(
  title: string,
  xLabel: string,
  xs: number[],
  ys: number[],
  color: string,
): string {
  const width = 420, height = 180, left = 56, right = 10, top = 22, bottom = 30;
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x: number) => left + ((x - x0) / (x1 - x0 || 1)) * (width - left - right);
  const sy = (y: number) => height - bottom - ((y - y0) / (y1 - y0 || 1)) * (height - top - bottom);
  const points = xs.map((x, i) => `${sx(x).toFixed(1)},${sy(ys[i]).toFixed(1)}`).join(" ");
  return `<svg class="plot" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"` +
    ` role="img" aria-label="${escapeHtml(title)}">` +
    `<text x="${left}" y="14" class="title">${escapeHtml(title)}</text>` +
    `<rect x="${left}" y="${top}" width="${width - left - right}" ` +
    `height="${height - top - bottom}" class="frame"/>` +
    `<polyline points="${points}" fill="none" stroke="${color}" stroke-width="1.3"/>` +
    `<text x="${left - 4}" y="${top + 8}" text-anchor="end">${round(y1)}</text>` +
    `<text x="${left - 4}" y="${height - bottom}" text-anchor="end">${round(y0)}</text>` +
    `<text x="${left}" y="${height - 12}">${round(x0)}</text>` +
    `<text x="${width - right}" y="${height - 12}" text-anchor="end">${round(x1)}</text>` +
    `<text x="${(left + width) / 2}" y="${height - 4}" text-anchor="middle">` +
    `${escapeHtml(xLabel)}</text></svg>`;
}

/**
 * A picture of a frame's thumbnail as an uncompressed 24-bit BMP data URL (every browser shows
 * it; no encoder needed), grey levels scaled from its darkest to its brightest block.
 */
function framePicture(frame: FrameSummary): string {
  const { width, height, values } = frame.thumbnail;
  const low = Math.min(...values);
  const span = Math.max(...values) - low || 1;
  const rowBytes = Math.ceil((width * 3) / 4) * 4;
  const bytes = new Uint8Array(54 + rowBytes * height);
  const view = new DataView(bytes.buffer);
  bytes.set([0x42, 0x4d]); // "BM"
  view.setUint32(2, bytes.length, true);
  view.setUint32(10, 54, true); // pixel data offset
  view.setUint32(14, 40, true); // BITMAPINFOHEADER size
  view.setInt32(18, width, true);
  view.setInt32(22, -height, true); // negative: rows top to bottom
  view.setUint16(26, 1, true); // planes
  view.setUint16(28, 24, true); // bits per pixel
  view.setUint32(34, rowBytes * height, true);
  values.forEach((v, i) => {
    const g = Math.round(Math.sqrt((v - low) / span) * 255);
    const at = 54 + Math.floor(i / width) * rowBytes + (i % width) * 3;
    bytes.set([g, g, g], at);
  });
  const base64 = btoa(String.fromCharCode(...bytes));
  return `<img src="data:image/bmp;base64,${base64}" width="${width * 6}" ` +
    `height="${height * 6}" alt="frame ${frame.frameNumber}" class="frame">`;
}

/** The whole HTML report. */
export function renderReport(summaries: readonly FileSummary[], title: string): string {
  const rows = summaries.map((s) =>
    `<tr><td>${escapeHtml(s.path)}</td><td>${s.kind}</td>` +
    `<td class="num">${formatSize(s.size)}</td><td><code>${s.sha256.slice(0, 16)}</code></td>` +
    `<td>${escapeHtml(describe(s))}</td></tr>`
  ).join("\n");
  const sections: string[] = [];
  for (const s of summaries) {
    if (s.csv && Object.keys(s.csv.plot.ys).length > 0) {
      const plots = Object.entries(s.csv.plot.ys).map(([name, ys], i) =>
        linePlot(name, s.csv!.plot.x, s.csv!.plot.xs, ys, COLORS[i % COLORS.length])
      ).join("\n");
      const meta = Object.entries(s.csv.metadata).map(([k, v]) =>
        `${escapeHtml(k)}: ${escapeHtml(v)}`
      ).join(" · ");
      sections.push(
        `<section><h2>${escapeHtml(s.path)}</h2>` +
          (meta ? `<p class="meta">${meta}</p>` : "") +
          `<div class="plots">${plots}</div></section>`,
      );
    }
  }
  const frames = summaries.filter((s) => s.frame).map((s) =>
    `<figure>${framePicture(s.frame!)}<figcaption>${escapeHtml(s.path)}<br>` +
    `${s.frame!.exposureMs} ms, ${round(s.frame!.detectorTempC)} °C, ` +
    `${escapeHtml(s.frame!.detectorId)}</figcaption></figure>`
  ).join("\n");
  if (frames) {
    sections.push(`<section><h2>Detector frames</h2><div class="plots">${frames}</div></section>`);
  }
  const total = summaries.reduce((sum, s) => sum + s.size, 0);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 14px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; }
td.num { text-align: right; white-space: nowrap; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
svg.plot text { font-size: 11px; fill: #555; }
svg.plot text.title { font-size: 12px; fill: #222; font-weight: 600; }
svg.plot rect.frame { fill: none; stroke: #bbb; }
figure { margin: 0; font-size: 12px; }
img.frame { image-rendering: pixelated; }
.meta { color: #666; font-size: 13px; }
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p>${summaries.length} files, ${
    formatSize(total)
  }, summarized by <code>examples/summary.ts</code>.</p>
<table><thead><tr><th>File</th><th>Kind</th><th>Size</th><th>SHA-256</th><th>Contents</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${sections.join("\n")}
</body></html>
`;
}

/**
 * Writes the report for the results in `outputDir` and returns the table and the report's path.
 *
 * @param outputDir The summary processor's output directory.
 * @param resultsFile The results file's name in it.
 * @returns The table text, the report's path, and the summaries.
 */
export async function writeReport(
  outputDir: string,
  resultsFile = "summary.jsonl",
): Promise<{ table: string; reportPath: string; summaries: FileSummary[] }> {
  const summaries = await readSummaries(join(outputDir, resultsFile));
  const reportPath = resolve(outputDir, "report.html");
  await Deno.writeTextFile(reportPath, renderReport(summaries, "Ferry summary report"));
  return { table: formatTable(summaries), reportPath, summaries };
}

if (import.meta.main) {
  const [outputDir, resultsFile] = Deno.args;
  if (outputDir === undefined || outputDir.startsWith("-")) {
    // deno-lint-ignore no-console
    console.error("Usage: summary_report.ts <output-dir> [results-file (default summary.jsonl)]");
    Deno.exit(2);
  }
  try {
    const { table, reportPath } = await writeReport(outputDir, resultsFile);
    // deno-lint-ignore no-console
    console.log(`${table}\n\nReport: ${reportPath}`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    // deno-lint-ignore no-console
    console.error(
      `No results in "${join(outputDir, resultsFile ?? "summary.jsonl")}": run ` +
        "examples/summary.ts with this --output-dir first.",
    );
    Deno.exit(1);
  }
}
