/**
 * `ferry retry <output-dir> [path...]`: runs failed files again on demand. Files that used up
 * their attempts (`--max-attempts`) stay failed until this command gives them their attempts
 * back: it appends a line with `attempt: 0` (and `retryRequested`) for each to the failed log in
 * `<output-dir>/.ferry/`, so that the next start of the processor retries them from the data
 * kept for them. It refuses while a processor runs on the directory (its run marker in
 * `.ferry/running/`), since a running processor has read the log already. `--dry-run` says what
 * it would do and changes nothing.
 *
 * @module
 */

import { Command } from "commander";
import { join } from "node:path";
import { UsageError } from "../../command/exit_codes.ts";
import { readOutputStatus } from "../../registry/output_status.ts";
import { type FailedRecord, generationLabel } from "../../registry/registry.ts";
import { readRunMarkers } from "../../files/run_marker.ts";
import { shellQuote } from "../permissions.ts";
import { ferryInvocation } from "../invocation.ts";
import type { CliContext } from "../context.ts";

interface RetryFlags {
  dryRun?: boolean;
  topic?: string;
  group?: string;
}

/** One failed file chosen for a retry, with the log its reset goes to. */
export interface RetryChoice {
  /** The failed log, relative to the output directory. */
  log: string;
  /** The topic and group, as in the log's name. */
  topic: string;
  /** The group. */
  group: string;
  /** The failure as recorded. */
  record: FailedRecord;
}

/**
 * The failed-log line that gives a failed file its attempts back: the same record with
 * `attempt` 0, stamped with when the retry was asked for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resetLine } from "./retry.ts";
 *
 * const line = resetLine({
 *   time: "t", path: "a.csv", sha512: "00", size: 1, partitions: [0], error: "boom",
 *   attempt: 3, maxAttempts: 3, kept: ".ferry/failed/00/a.csv",
 * }, "2026-01-01T00:00:00.000Z");
 * assert.equal(line.attempt, 0);
 * assert.equal(line.retryRequested, "2026-01-01T00:00:00.000Z");
 * ```
 *
 * @param record The failure.
 * @param now When (ISO 8601).
 * @returns The line to append.
 */
export function resetLine(record: FailedRecord, now: string): FailedRecord {
  return { ...record, attempt: 0, time: now, retryRequested: now };
}

/**
 * Builds the `retry` subcommand.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRetryCommand } from "./retry.ts";
 *
 * const context = { exitCode: 0, signal: new AbortController().signal, print: () => {} };
 * assert.equal(createRetryCommand(context).name(), "retry");
 * ```
 *
 * @param context Where the action prints and reports its exit code.
 * @returns The command.
 */
export function createRetryCommand(context: CliContext): Command {
  return new Command("retry")
    .summary("run failed files again: give them their attempts back for the next start")
    .description(
      "Give failed files their attempts back, so that the next start of the processor runs " +
        "them again (from the data kept for them in the output directory). With no path, " +
        "every failed file of the directory (of --topic and --group when given); with paths, " +
        "those (relative paths, as `ferry status` lists them). Failed generations retired by " +
        "a newer processed generation are not retried. Refuses while a processor runs on the " +
        "directory: stop it, run ferry retry, start it again.",
    )
    .argument("<output-dir>", "the --output-dir of the processor (or of ferry download)")
    .argument("[path...]", "relative paths of the failed files to retry (default: all)")
    .option("--dry-run", "say what would be retried, change nothing")
    .option("--topic <topic>", "only the failures of this topic")
    .option("--group <group>", "only the failures of this consumer group")
    .addHelpText(
      "after",
      `
A file whose data was not kept ("(not kept)" in ferry status: an invalid file, or one whose
copy could not be written) gets its attempts back too, but can only run again when its
chunks are read again (uploaded again, or the whole topic reprocessed: see
docs/operations.md).

Exit status: 0 the files were given their attempts back (or, with --dry-run, would be);
1 a processor runs on the directory, or the log could not be written; 2 the directory holds
no Ferry logs, or a path given is not a failed file.

Examples:
  ferry retry ./out --dry-run
  ferry retry ./out run1/scan.tif
  ferry retry ./out --group ferry-checksum-raw-data`,
    )
    .action(async (dir: string, paths: string[], flags: RetryFlags) => {
      await retry(dir, paths, flags, context);
    });
}

async function retry(
  dir: string,
  paths: readonly string[],
  flags: RetryFlags,
  context: CliContext,
): Promise<void> {
  let status;
  try {
    status = await readOutputStatus(dir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`Output directory ${JSON.stringify(dir)} does not exist.`);
    }
    throw error;
  }
  if (status === undefined) {
    throw new UsageError(
      `${JSON.stringify(dir)} holds no Ferry registry logs (.ferry/failed_from_*.jsonl): give ` +
        "the --output-dir of a processor or of ferry download.",
    );
  }
  const processors = status.processors.filter((p) =>
    (flags.topic === undefined || p.topic === flags.topic) &&
    (flags.group === undefined || p.group === flags.group)
  );
  if (processors.length === 0) {
    throw new UsageError(
      `No logs of ${flags.topic === undefined ? "" : `topic ${JSON.stringify(flags.topic)} `}` +
        `${flags.group === undefined ? "" : `group ${JSON.stringify(flags.group)} `}in ` +
        `${JSON.stringify(dir)}: \`ferry status ${shellQuote(dir)}\` lists its topics and groups.`,
    );
  }
  const wanted = new Set(paths);
  const chosen: RetryChoice[] = [];
  const retired: string[] = [];
  for (const p of processors) {
    for (const record of p.failed) {
      if (wanted.size === 0 || wanted.has(record.path)) {
        chosen.push({ log: p.files.failed, topic: p.topic, group: p.group, record });
      }
    }
    for (const record of p.retired) if (wanted.has(record.path)) retired.push(record.path);
  }
  const found = new Set(chosen.map((c) => c.record.path));
  const missing = [...wanted].filter((path) => !found.has(path));
  if (missing.length > 0) {
    const why = missing.map((path) =>
      `${JSON.stringify(path)}${
        retired.includes(path) ? " (retired: a newer generation was processed)" : ""
      }`
    );
    throw new UsageError(
      `Not a failed file in ${JSON.stringify(dir)}: ${why.join(", ")}. \`ferry status ` +
        `${shellQuote(dir)}\` lists the failed files.`,
    );
  }
  if (chosen.length === 0) {
    context.print(`Nothing to retry: no failed file in ${JSON.stringify(dir)}.`);
    return;
  }
  if (!flags.dryRun) {
    const running = (await readRunMarkers(dir)).filter((m) =>
      m.alive !== false &&
      processors.some((p) => m.group === undefined || safe(m.group) === p.group)
    );
    if (running.length > 0) {
      const who = running.map((m) =>
        `pid ${m.pid}${m.hostname ? ` on ${JSON.stringify(m.hostname)}` : ""}` +
        `${m.group === undefined ? "" : `, group ${JSON.stringify(m.group)}`}`
      ).join("; ");
      throw new Error(
        `A processor is running on ${JSON.stringify(dir)} (${who}): stop it, run ferry retry ` +
          "again, then start it; its next start retries the files.",
      );
    }
    const now = new Date().toISOString();
    const byLog = new Map<string, FailedRecord[]>();
    for (const c of chosen) {
      const lines = byLog.get(c.log) ?? [];
      lines.push(resetLine(c.record, now));
      byLog.set(c.log, lines);
    }
    for (const [log, records] of byLog) await appendLines(join(dir, log), records);
  }
  const verb = flags.dryRun ? "Would give" : "Gave";
  context.print(
    `${verb} ${chosen.length} failed file(s) in ${JSON.stringify(dir)} their attempts back:`,
  );
  for (const c of chosen) {
    const r = c.record;
    const kept = r.kept === ""
      ? "not kept: runs again only when its chunks are read again"
      : `kept at ${r.kept}`;
    context.print(
      `  ${r.path} (${generationLabel(r)}; topic ${JSON.stringify(c.topic)}, group ` +
        `${JSON.stringify(c.group)}; ${r.attempt} attempt(s) failed; ${kept})`,
    );
  }
  if (!flags.dryRun) {
    context.print(
      "The next start of the processor (same --output-dir, --topic and --group) runs them " +
        `again; \`${ferryInvocation()} status ${shellQuote(dir)}\` shows how it went.`,
    );
  }
}

/** A group name as it appears in the log file names (see `registryFileNames`). */
function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, "_");
}

/** Appends whole lines to a log and makes them durable before returning. */
async function appendLines(path: string, records: readonly FailedRecord[]): Promise<void> {
  const text = records.map((r) => JSON.stringify(r) + "\n").join("");
  using file = await Deno.open(path, { append: true });
  const bytes = new TextEncoder().encode(text);
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
  await file.syncData();
}
