/**
 * `ferry status <output-dir>`: what the registry logs say, as a table and as JSON (schema
 * version 1), from logs written by the registry itself (with a torn last line) and by a real
 * processor run with a failing file; and its usage errors (exit 2).
 */

import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { putFiles } from "../support/chunks.ts";
import { ferry } from "../support/cli.ts";
import { withTempDir } from "../support/files.ts";
import { processorArgs, runProcessor } from "../support/processor.ts";
import { FileRegistry } from "../../src/registry/registry.ts";
import { FERRY_DIR, registryFileNames } from "../../src/files/layout.ts";
import type { OutputStatus } from "../../src/registry/output_status.ts";

const SHA_A = "a".repeat(128);
const SHA_B = "b".repeat(128);
const SHA_C = "c".repeat(128);

/** Logs as a processor leaves them: 2 processed, 1 failed twice, 1 in progress, a torn line. */
async function writeLogs(dir: string): Promise<void> {
  const registry = await FileRegistry.open(dir, "raw-data", "ferry-checksum-raw-data");
  const time = "2026-11-23T10:00:00.000Z";
  await registry.recordStarted({ time, path: "a.csv", sha512: SHA_A });
  await registry.recordProcessed({
    time,
    path: "a.csv",
    sha512: SHA_A,
    size: 1000,
    partitions: [0],
    ms: 12,
    attempt: 1,
  });
  await registry.recordProcessed({
    time,
    path: "run1/b.csv",
    sha512: SHA_B,
    size: 2048,
    partitions: [1],
    ms: 3,
    attempt: 2,
  });
  for (const attempt of [1, 2]) {
    await registry.recordFailed({
      time,
      path: "run1/bad.csv",
      sha512: SHA_C,
      size: 5,
      partitions: [2],
      error: `column 3 is not a number (attempt ${attempt})`,
      attempt,
      kept: "run1/bad.csv",
    });
  }
  await registry.recordStarted({ time, path: "big.tif", sha512: SHA_A });
  await registry.close();
  // A crash in the middle of a write leaves a torn last line: ignored.
  const names = registryFileNames("raw-data", "ferry-checksum-raw-data");
  await Deno.writeTextFile(join(dir, FERRY_DIR, names.processed), '{"time":"2026-11', {
    append: true,
  });
}

Deno.test("ferry status shows counts, failed files with reasons and attempts, and files in progress", async () => {
  await withTempDir(async (dir) => {
    await writeLogs(dir);
    const run = await ferry(["status", dir]);
    assertEquals(run.code, 0, run.stderr);
    const lines = run.stdout.split("\n");
    assertEquals(lines[0], `${dir}: 2 processed, 1 failed, 1 in progress`);
    assert(
      run.stdout.includes(
        'Topic "raw-data", group "ferry-checksum-raw-data": 2 processed, 1 failed, 1 in progress',
      ),
      run.stdout,
    );
    const failed = lines.find((l) => l.includes("run1/bad.csv"));
    assert(failed !== undefined, run.stdout);
    assert(
      /run1\/bad\.csv\s+5 B\s+2\s+2026-11-23 10:00:00Z\s+column 3 is not a number \(attempt 2\)/
        .test(failed),
      failed,
    );
    assert(/big\.tif\s+2026-11-23 10:00:00Z/.test(run.stdout), run.stdout);
    assert(/run1\/b\.csv\s+2\.0 KiB\s+2\s/.test(run.stdout), run.stdout);

    const json = await ferry(["status", dir, "--json"]);
    assertEquals(json.code, 0, json.stderr);
    const status = JSON.parse(json.stdout) as OutputStatus;
    assertEquals(status.version, 1);
    assertEquals(status.outputDir, dir);
    assertEquals(status.totals, { processed: 2, failed: 1, inProgress: 1 });
    const [p] = status.processors;
    assertEquals([p.topic, p.group], ["raw-data", "ferry-checksum-raw-data"]);
    assertEquals(p.counts, status.totals);
    assertEquals(p.processed.map((r) => [r.path, r.size, r.attempt]), [
      ["a.csv", 1000, 1],
      ["run1/b.csv", 2048, 2],
    ]);
    assertEquals(p.failed.map((f) => [f.path, f.attempt, f.error, f.kept]), [
      ["run1/bad.csv", 2, "column 3 is not a number (attempt 2)", "run1/bad.csv"],
    ]);
    assertEquals(p.inProgress.map((s) => s.path), ["big.tif"]);
    assert(p.files.failed.startsWith(".ferry/failed_from_raw-data_by_"), p.files.failed);
  });
});

Deno.test("ferry status lists the latest 20 processed files unless --all", async () => {
  await withTempDir(async (dir) => {
    const registry = await FileRegistry.open(dir, "t", "g");
    for (let i = 0; i < 25; i++) {
      await registry.recordProcessed({
        time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
        path: `f${String(i).padStart(2, "0")}.bin`,
        sha512: String(i),
        size: i,
        partitions: [0],
        ms: 1,
        attempt: 1,
      });
    }
    await registry.close();
    const some = await ferry(["status", dir]);
    assertEquals(some.code, 0, some.stderr);
    assert(
      some.stdout.includes("Processed (25, the latest 20 (--all lists every one))"),
      some.stdout,
    );
    assert(!some.stdout.includes("f04.bin") && some.stdout.includes("f05.bin"), some.stdout);
    const all = await ferry(["status", dir, "--all"]);
    assert(all.stdout.includes("f00.bin") && all.stdout.includes("f24.bin"), all.stdout);
  });
});

Deno.test("ferry status reads what a real processor run recorded, including a failed file", async () => {
  await withTopic(2, async (topic) => {
    await withTempDir(async (dir) => {
      await putFiles(topic, [
        { path: "ok/one.bin", bytes: testBytes(40_000, 61) },
        { path: "bad/two.bin", bytes: testBytes(1000, 62) },
      ]);
      const out = join(dir, "out");
      const run = await runProcessor("tests/fixtures/recording_processor.ts", [
        ...processorArgs(topic, out),
        "--fail-pattern",
        "^bad/",
        "--max-attempts",
        "1",
        "--exit-when-idle=1",
      ]);
      assertEquals(run.code, 1, run.stderr); // a file failed
      const json = await ferry(["status", out, "--json"]);
      assertEquals(json.code, 0, json.stderr);
      const status = JSON.parse(json.stdout) as OutputStatus;
      assertEquals(status.totals, { processed: 1, failed: 1, inProgress: 0 });
      assertEquals(status.processors[0].group, `ferry-recording-${topic}`);
      assertEquals(status.processors[0].processed.map((r) => r.path), ["ok/one.bin"]);
      const [failed] = status.processors[0].failed;
      assertEquals([failed.path, failed.attempt], ["bad/two.bin", 1]);
      assert(failed.error.includes("refusing bad/two.bin as asked"), failed.error);
    });
  });
});

Deno.test("ferry status: a missing directory, one without Ferry logs, or no argument exit 2", async () => {
  await withTempDir(async (dir) => {
    const missing = await ferry(["status", join(dir, "nope")]);
    assertEquals(missing.code, 2);
    assert(missing.stderr.includes(`"${join(dir, "nope")}" does not exist`), missing.stderr);
    await Deno.writeTextFile(join(dir, "file.txt"), "not a directory");
    await Deno.mkdir(join(dir, ".ferry"));
    await Deno.writeTextFile(join(dir, ".ferry", "upload_to_t.jsonl"), "{}\n");
    for (const target of [dir, join(dir, "file.txt")]) {
      const none = await ferry(["status", target, "--json"]);
      assertEquals(none.code, 2, none.stderr);
      assert(none.stderr.includes("holds no Ferry logs"), none.stderr);
      assertEquals(none.stdout, "");
    }
    const noArg = await ferry(["status"]);
    assertEquals(noArg.code, 2);
    assert(noArg.stderr.includes("missing required argument"), noArg.stderr);
    const bogus = await ferry(["status", dir, "--bogus"]);
    assertEquals(bogus.code, 2);
  });
});
