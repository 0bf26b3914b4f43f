/**
 * A processor's logs: the default log file in the output directory, `--log-level debug`
 * showing librdkafka's own lines (its `debug` contexts switched on) while `info` does not, the
 * processor's logger printing braces as written from a worker, and `--log-file` given a folder
 * or a path that cannot be written.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { putFiles } from "../support/chunks.ts";
import { withTempDir } from "../support/files.ts";
import { processorArgs, runProcessor } from "../support/processor.ts";
import { putRecords } from "../support/records.ts";

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
          /\[INF\] ferry\.file-processor: Processed a\.dat \(3000 bytes\) in \d+ ms\./.test(
            run.log,
          ),
        );
      }
    } finally {
      for (const dir of dirs) await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("a processor's logger prints braces as written, from a worker; --logger_file_path <folder>", async () => {
  await withTopic(1, async (topic) => {
    await putFiles(topic, [{ path: "a.dat", bytes: testBytes(100, 2) }]);
    const out = await Deno.makeTempDir({ prefix: "ferry_braces_" });
    const logs = await Deno.makeTempDir({ prefix: "ferry_logs_" });
    try {
      const run = await runProcessor("tests/fixtures/braces_processor.ts", [
        ...processorArgs(topic, out, `braces-${crypto.randomUUID().slice(0, 8)}`),
        "--logger_file_path",
        logs,
        "--exit-when-idle",
        "1",
      ]);
      assertEquals(run.code, 0, run.stderr);
      assert(!run.stderr.includes("    at "), `a stack trace:\n${run.stderr}`);
      // The OpenMSIStream flag names the logs folder: the log is <folder>/<processor name>.log.
      assertEquals([...Deno.readDirSync(logs)].map((e) => e.name), ["braces.log"]);
      const log = await Deno.readTextFile(`${logs}/braces.log`);
      for (const text of [run.stderr, log]) {
        assert(
          text.includes(`[INF] ferry.processor.braces: value was {"temp":21.5,"file":{"n":1}}\n`),
          text,
        );
        assert(
          text.includes(
            `[WRN] ferry.processor.braces: Partition 3 had a.dat and {missing} {{x}}\n`,
          ),
          text,
        );
      }
    } finally {
      await Deno.remove(out, { recursive: true });
      await Deno.remove(logs, { recursive: true });
    }
  });
});

Deno.test("a record processor's logger prints braces as written, from processRecords", async () => {
  await withTopic(1, async (topic) => {
    await putRecords(topic, 1, 3);
    const run = await runProcessor("tests/fixtures/braces_record_processor.ts", [
      "--topic",
      topic,
      "--group",
      `braces-${crypto.randomUUID().slice(0, 8)}`,
      "--workers",
      "1",
      "--exit-when-idle",
      "1",
    ]);
    assertEquals(run.code, 0, run.stderr);
    assert(
      run.stderr.includes(`ferry.processor.braces-records: record was {"value":"p0-0"}\n`),
      run.stderr,
    );
    assert(
      run.stderr.includes("ferry.processor.braces-records: First offset 0 of {count}\n"),
      run.stderr,
    );
  });
});

Deno.test("a log file that cannot be written: one line naming it, exit 1, no stack trace", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/plain`, "a file, not a folder");
    const run = await runProcessor("tests/fixtures/braces_processor.ts", [
      ...processorArgs("no-such-topic", `${dir}/out`),
      "--log-file",
      `${dir}/plain/run.log`,
    ], 30_000);
    assertEquals(run.code, 1, run.stderr);
    assertEquals(
      run.stderr.trim(),
      `braces: Cannot write the log file "${dir}/plain/run.log": a part of the path is not a ` +
        "folder. Give --log-file a file or folder you can write to.",
    );
  }, "ferry_badlog_");
});
