/**
 * The output disk full or not writable, against the real broker. A full disk is a real one: a
 * 4 MiB tmpfs mounted on the output directory (the test needs root to mount it, and fails
 * saying so otherwise); "not writable" is an output directory made immutable with
 * `chattr +i` (which stops root too, unlike `chmod`). Each time the processor stops with a clear
 * error, nothing is recorded as processed that `process` did not finish, no offset is committed
 * past a file that was not recorded, and once there is room again a second run processes the
 * rest: every file at least once, none recorded twice.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { committedOffsets, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { putFiles, type TestFile } from "../support/chunks.ts";
import {
  assertEveryFileOnce,
  processorArgs,
  readCalls,
  runProcessor,
} from "../support/processor.ts";
import { readTopic } from "../support/upload.ts";
import { decodeChunk } from "../../src/chunks/decode.ts";
import { relativePath } from "../../src/chunks/chunk.ts";
import { readRegistry } from "../../src/registry/registry.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";
const PARTITIONS = 2;
const CHUNK = 16 * 1024;

async function sh(command: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  assert(
    out.success,
    `${command} ${args.join(" ")} failed (this test needs root): ` +
      new TextDecoder().decode(out.stderr),
  );
}

/** A fresh tmpfs of `size` mounted on a new temporary directory. */
async function mountTmpfs(size: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ferry-full-" });
  await sh("mount", "-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir);
  return dir;
}

async function unmount(dir: string): Promise<void> {
  await sh("umount", dir);
  await Deno.remove(dir, { recursive: true });
}

function sampleFiles(count: number, size: number, seed: number): TestFile[] {
  return [...Array(count).keys()].map((i) => ({
    path: `run/f-${seed}-${i}.bin`,
    bytes: testBytes(size + i * 101, seed * 1000 + i),
  }));
}

/** Checks that every message below each committed offset belongs to a file the registry holds. */
async function assertNothingCommittedPast(
  topic: string,
  group: string,
  out: string,
  messages: number,
): Promise<number[]> {
  const committed = await committedOffsets(group, topic, PARTITIONS);
  const registry = await readRegistry(`${out}/.ferry`, topic, group);
  const settled = new Set([...registry.processed, ...registry.failed].map((r) => r.path));
  for (const message of await readTopic(topic, messages)) {
    if (message.offset >= committed[message.partition]) continue;
    const path = relativePath(decodeChunk(message.value!));
    assert(
      settled.has(path),
      `offset ${message.offset} of partition ${message.partition} (a chunk of "${path}") was ` +
        `committed (${committed[message.partition]}) but "${path}" is not recorded`,
    );
  }
  return committed;
}

/**
 * After a run the full disk stopped: it stopped before the end, every file recorded as processed
 * was given to `process`, and nothing was committed past a file not recorded (of `messages`).
 */
async function assertStoppedEarly(
  full: "disk" | "log",
  topic: string,
  group: string,
  out: string,
  calls: string,
  files: TestFile[],
  messages: number,
): Promise<void> {
  const registry = await readRegistry(`${out}/.ferry`, topic, group);
  assert(registry.processed.length < files.length, `the ${full} filled up before the end`);
  const called = new Set((await readCalls(calls)).map((c) => c.path));
  for (const record of registry.processed) {
    assert(called.has(record.path), `"${record.path}" recorded but never processed`);
  }
  const committed = await assertNothingCommittedPast(topic, group, out, messages);
  // deno-lint-ignore no-console
  console.log(
    `${full} full: ${registry.processed.length}/${files.length} recorded before it; ` +
      `committed ${committed.join(",")}`,
  );
}

function args(topic: string, out: string, group: string, calls: string, run: string): string[] {
  return [
    ...processorArgs(topic, out, group),
    "--calls-log",
    `${calls}/calls.log`,
    "--run-id",
    run,
    "--exit-when-idle",
    "2",
  ];
}

/** The second run, with room again: processes the rest, nothing recorded before is redone. */
async function finishAndCheck(
  topic: string,
  group: string,
  out: string,
  calls: string,
  files: TestFile[],
  mode: string,
): Promise<void> {
  const before = await readRegistry(`${out}/.ferry`, topic, group);
  const recorded = new Set(before.processed.map((r) => r.path));
  const run = await runProcessor(SCRIPT, [...args(topic, out, group, calls, "1"), "--mode", mode]);
  assertEquals(run.code, 0, run.stderr);
  const outcome = await assertEveryFileOnce(out, topic, group, files.map((f) => f.path), {
    callsDirs: [calls],
  });
  for (const call of await readCalls(calls)) {
    assert(
      !(call.run === "1" && recorded.has(call.path)),
      `"${call.path}" was recorded as processed and processed again`,
    );
  }
  assertEquals(outcome.processed.length, files.length);
}

Deno.test("output disk full (4 MiB tmpfs) in disk mode: clear error, nothing recorded or committed past it", async () => {
  await withTopic(PARTITIONS, async (topic) => {
    const files = sampleFiles(24, 300_000, 1); // about 7 MiB
    await putFiles(topic, files, { partitions: PARTITIONS, chunkSize: CHUNK });
    const messages = files.reduce((n, f) => n + Math.ceil(f.bytes.length / CHUNK), 0);
    const out = await mountTmpfs("4m");
    const calls = await Deno.makeTempDir();
    const group = `full-${crypto.randomUUID().slice(0, 8)}`;
    try {
      const run = await runProcessor(SCRIPT, [
        ...args(topic, out, group, calls, "0"),
        "--mode",
        "disk",
      ]);
      assertEquals(run.code, 1, run.stderr);
      assert(run.stderr.includes("No space left on device"), run.stderr);
      await assertStoppedEarly("disk", topic, group, out, calls, files, messages);
      await sh("mount", "-o", "remount,size=64m", out);
      await finishAndCheck(topic, group, out, calls, files, "disk");
    } finally {
      await unmount(out);
    }
  });
});

Deno.test("output disk full (4 MiB tmpfs) under the registry in memory mode: the run stops, nothing committed past it", async () => {
  await withTopic(PARTITIONS, async (topic) => {
    const files = sampleFiles(60, 2_000, 2);
    await putFiles(topic, files, { partitions: PARTITIONS, chunkSize: CHUNK });
    const out = await mountTmpfs("4m");
    const calls = await Deno.makeTempDir();
    const group = `full-log-${crypto.randomUUID().slice(0, 8)}`;
    try {
      // Leave four pages free: one for each log, and one more for the first to grow.
      const { stdout } = await new Deno.Command("df", { args: ["-B1", "--output=avail", out] })
        .output();
      const avail = Number(new TextDecoder().decode(stdout).split("\n")[1]);
      await Deno.writeFile(`${out}/filler`, new Uint8Array(avail - 4 * 4096));
      const run = await runProcessor(SCRIPT, [...args(topic, out, group, calls, "0")]);
      assertEquals(run.code, 1, run.stderr);
      assert(
        /Could not record the result of "[^"]+": .*No space left on device/.test(run.stderr),
        run.stderr,
      );
      await assertStoppedEarly("log", topic, group, out, calls, files, files.length);
      await Deno.remove(`${out}/filler`);
      await finishAndCheck(topic, group, out, calls, files, "memory");
    } finally {
      await unmount(out);
    }
  });
});

Deno.test("output directory not writable (chattr +i): a clear error at start, nothing committed", async () => {
  await withTopic(PARTITIONS, async (topic) => {
    const files = sampleFiles(10, 5_000, 3);
    await putFiles(topic, files, { partitions: PARTITIONS, chunkSize: CHUNK });
    const out = await Deno.makeTempDir();
    const calls = await Deno.makeTempDir();
    const group = `readonly-${crypto.randomUUID().slice(0, 8)}`;
    await sh("chattr", "+i", out);
    try {
      const run = await runProcessor(SCRIPT, [...args(topic, out, group, calls, "0")]);
      assertEquals(run.code, 1, run.stderr);
      assert(run.stderr.includes("Operation not permitted"), run.stderr);
      assert(run.stderr.includes(out), `the error names the directory:\n${run.stderr}`);
      assertEquals(await readCalls(calls), [], "nothing processed");
      assertEquals(await committedOffsets(group, topic, PARTITIONS), [-1001, -1001]);
    } finally {
      await sh("chattr", "-i", out);
    }
    await finishAndCheck(topic, group, out, calls, files, "memory");
  });
});
