/**
 * Heartbeats and log lines to Kafka topics (`--heartbeat-topic`, `--log-topic`, and
 * OpenMSIStream's `--heartbeat_topic_name`, `--log_topic_name`...) from every run type: a file
 * processor, a record processor, `ferry download` and `ferry upload`, against the real broker.
 * The messages are read back from their topics and their fields checked: keys
 * `<program id>_heartbeat` and `<program id>_log`, UTC ISO timestamps, counts since the previous
 * heartbeat that add up to the run's, a final heartbeat, warnings and errors (and only those,
 * unless `[log]` sets `log.level`) with their category; the `[heartbeat]` and `[log]` sections
 * of the config file are read (their OpenMSIStream-only keys too).
 */

import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { putFiles, type TestFile } from "../support/chunks.ts";
import { ferry } from "../support/cli.ts";
import { withTempDir, writeTree } from "../support/files.ts";
import { processorArgs, runProcessor, startProcessor } from "../support/processor.ts";
import { prepareRecordRun } from "../support/records.ts";
import { readTopic } from "../support/upload.ts";
import { waitUntil } from "../support/wait.ts";
import type { HeartbeatValue } from "../../src/command/heartbeat.ts";
import type { LogTopicValue } from "../../src/command/log_topic.ts";

const decoder = new TextDecoder();

/** The messages of a topic as key and parsed JSON value, in offset order. */
async function readJson<T>(
  topic: string,
  count: number,
): Promise<{ key: string; value: T }[]> {
  const messages = await readTopic(topic, count, { timeoutMs: 20_000 });
  return messages
    .sort((a, b) => a.offset - b.offset)
    .map((m) => ({
      key: decoder.decode(m.key ?? new Uint8Array()),
      value: JSON.parse(decoder.decode(m.value ?? new Uint8Array())) as T,
    }));
}

/** A UTC ISO 8601 time, as `Date.toISOString` writes it, within the last `withinMs`. */
function assertRecentIso(text: string, withinMs = 300_000): void {
  assert(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(text), `not a UTC ISO time: ${text}`);
  const age = Date.now() - Date.parse(text);
  assert(age >= -5000 && age < withinMs, `time ${text} is not recent`);
}

/** Checks heartbeats of one program: keys, times in order, one final, counts adding up. */
function checkHeartbeats(
  beats: { key: string; value: HeartbeatValue }[],
  programId: string,
  program: string,
): HeartbeatValue[] {
  const values = beats.filter((b) => b.key === `${programId}_heartbeat`).map((b) => b.value);
  assert(values.length >= 2, `expected a first and a final heartbeat, got ${values.length}`);
  for (const [i, value] of values.entries()) {
    assertEquals(value.program_id, programId);
    assertEquals(value.program, program);
    assertRecentIso(value.timestamp);
    assertRecentIso(value.since);
    assert(value.since <= value.timestamp, "since comes before the timestamp");
    if (i > 0) assertEquals(value.since, values[i - 1].timestamp, "each counts from the last");
  }
  assertEquals(values.filter((v) => v.final).length, 1, "one final heartbeat");
  assert(values.at(-1)!.final === true, "the final heartbeat is the last");
  return values;
}

function sum(values: readonly HeartbeatValue[], field: keyof HeartbeatValue): number {
  return values.reduce((total, v) => total + Number(v[field] ?? 0), 0);
}

Deno.test("a file processor sends heartbeats and its errors to Kafka topics", async () => {
  await withTopic(2, (topic) =>
    withTopic(1, (heartbeats) =>
      withTopic(1, async (logs) => {
        const files: TestFile[] = [];
        for (let i = 0; i < 4; i++) {
          files.push({ path: `run/ok${i}.dat`, bytes: testBytes(30_000 + i, i) });
        }
        files.push({ path: "run/bad.dat", bytes: testBytes(4_000, 9) });
        await putFiles(topic, files, { partitions: 2, chunkSize: 8192 });
        const total = files.reduce((n, f) => n + f.bytes.length, 0);
        await withTempDir(async (out) => {
          const run = await runProcessor("tests/fixtures/recording_processor.ts", [
            ...processorArgs(topic, `${out}/out`),
            ...["--fail-pattern", "bad", "--max-attempts", "1", "--exit-when-idle", "2"],
            ...["--status-interval", "0.5", "--heartbeat-topic", heartbeats],
            ...["--heartbeat-interval", "1", "--heartbeat-program-id", "fp-1"],
            // OpenMSIStream's spellings.
            ...["--log_topic_name", logs, "--log_interval_secs", "1", "--log_program_id", "fp-1"],
          ]);
          assertEquals(run.code, 1, `one file failed:\n${run.stderr}`);
          const values = checkHeartbeats(await readJson(heartbeats, 2), "fp-1", "recording");
          assertEquals(sum(values, "files"), 4, JSON.stringify(values));
          assertEquals(sum(values, "failures"), 1);
          assertEquals(sum(values, "bytes"), total);
          assertEquals(sum(values, "n_bytes_read"), total, "OpenMSIStream's name for the bytes");
          // While it runs, the lag (0 once caught up, during --exit-when-idle's 2 s); the final
          // heartbeat, sent once the consumer closed, says null (not known).
          assert(
            values.some((v) => v.lag === 0),
            `no heartbeat with lag 0: ${JSON.stringify(values)}`,
          );
          assert(values.every((v) => v.lag === null || (typeof v.lag === "number" && v.lag >= 0)));

          const logMessages = await readJson<LogTopicValue>(logs, 1);
          assert(logMessages.length >= 1, "no log message");
          const entries = logMessages.flatMap((m) => {
            assertEquals(m.key, "fp-1_log");
            assertEquals(m.value.program_id, "fp-1");
            assertEquals(typeof m.value.timestamp, "number", "Unix seconds, as OpenMSIStream's");
            assertEquals(m.value.messages.length, m.value.entries.length);
            return m.value.entries;
          });
          const failed = entries.find((e) => e.message.includes("run/bad.dat"));
          assert(failed !== undefined, `no entry for the failed file: ${JSON.stringify(entries)}`);
          assertEquals(failed.level, "error");
          assertEquals(failed.category, "ferry.file-processor");
          assertRecentIso(failed.timestamp);
          assert(
            entries.every((e) => e.level === "warning" || e.level === "error"),
            `only warnings and errors by default: ${JSON.stringify(entries)}`,
          );
          assert(
            logMessages.some((m) => m.value.messages.some((line) => line.includes("[ERR]"))),
            "the lines as the console shows them",
          );
        });
      })));
});

Deno.test("a record processor and ferry download send heartbeats counted since the last one", async () => {
  await withTopic(2, (topic) =>
    withTopic(1, (heartbeats) =>
      withTopic(1, async (logs) => {
        const { events, group } = await prepareRecordRun(topic, 2, 40);
        // Offset 5 of each partition fails and is skipped: 78 records processed, 2 failures.
        const { child, result } = startProcessor("tests/fixtures/recording_record_processor.ts", [
          ...["--topic", topic, "--group", group, "--events-file", events, "--max-batch", "10"],
          ...["--sleep-ms", "100", "--status-interval", "0.3"],
          ...["--fail-offset", "5", "--record-error", "--error-policy", "skip", "--retries", "1"],
          ...["--heartbeat_topic_name", heartbeats, "--heartbeat_interval_secs", "0.5"],
          ...["--heartbeat_program_id", "rp-1", "--log-topic", logs, "--log-interval", "0.5"],
        ], { timeoutMs: 120_000 });
        // Stop once several heartbeats went out and every record is counted.
        await waitUntil(
          async () => {
            const beats = (await readJson<HeartbeatValue>(heartbeats, 3)).map((b) => b.value);
            return sum(beats, "records") + sum(beats, "failures") >= 80 && beats.length >= 3;
          },
          "heartbeats counting 80 records",
          90_000,
        );
        child.kill("SIGTERM");
        const run = await result;
        assertEquals(run.code, 0, run.stderr);
        assert(run.stderr.includes("Summary: 78 records"), run.stderr);
        const values = checkHeartbeats(await readJson(heartbeats, 4), "rp-1", "recording-records");
        assertEquals(sum(values, "records"), 78, JSON.stringify(values));
        assertEquals(sum(values, "failures"), 2, "the two skipped records");
        assertEquals(sum(values, "n_messages_processed"), 78, "OpenMSIStream's name for records");
        assert(values.length >= 4, "heartbeats came every interval, not only at the start and end");
        assert(values.every((v) => v.lag === null || typeof v.lag === "number"));
        assert(values.some((v) => typeof v.lag === "number"), "the lag while it runs");
        assert(values.every((v) => v.files === undefined), "a record processor counts records");
        // The lines of the user's code (logged in its workers) and of the run reach the topic.
        const entries = (await readJson<LogTopicValue>(logs, 1)).flatMap((m) => m.value.entries);
        for (const category of ["ferry.processor.recording-records", "ferry.record-processor"]) {
          assertEquals(
            entries.filter((e) => e.category === category && e.message.includes("poison")).length,
            2,
            `${category}: ${JSON.stringify(entries)}`,
          );
        }
      })));
  // ferry download, with its program id by default (<name>@<host name>).
  await withTopic(1, (topic) =>
    withTopic(1, async (heartbeats) => {
      const files = [{ path: "a/one.bin", bytes: testBytes(20_000, 3) }];
      await putFiles(topic, files);
      await withTempDir(async (dir) => {
        const run = await ferry([
          ...["download", "--topic", topic, "--output-dir", `${dir}/out`, "-b", BOOTSTRAP],
          ...["--exit-when-idle", "2", "--heartbeat-topic", heartbeats],
        ]);
        assertEquals(run.code, 0, run.stderr);
        const beats = await readJson<HeartbeatValue>(heartbeats, 2);
        const programId = `download@${Deno.hostname()}`;
        const values = checkHeartbeats(beats, programId, "download");
        assertEquals(sum(values, "files"), 1);
        assertEquals(sum(values, "bytes"), 20_000);
      });
    }));
});

Deno.test("ferry upload sends heartbeats and, with log.level in [log], its info lines", async () => {
  await withTopic(1, (topic) =>
    withTopic(1, (heartbeats) =>
      withTopic(1, async (logs) => {
        await withTempDir(async (dir) => {
          await writeTree(`${dir}/data`, { "x.txt": "hello", "sub/y.txt": "world!" });
          const config = `${dir}/ferry.config`;
          await Deno.writeTextFile(
            config,
            `[broker]\nbootstrap.servers = ${BOOTSTRAP}\n` +
              "[heartbeat]\nlinger.ms = 5\nprefer.separate.producer = True\n" +
              "[log]\nlog.level = info\nmax.logs.per.message = 100\n",
          );
          const run = await ferry([
            ...["upload", `${dir}/data`, "--topic", topic, "--config", config],
            ...["--heartbeat-topic", heartbeats, "--heartbeat-program-id", "up-1"],
            ...["--log-topic", logs, "--log-program-id", "up-1"],
          ], { env: { XDG_STATE_HOME: `${dir}/state` } });
          assertEquals(run.code, 0, run.stderr);
          assert(!run.stderr.includes("Ignoring section"), run.stderr);
          const values = checkHeartbeats(await readJson(heartbeats, 2), "up-1", "upload");
          assertEquals(sum(values, "files"), 2);
          assertEquals(sum(values, "bytes"), 11);
          assertEquals(sum(values, "n_bytes_produced"), 11, "OpenMSIStream's name");
          assert(values.every((v) => v.lag === undefined), "an upload has no lag");
          const entries = (await readJson<LogTopicValue>(logs, 1)).flatMap((m) => m.value.entries);
          for (const path of ["x.txt", "sub/y.txt"]) {
            assert(
              entries.some((e) => e.level === "info" && e.message.includes(`Uploaded ${path}`)),
              `no info line for ${path}: ${JSON.stringify(entries)}`,
            );
          }
        });
      })));
});
