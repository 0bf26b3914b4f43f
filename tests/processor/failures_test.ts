/**
 * Failures that never go quiet, against the real broker and real processes: a file that used
 * up its attempts is listed in every run's summary and by `ferry status`, keeps the exit code
 * at 1, gets `onFailure` called once (not once per attempt), and is run again by `ferry retry`;
 * and in memory mode a file whose worker died mid-file is read again and processed on the next
 * start (nothing kept, so its offsets were not committed).
 */

import { assert, assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { putFiles } from "../support/chunks.ts";
import { ferry } from "../support/cli.ts";
import {
  processorArgs,
  readCalls,
  runProcessor,
  startProcessor,
  stopProcessor,
} from "../support/processor.ts";
import { waitUntil } from "../support/wait.ts";
import { testBytes } from "../support/bytes.ts";
import { readRegistry } from "../../src/registry/registry.ts";
import { FAILED_DIR, FERRY_DIR, RUNNING_DIR } from "../../src/files/layout.ts";

const SCRIPT = "tests/fixtures/failing_processor.ts";
const text = (s: string) => new TextEncoder().encode(s);

async function lines(path: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

async function entries(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

Deno.test("a file that used up its attempts: summary, status, exit 1 every run, onFailure once, ferry retry, then processed", async () => {
  await withTopic(1, async (topic) => {
    await putFiles(topic, [
      { path: "good-1.bin", bytes: testBytes(5000, 1) },
      { path: "run/bad.bin", bytes: text("FAIL: the instrument was still writing") },
      { path: "good-2.bin", bytes: testBytes(7000, 2) },
    ], { chunkSize: 1024 });
    const out = await Deno.makeTempDir();
    const group = `failures-${crypto.randomUUID().slice(0, 8)}`;
    const args = [
      ...processorArgs(topic, out, group),
      "--max-attempts",
      "2",
      "--exit-when-idle",
      "1",
    ];

    // Run 1: attempt 1 fails; retried on the next start, so not given up yet.
    const first = await runProcessor(SCRIPT, args, 60_000);
    assertEquals(first.code, 1, `exit 1 with a failed file:\n${first.stderr}`);
    assert(
      /1 file\(s\) failed and not processed since \(0 used up/.test(first.stderr),
      first.stderr,
    );
    assertEquals(
      await lines(`${out}/on_failure.log`),
      [],
      "onFailure not called before the last attempt",
    );

    // Run 2: attempt 2 (from the kept copy) fails: given up, onFailure once.
    const second = await runProcessor(SCRIPT, args, 60_000);
    assertEquals(second.code, 1, second.stderr);
    assert(/Failed for good: run\/bad\.bin/.test(second.stderr), second.stderr);
    const hooks = await lines(`${out}/on_failure.log`);
    assertEquals(hooks.length, 1, hooks.join("\n"));
    assert(hooks[0].startsWith("run/bad.bin\t") && hooks[0].includes("\t2\t"), hooks[0]);

    // Run 3: nothing new, nothing retried: still listed, still exit 1, no second onFailure.
    const third = await runProcessor(SCRIPT, args, 60_000);
    assertEquals(third.code, 1, `exit 1 while a failed file exists:\n${third.stderr}`);
    assert(
      /Failed for good: run\/bad\.bin \(sha512 [0-9a-f]{12}, 2 attempt/.test(third.stderr),
      third.stderr,
    );
    assertEquals((await lines(`${out}/on_failure.log`)).length, 1, "onFailure called once");
    assertEquals((await readCalls(out)).filter((c) => c.path === "run/bad.bin").length, 2);

    const status = await ferry(["status", out]);
    assertEquals(status.code, 0, status.stderr);
    assert(/2 processed, 1 failed/.test(status.stdout), status.stdout);
    assert(/run\/bad\.bin\s+sha512 [0-9a-f]{12}\s+\S+ B\s+2\/2/.test(status.stdout), status.stdout);

    const dry = await ferry(["retry", out, "--dry-run"]);
    assertEquals(dry.code, 0, dry.stderr);
    assert(/Would give 1 failed file\(s\)/.test(dry.stdout), dry.stdout);
    const unknown = await ferry(["retry", out, "no/such.bin"]);
    assertEquals(unknown.code, 2, unknown.stdout);
    assert(/Not a failed file .*"no\/such\.bin"/.test(unknown.stderr), unknown.stderr);
    assertEquals((await readRegistry(`${out}/${FERRY_DIR}`, topic, group)).failed[0].attempt, 2);

    // While a processor runs on the directory, ferry retry refuses and changes nothing.
    const running = startProcessor(SCRIPT, [
      ...processorArgs(topic, out, group),
      "--max-attempts",
      "2",
    ], { timeoutMs: 60_000 });
    await waitUntil(
      async () => (await entries(`${out}/${RUNNING_DIR}`)).length > 0,
      "the run marker",
    );
    const refused = await ferry(["retry", out]);
    await stopProcessor(running);
    assertEquals(refused.code, 1, refused.stdout);
    assert(/A processor is running on .*pid \d+.*stop it/.test(refused.stderr), refused.stderr);
    assertEquals((await readRegistry(`${out}/${FERRY_DIR}`, topic, group)).failed[0].attempt, 2);

    await Deno.writeTextFile(`${out}/healed`, "");
    const retried = await ferry(["retry", out, "run/bad.bin"]);
    assertEquals(retried.code, 0, retried.stderr);
    assert(/Gave 1 failed file\(s\)/.test(retried.stdout), retried.stdout);

    const fourth = await runProcessor(SCRIPT, args, 60_000);
    assertEquals(fourth.code, 0, `exit 0 once the file is processed:\n${fourth.stderr}`);
    const registry = await readRegistry(`${out}/${FERRY_DIR}`, topic, group);
    assertEquals(registry.failed, []);
    assertEquals(registry.processed.map((r) => r.path).sort(), [
      "good-1.bin",
      "good-2.bin",
      "run/bad.bin",
    ]);
    assertEquals(await entries(`${out}/${FAILED_DIR}`), [], "no folder left under .ferry/failed");
    assertEquals((await lines(`${out}/on_failure.log`)).length, 1);

    // A new, empty output directory under the same group: said loudly, with a way to start over.
    const fresh = await Deno.makeTempDir();
    const moved = await runProcessor(SCRIPT, [
      ...processorArgs(topic, fresh, group),
      "--exit-when-idle",
      "1",
    ], 60_000);
    assertEquals(moved.code, 0, moved.stderr);
    assert(
      /has no record of group .* committed offsets .* new group \(--group /.test(moved.stderr),
      moved.stderr,
    );
  });
});

Deno.test("memory mode: a file whose worker died mid-file is read again and processed on the next start", async () => {
  await withTopic(1, async (topic) => {
    await putFiles(topic, [
      { path: "before.bin", bytes: testBytes(3000, 3) },
      { path: "kill.bin", bytes: text("KILL the worker in the middle of this file") },
      { path: "after.bin", bytes: testBytes(4000, 4) },
    ], { chunkSize: 1024 });
    const out = await Deno.makeTempDir();
    const group = `worker-death-${crypto.randomUUID().slice(0, 8)}`;
    const args = [...processorArgs(topic, out, group), "--mode", "memory", "--exit-when-idle", "1"];

    const first = await runProcessor(SCRIPT, args, 60_000);
    assertEquals(first.code, 1, first.stderr);
    assert(/kill\.bin: no copy of its data could be kept/.test(first.stderr), first.stderr);
    const failed = (await readRegistry(`${out}/${FERRY_DIR}`, topic, group)).failed;
    assertEquals(failed.map((f) => [f.path, f.attempt, f.kept]), [["kill.bin", 1, ""]]);

    await Deno.writeTextFile(`${out}/healed`, "");
    const second = await runProcessor(SCRIPT, args, 60_000);
    assertEquals(second.code, 0, `the file is read again and processed:\n${second.stderr}`);
    const calls = (await readCalls(out)).filter((c) => c.path === "kill.bin");
    assertEquals(calls.map((c) => c.attempt), [1, 2]);
    const registry = await readRegistry(`${out}/${FERRY_DIR}`, topic, group);
    assertEquals(registry.failed, []);
    assertEquals(registry.processed.map((r) => r.path).sort(), [
      "after.bin",
      "before.bin",
      "kill.bin",
    ]);
    // The files after it were read again too, and skipped: processed once each.
    for (const path of ["before.bin", "after.bin"]) {
      assertEquals((await readCalls(out)).filter((c) => c.path === path).length, 1, path);
    }
  });
});
