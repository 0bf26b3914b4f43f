/**
 * `ferry status <output-dir>`: what the registry logs in `<output-dir>/.ferry` say: how many
 * files were processed, which failed (with the error and the number of attempts), which are in
 * progress. A table for people by default; `--json` prints {@linkcode OutputStatus} (schema
 * version 1) for scripts:
 *
 * ```
 * {
 *   "version": 1,
 *   "outputDir": "/abs/path",
 *   "totals": { "processed": 3, "failed": 1, "inProgress": 0 },
 *   "processors": [{
 *     "topic": "raw-data", "group": "ferry-checksum-raw-data",
 *     "files": { "processed": ".ferry/processed_from_...", "failed": "...", "inProgress": "..." },
 *     "counts": { "processed": 3, "failed": 1, "inProgress": 0 },
 *     "processed": [{ "time", "path", "sha512", "size", "partitions", "ms", "attempt" }],
 *     "failed": [{ "time", "path", "sha512", "size", "partitions", "error", "attempt", "kept" }],
 *     "inProgress": [{ "time", "path", "sha512" }]
 *   }]
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
import { UsageError } from "../../command/exit_codes.ts";
import { formatBytes } from "../../command/progress.ts";
import {
  type OutputStatus,
  type ProcessorLogStatus,
  readOutputStatus,
} from "../../registry/output_status.ts";
import type { CliContext } from "../context.ts";

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
    .summary("show what a processor's (or ferry download's) output directory logs say")
    .description(
      "Show what the registry logs in <output-dir>/.ferry say, for each topic and consumer " +
        "group that wrote there: files processed, files failed (with the error and the number " +
        "of attempts; they are retried on the next start until the attempt limit), files in " +
        "progress. Reads the logs only, so it is safe while the processor runs.",
    )
    .argument("<output-dir>", "the --output-dir of a processor or of ferry download")
    .option("--json", "print the status as JSON (schema version 1, see below)")
    .option("-a, --all", `list every processed file (default: the latest ${PROCESSED_SHOWN})`)
    .addHelpText(
      "after",
      `
JSON (--json), schema version 1 (fields may be added; none removed without a new version):
  { "version": 1, "outputDir": <absolute path>,
    "totals": { "processed": n, "failed": n, "inProgress": n },
    "processors": [ { "topic", "group", "files": { "processed", "failed", "inProgress" },
      "counts": { "processed", "failed", "inProgress" },
      "processed": [ { "time", "path", "sha512", "size", "partitions", "ms", "attempt" } ],
      "failed": [ { "time", "path", "sha512", "size", "partitions", "error", "attempt", "kept" } ],
      "inProgress": [ { "time", "path", "sha512" } ] } ] }
  Times ISO 8601; sizes in bytes; "kept": where a failed file's data is, relative to the
  output directory ("" if nowhere).

Exit status: 0 the logs were read (whatever they say); 2 the directory does not exist or holds
no Ferry logs.

Examples:
  ferry status ./downloads
  ferry status checksum-output --json | jq '.totals'`,
    )
    .action(async (outputDir: string, flags: StatusFlags) => {
      const status = await readStatus(outputDir);
      const lines = flags.json
        ? [JSON.stringify(status, null, 2)]
        : statusTable(status, { all: flags.all ?? false });
      for (const line of lines) context.print(line);
    });
}

async function readStatus(outputDir: string): Promise<OutputStatus> {
  let status: OutputStatus | undefined;
  try {
    status = await readOutputStatus(outputDir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`Output directory ${JSON.stringify(outputDir)} does not exist.`);
    }
    throw error;
  }
  if (status === undefined) {
    throw new UsageError(
      `${JSON.stringify(outputDir)} holds no Ferry logs (no .ferry/processed_from_*.jsonl): ` +
        "give the --output-dir of a processor or of ferry download.",
    );
  }
  return status;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    "  " + cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i])).join("  ");
  return [line(header), ...rows.map(line)];
}

function counts(c: { processed: number; failed: number; inProgress: number }): string {
  return `${c.processed} processed, ${c.failed} failed, ${c.inProgress} in progress`;
}

function when(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function processorLines(p: ProcessorLogStatus, all: boolean): string[] {
  const lines = [
    "",
    `Topic ${JSON.stringify(p.topic)}, group ${JSON.stringify(p.group)}: ${counts(p.counts)}`,
  ];
  if (p.failed.length > 0) {
    lines.push("", `Failed (${p.failed.length}):`);
    lines.push(...table(
      ["PATH", "SIZE", "ATTEMPTS", "LAST ATTEMPT", "ERROR"],
      p.failed.map((f) => [
        f.path,
        formatBytes(f.size),
        String(f.attempt),
        when(f.time),
        f.error.replace(/\s+/g, " "),
      ]),
    ));
  }
  if (p.inProgress.length > 0) {
    lines.push("", `In progress (${p.inProgress.length}):`);
    lines.push(...table(["PATH", "SINCE"], p.inProgress.map((s) => [s.path, when(s.time)])));
  }
  if (p.processed.length > 0) {
    const shown = all ? p.processed : p.processed.slice(-PROCESSED_SHOWN);
    const note = shown.length < p.processed.length
      ? `, the latest ${shown.length} (--all lists every one)`
      : "";
    lines.push("", `Processed (${p.processed.length}${note}):`);
    lines.push(...table(
      ["PATH", "SIZE", "ATTEMPT", "PROCESSED AT", "PROCESS MS"],
      shown.map((
        r,
      ) => [r.path, formatBytes(r.size), String(r.attempt), when(r.time), String(r.ms)]),
    ));
  }
  return lines;
}

/**
 * The human-readable status: a line of totals, then for each topic and group its counts and
 * tables of failed, in-progress and (the latest) processed files.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { statusTable } from "./status.ts";
 *
 * const lines = statusTable({
 *   version: 1, outputDir: "/out", totals: { processed: 0, failed: 1, inProgress: 0 },
 *   processors: [{
 *     topic: "raw", group: "g", files: { processed: "p", failed: "f", inProgress: "i" },
 *     counts: { processed: 0, failed: 1, inProgress: 0 }, processed: [], inProgress: [],
 *     failed: [{
 *       time: "2026-01-01T00:00:00.000Z", path: "a.bin", sha512: "00", size: 10,
 *       partitions: [0], error: "boom", attempt: 3, kept: "a.bin",
 *     }],
 *   }],
 * }, { all: false });
 * assert.equal(lines[0], "/out: 0 processed, 1 failed, 0 in progress");
 * assert.ok(lines.some((l) => /a\.bin\s+10 B\s+3\s+2026-01-01 00:00:00Z\s+boom/.test(l)));
 * ```
 *
 * @param status What the logs say.
 * @param options `all`: list every processed file, not only the latest 20.
 * @returns The lines.
 */
export function statusTable(status: OutputStatus, options: { all: boolean }): string[] {
  const lines = [`${status.outputDir}: ${counts(status.totals)}`];
  for (const p of status.processors) lines.push(...processorLines(p, options.all));
  return lines;
}
