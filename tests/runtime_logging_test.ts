/**
 * A processor's logs: the default log file in the output directory, and `--log-level debug`
 * showing librdkafka's own lines (its `debug` contexts switched on) while `info` does not.
 */

import { assert, assertEquals } from "./support/assert.ts";
import { withTopic } from "./support/broker.ts";
import { putFiles, testBytes } from "./support/chunks.ts";
import { processorArgs, runProcessor } from "./support/processor.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";

function rdkafkaDebugLines(text: string): string[] {
  return text.split("\n").filter((line) => /\[DBG\] ferry\.rdkafka: /.test(line));
}

Deno.test("--log-level debug shows librdkafka's lines; info does not", async () => {
  await withTopic(1, async (topic) => {
    await putFiles(topic, [{ path: "a.dat", bytes: testBytes(3000, 1) }]);
    const dirs: string[] = [];
    try {
      const runs: Record<string, { stderr: string; log: string }> = {};
      for (const level of ["info", "debug"]) {
        const out = await Deno.makeTempDir({ prefix: "ferry_logging_" });
        dirs.push(out);
        const run = await runProcessor(SCRIPT, [
          ...processorArgs(topic, out, `logging-${level}-${crypto.randomUUID().slice(0, 8)}`),
          "--log-level",
          level,
          "--exit-when-idle",
          "1",
        ]);
        assertEquals(run.code, 0, run.stderr);
        runs[level] = {
          stderr: run.stderr,
          log: await Deno.readTextFile(`${out}/.ferry/recording.log`),
        };
      }
      assertEquals(rdkafkaDebugLines(runs.info.stderr), [], "librdkafka debug lines at info");
      const debug = rdkafkaDebugLines(runs.debug.stderr);
      assert(debug.length > 0, `no librdkafka lines at debug:\n${runs.debug.stderr}`);
      // The consumer-group context is on: its state changes are logged.
      assert(debug.some((line) => line.includes("CGRP")), debug.join("\n"));
      // The log file gets the same lines as the console.
      assert(rdkafkaDebugLines(runs.debug.log).length > 0, "no librdkafka lines in the log file");
      for (const run of Object.values(runs)) {
        assert(
          /\[INF\] ferry\.runtime: Processed "a\.dat" \(3000 bytes\) in \d+ ms\./.test(run.log),
        );
      }
    } finally {
      for (const dir of dirs) await Deno.remove(dir, { recursive: true });
    }
  });
});
