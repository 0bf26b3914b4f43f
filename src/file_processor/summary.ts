/**
 * The lines a file processor logs when it ends: the summary of its counters, and the files that
 * stay failed, listed in every run's summary so that they never go quiet (those that used up
 * their attempts until `ferry retry`, and those retried on the next start). Apart from the
 * runner because it is what a user reads of a run, worded in one place.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { type FailedRecord, generationLabel } from "../registry/registry.ts";
import { formatBytes, roundSeconds } from "../command/progress.ts";
import type { RunStatus } from "./run_state.ts";

const logger = getLogger(["ferry", "file-processor"]);

/** How many files failed for good are named one by one. */
const SHOWN = 20;

/**
 * Logs a finished run's summary, then the files that stay failed.
 *
 * @param failed the registry's failed files.
 * @param settings the run's `--max-attempts` and output directory.
 */
export function logRunSummary(
  status: RunStatus,
  failed: readonly FailedRecord[],
  settings: { maxAttempts: number; outputDir: string },
): void {
  // "malformed" here: chunks that could not be used; the metric counts every skipped message.
  logger.info(
    "Summary: {processed} processed, {failed} failed, {invalid} invalid, {skipped} skipped, " +
      "{filtered} chunks filtered, {notChunks} messages that were not chunks, " +
      "{malformedChunks} malformed messages, {abandoned} incomplete files abandoned, " +
      "{size} in {seconds} s.",
    {
      ...status,
      malformedChunks: status.malformed - status.notChunks,
      size: formatBytes(status.bytes),
      seconds: roundSeconds(status.seconds),
    },
  );
  logFailedFiles(status, failed, settings);
}

/**
 * Lists the files that stay failed in every run's summary, so that they never go quiet: those
 * that used up their attempts (until `ferry retry`), and those retried on the next start.
 */
function logFailedFiles(
  status: RunStatus,
  failed: readonly FailedRecord[],
  { maxAttempts: max, outputDir }: { maxAttempts: number; outputDir: string },
): void {
  const givenUp = failed.filter((f) => f.attempt >= max);
  const pending = failed.length - givenUp.length;
  if (status.retired > 0) {
    logger.info(
      "{retired} failed generation(s) retired: a newer generation of the same path was " +
        "processed.",
      { retired: status.retired },
    );
  }
  if (failed.length === 0) return;
  logger.error(
    "{count} file(s) failed and not processed since ({givenUp} used up --max-attempts " +
      "{max}, {pending} retried on the next start); `ferry status {outputDir}` lists them, " +
      "`ferry retry {outputDir}` runs them again.",
    { count: failed.length, givenUp: givenUp.length, pending, max, outputDir },
  );
  for (const f of givenUp.slice(0, SHOWN)) {
    logger.error("Failed for good: {path} ({generation}, {attempt} attempt(s)): {error}", {
      path: f.path,
      generation: generationLabel(f),
      attempt: f.attempt,
      error: f.error,
    });
  }
  if (givenUp.length > SHOWN) {
    logger.error("… and {more} more failed for good.", { more: givenUp.length - SHOWN });
  }
}
