/**
 * A file run's closing lines (`logRunSummary`): the counters, then the files that stay failed,
 * those that used up their attempts named (at most 20), the rest counted as retried.
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import { captureLogs, formatLines } from "../../tests/support/logs.ts";
import { logRunSummary } from "./summary.ts";
import type { RunStatus } from "./run_state.ts";
import type { FailedRecord } from "../registry/registry.ts";

const status: RunStatus = {
  processed: 7,
  failed: 2,
  invalid: 0,
  skipped: 1,
  filtered: 0,
  malformed: 3,
  notChunks: 1,
  abandoned: 0,
  inProgress: 0,
  running: 0,
  bytes: 2048,
  seconds: 1.5,
  lag: undefined,
  stopped: false,
  givenUp: 0,
  failedFiles: 0,
  retired: 0,
};

function failed(path: string, attempt: number): FailedRecord {
  return {
    time: "2026-01-01T00:00:00Z",
    path,
    sha512: "ab".repeat(64),
    size: 1,
    partitions: [0],
    error: "boom",
    attempt,
    kept: `kept/${path}`,
  };
}

Deno.test("the summary counts the run, and no failed-file lines without failures", async () => {
  const lines = formatLines(
    await captureLogs(() => logRunSummary(status, [], { maxAttempts: 3, outputDir: "/out" })),
  );
  assertEquals(lines.length, 1);
  assert(lines[0].includes("7 processed, 2 failed"), lines[0]);
  assert(lines[0].includes("1 messages that were not chunks, 2 malformed messages"), lines[0]);
});

Deno.test("files failed for good are named, at most 20, the others counted", async () => {
  const records = [failed("pending.dat", 1)];
  for (let i = 0; i < 22; i++) records.push(failed(`bad-${i}.dat`, 3));
  const lines = formatLines(
    await captureLogs(() =>
      logRunSummary({ ...status, retired: 1 }, records, { maxAttempts: 3, outputDir: "/out" })
    ),
  );
  assert(lines[1].includes("1 failed generation(s) retired"), lines[1]);
  assert(lines[2].includes("23 file(s) failed and not processed since (22 used up"), lines[2]);
  assert(lines[2].includes("1 retried on the next start"), lines[2]);
  assertEquals(lines.filter((l) => l.includes("Failed for good: bad-")).length, 20);
  assert(!lines.some((l) => l.includes("pending.dat")));
  assert(lines.at(-1)!.includes("… and 2 more failed for good."), lines.at(-1));
});
