/**
 * `ferry status <dir>`: what the registry logs say, as a table and as JSON (schema version 1),
 * from logs written by the registry itself (with a torn last line) and by a real processor run
 * with a failing file (where it is kept); whether a process seems to be running (run markers,
 * fresh logs); the upload logs of an uploaded folder (state folder and an earlier `.ferry/`);
 * its output into a closed pipe; and its usage errors (exit 2).
 */

import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { putFiles } from "../support/chunks.ts";
import { CLI, ferry } from "../support/cli.ts";
import { withTempDir, writeTree } from "../support/files.ts";
import { processorArgs, runProcessor } from "../support/processor.ts";
import { shell } from "../support/shell.ts";
import { FileRegistry } from "../../src/registry/registry.ts";
import { FERRY_DIR, registryFileNames, runMarkerPath } from "../../src/files/layout.ts";
import { writeRunMarker } from "../../src/files/run_marker.ts";
import type { FolderStatus } from "../../src/cli/commands/status.ts";

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
    // The logs were just written, and no process recorded itself.
    assert(/^Running: probably: the logs were written \d+ s ago/.test(lines[1]), lines[1]);
    assert(
      run.stdout.includes(
        'Topic "raw-data", group "ferry-checksum-raw-data": 2 processed, 1 failed, 1 in progress',
      ),
      run.stdout,
    );
    const failed = lines.find((l) => l.includes("run1/bad.csv"));
    assert(failed !== undefined, run.stdout);
    assert(
      /run1\/bad\.csv\s+sha512 [0-9a-f]{12}\s+5 B\s+2\s+2026-11-23 10:00:00Z\s+run1\/bad\.csv\s+column 3 is not a number \(attempt 2\)/
        .test(failed),
      failed,
    );
    assert(/big\.tif\s+sha512 [0-9a-f]{12}\s+2026-11-23 10:00:00Z/.test(run.stdout), run.stdout);
    assert(/run1\/b\.csv\s+sha512 [0-9a-f]{12}\s+2\.0 kB\s+2\s/.test(run.stdout), run.stdout);
    assert(run.stdout.includes("KEPT AT"), run.stdout);

    const json = await ferry(["status", dir, "--json"]);
    assertEquals(json.code, 0, json.stderr);
    const status = JSON.parse(json.stdout) as FolderStatus;
    assertEquals(status.version, 1);
    assertEquals(status.outputDir, dir);
    assertEquals(status.totals, { processed: 2, failed: 1, inProgress: 1, retired: 0 });
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
    assertEquals(status.activity.running, "likely");
    assertEquals(status.uploads, []);
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
      const status = JSON.parse(json.stdout) as FolderStatus;
      assertEquals(status.totals, { processed: 1, failed: 1, inProgress: 0, retired: 0 });
      assertEquals(status.processors[0].group, `ferry-recording-${topic}`);
      assertEquals(status.processors[0].processed.map((r) => r.path), ["ok/one.bin"]);
      const [failed] = status.processors[0].failed;
      assertEquals([failed.path, failed.attempt], ["bad/two.bin", 1]);
      assert(failed.error.includes("refusing bad/two.bin as asked"), failed.error);
      // Where the failed file's data is kept, in the table too (not only in --json).
      assert(failed.kept !== "", "memory mode keeps a failed file's bytes");
      const table = await ferry(["status", out]);
      const row = table.stdout.split("\n").find((l) => l.includes("bad/two.bin"));
      assert(row !== undefined && row.includes(failed.kept), table.stdout);
    });
  });
});

Deno.test("ferry status: a missing directory, one without Ferry logs, or no argument exit 2", async () => {
  await withTempDir(async (dir) => {
    const env = { XDG_STATE_HOME: join(dir, "state") };
    const missing = await ferry(["status", join(dir, "nope")], { env });
    assertEquals(missing.code, 2);
    assert(missing.stderr.includes(`"${join(dir, "nope")}" does not exist`), missing.stderr);
    await Deno.mkdir(join(dir, "empty", ".ferry"), { recursive: true });
    await Deno.writeTextFile(join(dir, "file.txt"), "not a directory");
    for (const target of [join(dir, "empty"), join(dir, "file.txt")]) {
      const none = await ferry(["status", target, "--json"], { env });
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

Deno.test("ferry status says whether a process runs: its run marker, one left by a crash, or old logs", async () => {
  await withTempDir(async (dir) => {
    const registry = await FileRegistry.open(dir, "raw", "g");
    await registry.recordProcessed({
      time: "2026-01-01T00:00:00.000Z",
      path: "a.bin",
      sha512: "00",
      size: 1,
      partitions: [0],
      ms: 1,
      attempt: 1,
    });
    await registry.close();
    // Logs an hour old, no marker: probably not running.
    const old = new Date(Date.now() - 3600_000);
    for await (const entry of Deno.readDir(join(dir, FERRY_DIR))) {
      await Deno.utime(join(dir, FERRY_DIR, entry.name), old, old);
    }
    const idle = await ferry(["status", dir]);
    assertEquals(idle.code, 0, idle.stderr);
    assert(
      idle.stdout.split("\n")[1].startsWith(
        "Running: probably not: the logs were written 60 min ago",
      ),
      idle.stdout,
    );

    // A process that recorded itself and still runs (this one).
    {
      await using _marker = await writeRunMarker(dir, {
        name: "checksum",
        topic: "raw",
        group: "g",
      });
      const running = await ferry(["status", dir]);
      assert(
        running.stdout.includes(
          `Running: yes, pid ${Deno.pid} (processor "checksum", topic "raw", group "g"), started `,
        ),
        running.stdout,
      );
      const json = JSON.parse((await ferry(["status", dir, "--json"])).stdout) as FolderStatus;
      assertEquals(json.activity.running, "yes");
      assertEquals(json.activity.processes.map((p) => [p.pid, p.alive]), [[Deno.pid, true]]);
    }

    // A marker whose process is gone (kill -9 leaves it): named, and not running.
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    const file = runMarkerPath(Deno.hostname(), gone.pid);
    await Deno.writeTextFile(
      join(dir, file),
      JSON.stringify({
        pid: gone.pid,
        hostname: Deno.hostname(),
        startedAt: "2026-01-01T00:00:00.000Z",
        exec: Deno.execPath(),
        name: "checksum",
      }),
    );
    const crashed = await ferry(["status", dir]);
    assert(
      crashed.stdout.includes(`Running: not pid ${gone.pid} (processor "checksum"), started `) &&
        crashed.stdout.includes(`is gone without removing ${file}`),
      crashed.stdout,
    );
    const json = JSON.parse((await ferry(["status", dir, "--json"])).stdout) as FolderStatus;
    assertEquals(json.activity.running, "no");
  });
});

Deno.test("ferry status of an uploaded folder counts the files its upload logs record", async () => {
  await withTopic(1, async (topic) => {
    await withTempDir(async (dir) => {
      const env = { XDG_STATE_HOME: join(dir, "state") };
      const data = join(dir, "data");
      await writeTree(data, { "a.txt": "alpha", "b/c.txt": "gamma", "empty.txt": "" });
      const up = await ferry(["upload", data, "-t", topic, "-b", BOOTSTRAP, "-q"], { env });
      assertEquals(up.code, 0, up.stderr);
      // An earlier Ferry's log inside the folder, for another topic: read too, and marked.
      await writeTree(data, {
        ".ferry/upload_to_old-topic.jsonl":
          '{"event":"done","path":"x.bin","size":1,"mtime":1,"sha512":"ab","chunks":1,"chunkSize":9}\n' +
          '{"event":"start","path":"y.bin","size":9,"mtime":1,"sha512":"cd","chunks":4,"chunkSize":9}\n' +
          '{"event":"acked","path":"y.bin","sha512":"cd","acked":[1,2]}\n',
      });
      const run = await ferry(["status", data], { env });
      assertEquals(run.code, 0, run.stderr);
      const lines = run.stdout.split("\n");
      assertEquals(lines[0], `${data}: 4 file(s) uploaded to 2 topic(s)`);
      assert(
        run.stdout.includes(`Topic "${topic}": 3 file(s) uploaded (1 empty, nothing sent)`),
        run.stdout,
      );
      assert(run.stdout.includes(`log: ${join(dir, "state", "ferry", "uploads")}/`), run.stdout);
      assert(
        run.stdout.includes(
          'Topic "old-topic": 1 file(s) uploaded (0 empty, nothing sent), 1 unfinished',
        ),
        run.stdout,
      );
      assert(/y\.bin\s+2 of 4/.test(run.stdout), run.stdout);
      assert(run.stdout.includes("(kept by an earlier Ferry"), run.stdout);
      const json = JSON.parse(
        (await ferry(["status", data, "--json"], { env })).stdout,
      ) as FolderStatus;
      assertEquals(json.processors, []);
      assertEquals(
        json.uploads.map((u) => [u.topic, u.legacy, u.uploaded, u.empty, u.partial.length]),
        [[topic, false, 3, 1, 0], ["old-topic", true, 1, 0, 1]],
      );
    });
  });
});

Deno.test("ferry status into a closed pipe (| head -1) ends quietly with status 0", async () => {
  await withTempDir(async (dir) => {
    const registry = await FileRegistry.open(dir, "t", "g");
    for (let i = 0; i < 3000; i++) {
      await registry.recordProcessed({
        time: "2026-01-01T00:00:00.000Z",
        path: `run/file-${String(i).padStart(5, "0")}.bin`,
        sha512: String(i),
        size: i,
        partitions: [0],
        ms: 1,
        attempt: 1,
      });
    }
    await registry.close();
    // About 250 KB of output: far more than a pipe holds once head has gone.
    for (const args of ["--all", "--all --json"]) {
      const run = await shell(`deno run -A ${CLI} status ${dir} ${args} | head -1`, { cwd: dir });
      assertEquals([run.code, run.stderr], [0, ""], args);
      assertEquals(
        run.stdout,
        args.includes("json") ? "{\n" : `${dir}: 3000 processed, 0 failed, 0 in progress\n`,
      );
    }
    const help = await shell(`deno run -A ${CLI} status --help | true`, { cwd: dir });
    assertEquals([help.code, help.stderr], [0, ""]);
  });
});
