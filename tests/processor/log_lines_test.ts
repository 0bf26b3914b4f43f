/**
 * What a file processor's log lines read like, through the real processor and broker: numbers
 * unquoted and sizes in decimal units (MB = 10^6 bytes) in the summary; a topic of plain records
 * said once, with what to do, and counted; malformed chunks warned about a few at a time per
 * kind, the rest counted in one line.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { encodeChunkUnchecked, fileChunks, putFiles, putMessages } from "../support/chunks.ts";
import { putRecords } from "../support/records.ts";
import { processorArgs, readCalls, runProcessor } from "../support/processor.ts";
import { formatBytes } from "../../src/command/progress.ts";
import { WARNINGS_PER_KIND } from "../../src/file_processor/intake.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";

/** Runs the recording processor over `topic` until idle, in a fresh folder and group. */
async function runOver(topic: string, ...more: string[]) {
  const out = await Deno.makeTempDir({ prefix: "ferry_lines_" });
  const group = `lines-${crypto.randomUUID().slice(0, 8)}`;
  const run = await runProcessor(SCRIPT, [
    ...processorArgs(topic, out, group),
    "--exit-when-idle",
    "1",
    ...more,
  ]);
  return { out, run };
}

/** The lines of `stderr` at a level (`WRN`, `INF`) that contain `text`. */
function linesWith(stderr: string, level: string, text: string): string[] {
  return stderr.split("\n").filter((line) => line.includes(`[${level}]`) && line.includes(text));
}

Deno.test("a file processor's summary shows plain numbers and MB, and its partitions unquoted", async () => {
  await withTopic(1, async (topic) => {
    const files = [
      { path: "run1/a.dat", bytes: testBytes(1_500_000, 1) },
      { path: "run1/b c.dat", bytes: testBytes(700_000, 2) },
    ];
    await putFiles(topic, files, { chunkSize: 512 * 1024 });
    const { out, run } = await runOver(topic);
    try {
      assertEquals(run.code, 0, run.stderr);
      assertEquals((await readCalls(out)).length, 2, run.stderr);
      const [summary] = linesWith(run.stderr, "INF", "Summary:");
      assert(summary !== undefined, run.stderr);
      assert(!summary.includes('"'), `quotes in the summary: ${summary}`);
      const total = files.reduce((sum, f) => sum + f.bytes.length, 0);
      assertEquals(formatBytes(total), "2.2 MB");
      assert(
        new RegExp(
          "Summary: 2 processed, 0 failed, 0 invalid, 0 skipped, 0 chunks filtered, 0 messages " +
            "that were not chunks, 0 malformed messages, 0 incomplete files abandoned, 2\\.2 MB " +
            "in \\d+(\\.\\d)? s\\.$",
        ).test(summary),
        summary,
      );
      assert(!/MiB|KiB/.test(run.stderr), run.stderr);
      assert(run.stderr.includes(`Assigned partitions 0 of ${topic} (`), run.stderr);
      assert(run.stderr.includes("Processed run1/b c.dat (700000 bytes) in "), run.stderr);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  });
});

Deno.test("a file processor on a topic of 300 plain records: one warning naming defineRecordProcessor, the rest counted, exit 0", async () => {
  await withTopic(1, async (topic) => {
    await putRecords(topic, 1, 300);
    const { out, run } = await runOver(topic);
    try {
      // Nothing failed: the records are skipped (and committed past), not errors of a file.
      assertEquals(run.code, 0, run.stderr);
      const warnings = linesWith(run.stderr, "WRN", "");
      assertEquals(warnings.length, 1, run.stderr);
      assert(
        warnings[0].includes(`Skipping message at ${topic} partition 0 offset 0: not a file chunk`),
        warnings[0],
      );
      assert(warnings[0].includes("defineRecordProcessor"), warnings[0]);
      assert(warnings[0].includes("--topic"), warnings[0]);
      const [summary] = linesWith(run.stderr, "INF", "Summary:");
      assert(
        summary?.includes(
          "0 processed, 0 failed, 0 invalid, 0 skipped, 0 chunks filtered, " +
            "300 messages that were not chunks, 0 malformed messages,",
        ),
        run.stderr,
      );
      assertEquals(await readCalls(out), []);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  });
});

Deno.test("malformed chunks of one kind: a few warnings, then one line with how many more", async () => {
  await withTopic(1, async (topic) => {
    const [base] = fileChunks({ path: "x.bin", bytes: testBytes(64, 1) });
    const count = WARNINGS_PER_KIND + 7;
    const hostile = Array.from(
      { length: count },
      (_, i) => encodeChunkUnchecked({ ...base, subdir: `../escape-${i}` }),
    );
    await putMessages(topic, hostile);
    const { out, run } = await runOver(topic);
    try {
      assertEquals(run.code, 0, run.stderr);
      const skipped = linesWith(run.stderr, "WRN", "Skipping message at");
      assertEquals(skipped.length, WARNINGS_PER_KIND, run.stderr);
      for (const line of skipped) assert(/unsafe|well-formed/.test(line), line);
      const more = linesWith(run.stderr, "WRN", "… and ");
      assertEquals(more.length, 1, run.stderr);
      assert(
        more[0].endsWith(
          "ferry.file-processor: … and 7 more messages skipped for an unsafe path (each logged " +
            "at --log-level debug).",
        ),
        more[0],
      );
      const [summary] = linesWith(run.stderr, "INF", "Summary:");
      assert(summary?.includes(`0 messages that were not chunks, ${count} malformed`), summary);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  });
});
