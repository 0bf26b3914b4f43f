/**
 * The metrics endpoint (`--metrics-port`) and the per-file log lines: a real processor run
 * against the broker scraped while it works, whose log file in the output directory holds one
 * line per file, and a record processor's per-partition lag. The exposition format itself:
 * `src/command/metrics_test.ts`.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { putFiles, type TestFile } from "../support/chunks.ts";
import { freePort } from "../support/net.ts";
import { startFerry } from "../support/cli.ts";
import { withTempDir, writeTree } from "../support/files.ts";
import { processorArgs, startProcessor } from "../support/processor.ts";
import { prepareRecordRun } from "../support/records.ts";
import { waitUntil } from "../support/wait.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";

/** The samples of an exposition text by name and labels, such as `name{a="b"}`. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** One sample, matched by name and a label substring; undefined when absent. */
function sample(samples: Map<string, number>, name: string, label = ""): number | undefined {
  for (const [key, value] of samples) {
    if (key.startsWith(`${name}{`) && key.includes(label)) return value;
  }
  return undefined;
}

Deno.test("a running processor serves its metrics and logs one line per file", async () => {
  await withTopic(2, async (topic) => {
    const files: TestFile[] = [];
    for (let i = 0; i < 5; i++) {
      files.push({ path: `run/ok${i}.dat`, bytes: testBytes(20_000 + i * 1000, i) });
    }
    files.push({ path: "run/bad.dat", bytes: testBytes(5_000, 99) });
    await putFiles(topic, files, { partitions: 2, chunkSize: 8192 });
    const totalBytes = files.reduce((sum, file) => sum + file.bytes.length, 0);
    const out = await Deno.makeTempDir({ prefix: "ferry_metrics_" });
    const port = freePort();
    const { child, result } = startProcessor(SCRIPT, [
      ...processorArgs(topic, out, `metrics-${crypto.randomUUID().slice(0, 8)}`),
      "--workers",
      "1",
      "--sleep-ms",
      "300",
      "--fail-pattern",
      "bad",
      "--max-attempts",
      "1",
      "--metrics-port",
      String(port),
      "--exit-when-idle",
      "3",
    ]);
    let exited = false;
    result.finally(() => exited = true);
    const killer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    try {
      let latest = new Map<string, number>();
      let sawRunning = false;
      const scrape = async () => {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/metrics`);
          latest = parseMetrics(await response.text());
        } catch (error) {
          if (!(error instanceof TypeError)) throw error; // not listening yet
          return false;
        }
        if ((sample(latest, "ferry_files_running") ?? 0) > 0) sawRunning = true;
        return sample(latest, "ferry_files_processed_total") === 5 &&
          sample(latest, "ferry_files_failed_total") === 1;
      };
      await waitUntil(scrape, "the metrics to count 5 processed files and 1 failed", 90_000);
      assert(sawRunning, "no scrape saw a file in process()");
      assertEquals(sample(latest, "ferry_bytes_received_total"), totalBytes);
      assertEquals(sample(latest, "ferry_files_invalid_total"), 0);
      // bad.dat used up its one attempt: failed for good until retried.
      assertEquals(sample(latest, "ferry_files_failed_permanently"), 1);
      assertEquals(sample(latest, "ferry_partial_bytes"), 0, "nothing waits for chunks");
      for (const partition of [0, 1]) {
        const lag = sample(latest, "ferry_partition_lag", `partition="${partition}"`);
        assert(lag !== undefined && lag >= 0, `no lag for partition ${partition}`);
      }
      assert(
        [...latest.keys()].every((key) => key.includes(`topic="${topic}"`)),
        "every sample carries the topic label",
      );

      const run = await result;
      assertEquals(run.code, 1, `one file failed, so exit 1:\n${run.stderr}`);
      // The port is free again once the run is over.
      await Deno.listen({ hostname: "127.0.0.1", port }).close();

      // One line per file in the rotating log file in the output directory, as on the console.
      const log = await Deno.readTextFile(`${out}/.ferry/recording.log`);
      const lines = log.split("\n").filter((line) =>
        /\] ferry\.file-processor: (Processed|Failed) run\//.test(line)
      );
      assertEquals(lines.length, files.length, log);
      for (const file of files) {
        const line = lines.find((l) => l.includes(` ${file.path} (${file.bytes.length} bytes) in`));
        assert(line !== undefined, `no log line for "${file.path}":\n${log}`);
        assert(/ in \d+ ms/.test(line), line);
        assert(line.includes(file.path === "run/bad.dat" ? "[ERR]" : "[INF]"), line);
      }
      for (const line of lines) assert(run.stderr.includes(line), `not on the console: ${line}`);
    } finally {
      clearTimeout(killer);
      if (!exited) child.kill("SIGKILL");
      await result;
      await Deno.remove(out, { recursive: true });
    }
  });
});

Deno.test("a running record processor serves its metrics with each partition's lag", async () => {
  await withTopic(2, async (topic) => {
    const { events, group } = await prepareRecordRun(topic, 2, 30);
    const port = freePort();
    // Slow batches of 10: the lag of each partition shows while its records wait.
    const { child, result } = startProcessor("tests/fixtures/recording_record_processor.ts", [
      ...["--topic", topic, "--group", group, "--events-file", events, "--workers", "2"],
      ...["--max-batch", "10", "--sleep-ms", "1500", "--metrics-port", String(port)],
      ...["--status-interval", "0.5"],
    ]);
    const killer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    try {
      let latest = new Map<string, number>();
      const scrape = async () => {
        try {
          latest = parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
        } catch (error) {
          if (!(error instanceof TypeError)) throw error; // not listening yet
          return false;
        }
        return [0, 1].every((p) =>
          (sample(latest, "ferry_partition_lag", `partition="${p}"`) ?? 0) > 0
        );
      };
      await waitUntil(scrape, "a lag on both partitions", 60_000);
      for (const p of [0, 1]) {
        const lag = sample(latest, "ferry_partition_lag", `partition="${p}"`)!;
        assert(lag > 0 && lag <= 30, `partition ${p}: lag ${lag}`);
        // The same under the Kafka exporters' names, labelled with the group.
        const labels = `{group="${group}",topic="${topic}",partition="${p}"}`;
        const exporterLag = latest.get(`kafka_consumergroup_lag${labels}`);
        const offset = latest.get(`kafka_consumergroup_current_offset${labels}`);
        const end = latest.get(
          `kafka_topic_partition_current_offset{topic="${topic}",partition="${p}"}`,
        );
        assert(exporterLag !== undefined && exporterLag > 0, `kafka_consumergroup_lag${labels}`);
        assertEquals(end, 30, "the partition's end");
        assert(offset !== undefined && offset >= 0 && offset < 30, `current offset ${offset}`);
        assertEquals(exporterLag, end! - offset!, "lag = end - current offset");
      }
      assertEquals(sample(latest, "ferry_partitions_assigned"), 2);
      await waitUntil(
        async () => {
          await scrape();
          return sample(latest, "ferry_records_processed_total") === 60;
        },
        "60 records processed",
        60_000,
      );
      child.kill("SIGTERM");
      const run = await result;
      assertEquals(run.code, 0, run.stderr);
      // The status line shows the lag per partition while there is one.
      assert(/lag \d+, 2 partitions \(lag p0:\d+ p1:\d+\)/.test(run.stderr), run.stderr);
    } finally {
      clearTimeout(killer);
    }
  });
});

Deno.test("ferry upload --watch serves its metrics", async () => {
  await withTopic(1, (topic) =>
    withTempDir(async (dir) => {
      await writeTree(`${dir}/in`, { "a.txt": "hello", "b/c.txt": "metrics!" });
      const port = freePort();
      const child = startFerry([
        ...["upload", "--watch", "--upload-existing", `${dir}/in`, "--topic", topic],
        ...["-b", BOOTSTRAP, "--settle-seconds", "0.5", "--metrics-port", String(port)],
      ], { env: { XDG_STATE_HOME: `${dir}/state` } });
      let latest = new Map<string, number>();
      try {
        await waitUntil(
          async () => {
            try {
              latest = parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
            } catch (error) {
              if (!(error instanceof TypeError)) throw error; // not listening yet
              return false;
            }
            return sample(latest, "ferry_files_uploaded_total") === 2;
          },
          "two files uploaded",
          60_000,
        );
        assertEquals(sample(latest, "ferry_bytes_sent_total"), 13);
        assertEquals(sample(latest, "ferry_files_failed_total"), 0);
        // The watch's backlog: nothing waits once both are uploaded.
        assertEquals(sample(latest, "ferry_watch_backlog_files"), 0);
        assertEquals(sample(latest, "ferry_watch_settling_files"), 0);
        assert(
          [...latest.keys()].every((k) => k.includes(`processor="upload",topic="${topic}"`)),
          [...latest.keys()].join("\n"),
        );
      } finally {
        child.kill("SIGTERM");
        const out = await child.output();
        assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      }
    }));
});
