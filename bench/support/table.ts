/**
 * Printing benchmark results: aligned Markdown tables (they paste into the README as they are)
 * and the ratios of each row to its group's baseline.
 *
 * @module
 */

import type { BenchRow } from "./types.ts";
import { mbPerSecond } from "./timing.ts";

/** Column alignment: left or right. */
export type Align = "l" | "r";

/** Formats rows of cells as an aligned Markdown table. */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[] = [],
): string {
  const widths = headers.map((h, i) =>
    Math.max(3, h.length, ...rows.map((r) => r[i]?.length ?? 0))
  );
  const cell = (text: string, i: number) =>
    (align[i] ?? "l") === "r" ? text.padStart(widths[i]) : text.padEnd(widths[i]);
  const line = (cells: readonly string[]) =>
    `| ${widths.map((_, i) => cell(cells[i] ?? "", i)).join(" | ")} |`;
  const rule = `|${
    widths.map((w, i) => (align[i] ?? "l") === "r" ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))
      .join("|")
  }|`;
  return [line(headers), rule, ...rows.map(line)].join("\n");
}

/** A row's MB/s (10^6 bytes per second); NaN (printed empty) for a row of times only. */
export function rowRate(row: BenchRow): number {
  return row.bytes === 0 ? NaN : mbPerSecond(row.bytes, row.seconds);
}

/**
 * A row's MB/s in its fastest run (`samples`), or `undefined` with fewer than two runs (or for
 * a row of times only).
 */
export function bestRate(row: BenchRow): number | undefined {
  if (!row.samples || row.samples.length < 2 || row.bytes === 0) return undefined;
  return mbPerSecond(row.bytes, Math.min(...row.samples));
}

/** The baseline row of `row`'s group, if the group has one. */
function baselineOf(row: BenchRow, rows: readonly BenchRow[]): BenchRow | undefined {
  return rows.find((r) => r.group === row.group && r.baseline);
}

/** `row`'s MB/s divided by its group baseline's MB/s; `undefined` without a baseline. */
export function ratioToBaseline(row: BenchRow, rows: readonly BenchRow[]): number | undefined {
  const base = baselineOf(row, rows);
  return base === undefined ? undefined : rowRate(row) / rowRate(base);
}

/**
 * A row's CPU in SHA-512 passes: its CPU seconds over those of one SHA-512 pass over the same
 * bytes in the same run; `undefined` unless both are known.
 */
export function rowPasses(row: BenchRow): number | undefined {
  return row.cpuSeconds === undefined || row.passCpuSeconds === undefined
    ? undefined
    : row.cpuSeconds / row.passCpuSeconds;
}

const fixed = (digits: number) => (value: number | undefined) =>
  value === undefined || !Number.isFinite(value) ? "" : value.toFixed(digits);

/**
 * The table of a section's rows: group, contender, MB/s, messages/s, seconds (median of the
 * runs, and their range), CPU seconds, passes (CPU over one SHA-512 pass over the same bytes,
 * {@linkcode rowPasses}), peak RSS and the ratio to the group's baseline. Columns no row fills
 * are left out.
 */
export function benchTable(rows: readonly BenchRow[]): string {
  const runs = Math.max(1, ...rows.map((r) => r.samples?.length ?? 1));
  const columns: { header: string; align: Align; value: (r: BenchRow, i: number) => string }[] = [
    {
      header: "measurement",
      align: "l",
      value: (r, i) => (i > 0 && rows[i - 1].group === r.group ? "" : r.group),
    },
    { header: "contender", align: "l", value: (r) => r.name },
    { header: "MB/s", align: "r", value: (r) => fixed(1)(rowRate(r)) },
    { header: "best MB/s", align: "r", value: (r) => fixed(1)(bestRate(r)) },
    {
      header: "msg/s",
      align: "r",
      value: (r) => r.messages === undefined ? "" : fixed(0)(r.messages / r.seconds),
    },
    {
      header: runs > 1 ? `s (median of ${runs})` : "s",
      align: "r",
      value: (r) => fixed(2)(r.seconds),
    },
    {
      header: "s (min-max)",
      align: "r",
      value: (r) =>
        r.samples && r.samples.length > 1
          ? `${Math.min(...r.samples).toFixed(2)}-${Math.max(...r.samples).toFixed(2)}`
          : "",
    },
    { header: "CPU s", align: "r", value: (r) => fixed(2)(r.cpuSeconds) },
    { header: "passes", align: "r", value: (r) => fixed(2)(rowPasses(r)) },
    {
      header: "peak RSS MiB",
      align: "r",
      value: (r) => r.peakRssBytes === undefined ? "" : fixed(0)(r.peakRssBytes / 2 ** 20),
    },
    {
      header: "vs baseline",
      align: "r",
      value: (r) => r.baseline ? "1.00 (base)" : fixed(2)(ratioToBaseline(r, rows)),
    },
  ];
  const used = columns.filter((c, index) => index < 3 || rows.some((r, i) => c.value(r, i) !== ""));
  return formatTable(
    used.map((c) => c.header),
    rows.map((r, i) => used.map((c) => c.value(r, i))),
    used.map((c) => c.align),
  );
}

/** One comparison with the baseline, for the summary. */
export interface RatioLine {
  /** The group compared in. */
  group: string;
  /** `"<row> / <baseline>"`. */
  label: string;
  /** MB/s of the row over MB/s of the baseline (median runs). */
  ratio: number;
  /** The same for the best run of each, when both had several runs. */
  bestRatio?: number;
  /** The ratio the row should reach, if it has a target. */
  target?: number;
  /** Whether the target is met (`undefined` without a target). */
  met?: boolean;
}

/** Every non-baseline row's ratio to its group's baseline. */
export function ratioLines(rows: readonly BenchRow[]): RatioLine[] {
  const out: RatioLine[] = [];
  for (const row of rows) {
    if (row.baseline) continue;
    const base = baselineOf(row, rows);
    const ratio = ratioToBaseline(row, rows);
    if (base === undefined || ratio === undefined) continue;
    const rowBest = bestRate(row);
    const baseBest = bestRate(base);
    out.push({
      group: row.group,
      label: `${row.name} / ${base.name}`,
      ratio,
      bestRatio: rowBest === undefined || baseBest === undefined ? undefined : rowBest / baseBest,
      target: row.target,
      met: row.target === undefined ? undefined : ratio >= row.target,
    });
  }
  return out;
}

/**
 * Formats {@linkcode ratioLines} as text lines: the ratio of the medians (which the target is
 * judged on), the ratio of the best runs when known, then `met`/`MISSED` for a target.
 */
export function formatRatios(lines: readonly RatioLine[], prefix = ""): string[] {
  return lines.map((l) => {
    const best = l.bestRatio === undefined ? "" : ` (best runs: ${l.bestRatio.toFixed(2)})`;
    const target = l.target === undefined
      ? ""
      : `; target >= ${l.target.toFixed(2)}: ${l.met ? "met" : "MISSED"}`;
    return `${prefix}${l.group}: ${l.label} = ${l.ratio.toFixed(2)}${best}${target}`;
  });
}
