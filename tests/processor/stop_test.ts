/**
 * Stopping a file processor with SIGTERM, against the real broker with real processes: no file
 * starts its `process` call after the signal (neither from the pool's queue nor one sent ahead
 * to a worker), the running calls finish and are recorded, the files not started are read
 * again on the next start, the exit code is 0 whatever failed earlier, and `--stop-grace`
 * bounds the wait (past it: exit 1, the unfinished file read again).
 */

import { assert, assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { putFiles, type TestFile } from "../support/chunks.ts";
import {
  assertEveryFileOnce,
  killIfRunning,
  processorArgs,
  readCalls,
  runProcessor,
  startProcessor,
} from "../support/processor.ts";
import { waitUntil } from "../support/wait.ts";
import { readRegistry } from "../../src/registry/registry.ts";
import { FERRY_DIR } from "../../src/files/layout.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";
const WORKERS = 2;
/** How long each `process` call takes in the first run of the first test. */
const CALL_MS = 2000;

function group(): string {
  return `stop-${crypto.randomUUID().slice(0, 8)}`;
}

function sampleFiles(count: number, prefix = "f"): TestFile[] {
  return Array.from({ length: count }, (_, i) => ({
    path: `${prefix}${String(i).padStart(2, "0")}.dat`,
    bytes: testBytes(1500 + i * 97, i + 1),
  }));
}

/** The start times the fixture noted with `--starts-log` (whole lines only). */
async function readStarts(path: string): Promise<{ path: string; at: number }[]> {
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return text.split("\n").slice(0, -1).map((line) => {
    const [path, at] = line.split("\t");
    return { path, at: Number(at) };
  });
}

/**
 * Whether now is well inside the running calls: every worker busy with a call started at
 * least 300 ms ago and ending no sooner than 600 ms from now. A file starting after a signal
 * sent now can then only be one the stop let start, not one already on its way.
 */
function midCall(starts: readonly { at: number }[], now: number): boolean {
  const running = starts.map((s) => now - s.at).filter((age) => age < CALL_MS);
  return running.length >= WORKERS && running.every((age) => age >= 300 && age <= CALL_MS - 600);
}

async function registry(out: string, topic: string, group: string) {
  return await readRegistry(`${out}/${FERRY_DIR}`, topic, group);
}

Deno.test("SIGTERM: no file starts after the signal, the running ones finish, exit 0, the rest next start", async () => {
  await withTopic(2, async (topic) => {
    const files = sampleFiles(24);
    await putFiles(topic, files, { partitions: 2, chunkSize: 1024 });
    const root = await Deno.makeTempDir({ prefix: "ferry-stop-" });
    const out = `${root}/out`;
    const starts = `${root}/starts.log`;
    const g = group();
    const processor = startProcessor(SCRIPT, [
      ...processorArgs(topic, out, g),
      ...["--workers", String(WORKERS), "--sleep-ms", String(CALL_MS), "--run-id", "1"],
      ...["--starts-log", starts],
    ], { timeoutMs: 60_000 });
    let startedBefore: string[] = [];
    let signalAt = 0;
    try {
      await waitUntil(
        async () => midCall(await readStarts(starts), Date.now()),
        "both workers in the middle of a call",
        30_000,
      );
      startedBefore = (await readStarts(starts)).map((s) => s.path);
      signalAt = Date.now();
      processor.child.kill("SIGTERM");
    } finally {
      if (signalAt === 0) killIfRunning(processor.child);
    }
    const run = await processor.result;
    const stopSeconds = (Date.now() - signalAt) / 1000;
    assertEquals(run.code, 0, run.stderr);
    const late = (await readStarts(starts)).filter((s) => s.at >= signalAt);
    assertEquals(late.map((s) => s.path), [], "files that started after the signal");
    const first = await registry(out, topic, g);
    // The calls running at the signal finished and were recorded; nothing else was.
    assertEquals(first.processed.map((r) => r.path).sort(), [...startedBefore].sort());
    assert(startedBefore.length < files.length, `only ${startedBefore.length} files started`);
    assert(stopSeconds < 6, `exited ${stopSeconds.toFixed(1)} s after SIGTERM:\n${run.stderr}`);
    assert(/file\(s\) not started because of the stop/.test(run.stderr), run.stderr);

    const second = await runProcessor(SCRIPT, [
      ...processorArgs(topic, out, g),
      ...["--workers", String(WORKERS), "--run-id", "2", "--exit-when-idle", "2"],
    ], 60_000);
    assertEquals(second.code, 0, second.stderr);
    const outcome = await assertEveryFileOnce(out, topic, g, files.map((f) => f.path));
    for (const file of files) {
      assertEquals(outcome.callsPerPath.get(file.path), 1, `"${file.path}" processed once`);
    }
    const calls = await readCalls(out);
    assertEquals(calls.filter((c) => c.run === "1").length, startedBefore.length);
    // deno-lint-ignore no-console
    console.log(
      `${startedBefore.length} of ${files.length} files started before SIGTERM; ` +
        `exited ${stopSeconds.toFixed(1)} s after it`,
    );
    await Deno.remove(root, { recursive: true });
  });
});

Deno.test("SIGTERM after a failed file: exit 0, the failure stays recorded", async () => {
  await withTopic(1, async (topic) => {
    const files = [...sampleFiles(2, "good"), ...sampleFiles(1, "bad")];
    await putFiles(topic, files, { chunkSize: 1024 });
    const out = await Deno.makeTempDir({ prefix: "ferry-stop-failed-" });
    const g = group();
    const processor = startProcessor(SCRIPT, [
      ...processorArgs(topic, out, g),
      ...["--workers", String(WORKERS), "--fail-pattern", "^bad"],
    ], { timeoutMs: 60_000 });
    try {
      await waitUntil(
        async () => {
          const r = await registry(out, topic, g);
          return r.processed.length === 2 && r.failed.length === 1;
        },
        "two files processed and one failed",
        30_000,
      );
    } catch (error) {
      killIfRunning(processor.child);
      throw error;
    }
    processor.child.kill("SIGTERM");
    const run = await processor.result;
    assertEquals(run.code, 0, `a planned stop exits 0 after a failed file:\n${run.stderr}`);
    assert(/Summary: 2 processed, 1 failed/.test(run.stderr), run.stderr);
    const r = await registry(out, topic, g);
    assertEquals(r.failed.map((f) => f.path), ["bad00.dat"]);
    await Deno.remove(out, { recursive: true });
  });
});

Deno.test("--stop-grace 1 with a 20 s process(): exit 1 at once, the file is processed next start", async () => {
  await withTopic(1, async (topic) => {
    const files = sampleFiles(1, "slow");
    await putFiles(topic, files, { chunkSize: 1024 });
    const out = await Deno.makeTempDir({ prefix: "ferry-stop-grace-" });
    const g = group();
    const processor = startProcessor(SCRIPT, [
      ...processorArgs(topic, out, g),
      ...["--sleep-ms", "20000", "--stop-grace", "1", "--run-id", "1"],
    ], { timeoutMs: 60_000 });
    try {
      await waitUntil(async () => (await readCalls(out)).length === 1, "process() started", 30_000);
    } catch (error) {
      killIfRunning(processor.child);
      throw error;
    }
    const signalAt = Date.now();
    processor.child.kill("SIGTERM");
    const run = await processor.result;
    const stopSeconds = (Date.now() - signalAt) / 1000;
    assertEquals(run.code, 1, `the grace ran out with a call running:\n${run.stderr}`);
    assert(stopSeconds < 6, `exited ${stopSeconds.toFixed(1)} s after SIGTERM:\n${run.stderr}`);
    assert(
      /stop grace of 1 s ran out with 1 process\(\) call\(s\) still running/.test(run.stderr),
      run.stderr,
    );
    assert(/will be read again on the next start/.test(run.stderr), run.stderr);
    assertEquals((await registry(out, topic, g)).processed, [], "not recorded as processed");

    const second = await runProcessor(SCRIPT, [
      ...processorArgs(topic, out, g),
      ...["--run-id", "2", "--exit-when-idle", "2"],
    ], 60_000);
    assertEquals(second.code, 0, second.stderr);
    const outcome = await assertEveryFileOnce(out, topic, g, ["slow00.dat"]);
    assertEquals(outcome.callsPerPath.get("slow00.dat"), 2, "given up once, then processed");
    await Deno.remove(out, { recursive: true });
  });
});
