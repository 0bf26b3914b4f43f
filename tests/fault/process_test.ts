/**
 * The user's `process` misbehaving, against the real broker: it throws, hangs past the time
 * limit (`--process-timeout`), spins in a synchronous loop, or its worker dies (an error thrown
 * from a timer, an unhandled rejection, `self.close()`, `Deno.exit()`). The run goes on, each
 * such file is recorded as failed with the reason, every other file is processed once, and the
 * dead workers are replaced.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { putFiles, type TestFile } from "../support/chunks.ts";
import { assertEveryFileOnce, processorArgs, runProcessor } from "../support/processor.ts";

const SCRIPT = "tests/fixtures/faulty_processor.ts";
const PARTITIONS = 2;

/** Each faulty file name and the words its failure's reason must contain. */
const FAULTS: Record<string, string> = {
  "throw-1.bin": "thrown on purpose by throw-1.bin",
  "hang-1.bin": "process() did not finish within 3 s",
  "spin-1.bin": "process() did not finish within 3 s",
  "timer-1.bin": "uncaught in a timer after timer-1.bin",
  "reject-1.bin": "unhandled rejection from reject-1.bin",
  "close-1.bin": "the processor's code called self.close()",
  "exit-1.bin": "the processor's code called Deno.exit(7)",
};

Deno.test("process() throwing, hanging or killing its worker: recorded as failed, the run goes on", async () => {
  await withTopic(PARTITIONS, async (topic) => {
    // Good files before, between and after the faulty ones, so that replaced workers must work.
    const files: TestFile[] = [];
    const faulty = Object.keys(FAULTS);
    for (let i = 0; i < 24; i++) {
      files.push({ path: `good-${i}.bin`, bytes: testBytes(3000 + i * 517, i) });
      if (i % 3 === 2 && faulty.length > 0) {
        const name = faulty.shift()!;
        files.push({ path: name, bytes: testBytes(2000, 100 + i) });
      }
    }
    assertEquals(faulty, [], "every fault is in the topic");
    await putFiles(topic, files, { partitions: PARTITIONS, chunkSize: 1024 });
    const out = await Deno.makeTempDir();
    const group = `faults-${crypto.randomUUID().slice(0, 8)}`;
    const started = Date.now();
    const run = await runProcessor(SCRIPT, [
      ...processorArgs(topic, out, group),
      "--workers",
      "2",
      "--process-timeout",
      "3",
      "--exit-when-idle",
      "2",
    ], 80_000);
    const seconds = (Date.now() - started) / 1000;
    assertEquals(run.code, 1, `exit 1 because files failed:\n${run.stderr}`);
    const outcome = await assertEveryFileOnce(
      out,
      topic,
      group,
      files.map((f) => f.path),
      { failed: Object.keys(FAULTS) },
    );
    for (const [path, reason] of Object.entries(FAULTS)) {
      const record = outcome.failed.find((f) => f.path === path);
      assert(record !== undefined, `"${path}" recorded as failed`);
      assert(record.error.includes(reason), `"${path}" failed with "${record.error}"`);
    }
    for (const file of files) {
      assertEquals(outcome.callsPerPath.get(file.path), 1, `"${file.path}" processed once`);
    }
    // Six workers died or were stopped (all but `throw`), each replaced by a fresh one.
    const stopped = run.stderr.match(/Worker \d stopped/g) ?? [];
    assertEquals(stopped.length, 6, run.stderr);
    assert(/Summary: 24 processed, 7 failed/.test(run.stderr), run.stderr);
    // deno-lint-ignore no-console
    console.log(`${files.length} files, 7 faults, ${seconds.toFixed(1)} s`);
  });
});
