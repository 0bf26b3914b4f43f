import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { putFiles, type TestFile } from "../support/chunks.ts";
import { processorArgs, readCalls, runProcessor } from "../support/processor.ts";
import { hashHex, sha512 } from "../../src/hash/sha512.ts";
import { Consumer, Producer } from "../../src/kafka/mod.ts";
import { readRegistry } from "../../src/registry/registry.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";

function sampleFiles(count: number, seed = 0): TestFile[] {
  const files: TestFile[] = [];
  for (let i = 0; i < count; i++) {
    const size = i % 5 === 0 ? 0 + i : 1000 + ((i * 7919 + seed) % 90_000);
    files.push({ path: `run${i % 3}/sub ${i % 2}/f${i}.dat`, bytes: testBytes(size, i + seed) });
  }
  files.push({ path: "root file.csv", bytes: new TextEncoder().encode("a;b\n1;2\n") });
  return files;
}

function expected(files: TestFile[]): Map<string, { sha: string; size: number }> {
  return new Map(
    files.filter((f) => f.bytes.length > 0).map((f) => [
      f.path,
      { sha: hashHex(sha512(f.bytes)).slice(0, 16), size: f.bytes.length },
    ]),
  );
}

function group(): string {
  return `test-${crypto.randomUUID().slice(0, 8)}`;
}

for (const mode of ["memory", "disk", "both"]) {
  Deno.test(`every file is processed once (${mode} mode)`, async () => {
    await withTopic(4, async (topic) => {
      const files = sampleFiles(24).filter((f) => f.bytes.length > 0);
      await putFiles(topic, files, { partitions: 4, chunkSize: 8192 });
      const out = await Deno.makeTempDir();
      const run = await runProcessor(SCRIPT, [
        ...processorArgs(topic, out, group()),
        "--mode",
        mode,
        "--workers",
        "3",
        "--exit-when-idle",
        "2",
      ]);
      assertEquals(run.code, 0, run.stderr);
      const calls = await readCalls(out);
      assertEquals(calls.length, files.length, "one call per file");
      const want = expected(files);
      for (const call of calls) {
        assertEquals({ sha: call.sha, size: call.size }, want.get(call.path));
      }
      if (mode !== "memory") {
        for (const file of files) {
          assertEquals(await Deno.readFile(`${out}/${file.path}`), file.bytes, file.path);
        }
      }
    });
  });
}

Deno.test("files whose chunks are spread over partitions complete (OpenMSIStream-style topic)", async () => {
  await withTopic(4, async (topic) => {
    const files = sampleFiles(12, 3).filter((f) => f.bytes.length > 0);
    await putFiles(topic, files, { partitions: 4, chunkSize: 4096, spread: true });
    const out = await Deno.makeTempDir();
    const run = await runProcessor(SCRIPT, [
      "--topic_name",
      topic,
      "--output_dir",
      out,
      "--consumer_group_id",
      group(),
      "--n_threads",
      "4",
      "--exit-when-idle",
      "2",
    ]);
    assertEquals(run.code, 0, run.stderr);
    const calls = await readCalls(out);
    assertEquals(new Set(calls.map((c) => c.path)), new Set(files.map((f) => f.path)));
    assertEquals(calls.length, files.length);
  });
});

Deno.test("a restart with the same group processes nothing again", async () => {
  await withTopic(2, async (topic) => {
    const files = sampleFiles(10, 5).filter((f) => f.bytes.length > 0);
    await putFiles(topic, files, { partitions: 2 });
    const out = await Deno.makeTempDir();
    const g = group();
    const args = ["--topic", topic, "--output-dir", out, "--group", g, "--exit-when-idle", "1"];
    assertEquals((await runProcessor(SCRIPT, [...args, "--run-id", "1"])).code, 0);
    // The same files uploaded again are skipped: the registry has them.
    await putFiles(topic, files.slice(0, 3), { partitions: 2 });
    const second = await runProcessor(SCRIPT, [...args, "--run-id", "2"]);
    assertEquals(second.code, 0, second.stderr);
    const calls = await readCalls(out);
    assertEquals(calls.filter((c) => c.run === "2"), []);
    assertEquals(calls.length, files.length);
    const registry = await readRegistry(`${out}/.ferry`, topic, g);
    assertEquals(registry.processed.length, files.length);
    assertEquals(registry.inProgress, []);
  });
});

Deno.test("a failing file is recorded with its error, kept, and retried on the next start", async () => {
  await withTopic(1, async (topic) => {
    const files = sampleFiles(6, 9).filter((f) => f.bytes.length > 0);
    await putFiles(topic, files);
    const g = group();
    for (const mode of ["memory", "disk"]) {
      const out = await Deno.makeTempDir();
      const args = [
        ...processorArgs(topic, out, `${g}-${mode}`),
        "--mode",
        mode,
        "--exit-when-idle",
        "1",
      ];
      const first = await runProcessor(SCRIPT, [...args, "--fail-pattern", "f1\\.dat$"]);
      assertEquals(first.code, 1, "a failed file makes the exit code 1");
      assert(first.stderr.includes("refusing run1/sub 1/f1.dat as asked"), first.stderr);
      let registry = await readRegistry(`${out}/.ferry`, topic, `${g}-${mode}`);
      assertEquals(registry.failed.map((f) => [f.path, f.attempt]), [["run1/sub 1/f1.dat", 1]]);
      assert(registry.failed[0].error.includes("refusing"));
      const kept = await Deno.readFile(`${out}/${registry.failed[0].kept}`);
      assertEquals(kept, files.find((f) => f.path === "run1/sub 1/f1.dat")!.bytes);

      const second = await runProcessor(SCRIPT, args);
      assertEquals(second.code, 0, second.stderr);
      registry = await readRegistry(`${out}/.ferry`, topic, `${g}-${mode}`);
      assertEquals(registry.failed, []);
      assertEquals(registry.processed.length, files.length);
      const calls = await readCalls(out);
      assertEquals(calls.filter((c) => c.path === "run1/sub 1/f1.dat").map((c) => c.attempt), [
        1,
        2,
      ]);
      assertEquals(calls.length, files.length + 1);
    }
  });
});

Deno.test("the download regex, malformed messages and empty values never block a partition", async () => {
  await withTopic(1, async (topic) => {
    const files = sampleFiles(8, 11).filter((f) => f.bytes.length > 0);
    {
      await using producer = new Producer({ "bootstrap.servers": BOOTSTRAP });
      await producer.produce({ topic, value: testBytes(300, 1), key: "garbage" });
      await producer.produce({ topic, value: null, key: "nothing" });
    }
    await putFiles(topic, files);
    {
      await using producer = new Producer({ "bootstrap.servers": BOOTSTRAP });
      await producer.produce({ topic, value: new Uint8Array([0x99, 0xc4]), key: "truncated" });
    }
    const out = await Deno.makeTempDir();
    const g = group();
    const run = await runProcessor(SCRIPT, [
      ...processorArgs(topic, out, g),
      "--download-regex",
      "^run0/",
      "--exit-when-idle",
      "1",
    ]);
    assertEquals(run.code, 0, run.stderr);
    const calls = await readCalls(out);
    assertEquals(
      new Set(calls.map((c) => c.path)),
      new Set(files.filter((f) => f.path.startsWith("run0/")).map((f) => f.path)),
    );
    assert(run.stderr.includes("offset 0"), "the skipped message is named by its offset");
    await using reader = new Consumer({ "bootstrap.servers": BOOTSTRAP, "group.id": g });
    const [committed] = await reader.committed([{ topic, partition: 0 }]);
    const { high } = await reader.queryWatermarks(topic, 0);
    assertEquals(committed.offset, high, "everything settled and committed");
  });
});

Deno.test("usage errors exit 2 with a message naming the problem", async () => {
  const missingTopic = await runProcessor(SCRIPT, ["--output-dir", "x"]);
  assertEquals(missingTopic.code, 2);
  assert(missingTopic.stderr.includes("--topic"), missingTopic.stderr);
  const badWorkers = await runProcessor(SCRIPT, ["--topic", "t", "--workers", "0"]);
  assertEquals(badWorkers.code, 2);
  assert(badWorkers.stderr.includes('"0"'), badWorkers.stderr);
  const badRegex = await runProcessor(SCRIPT, ["--topic", "t", "--download-regex", "("]);
  assertEquals(badRegex.code, 2);
  assert(badRegex.stderr.includes("--download-regex"), badRegex.stderr);
});

Deno.test("a topic that does not exist is a clear error, exit 1", async () => {
  const run = await runProcessor(SCRIPT, [
    ...processorArgs("no-such-topic-" + crypto.randomUUID().slice(0, 8), await Deno.makeTempDir()),
    "--exit-when-idle",
    "1",
  ]);
  assertEquals(run.code, 1);
  assert(run.stderr.includes("no-such-topic"), run.stderr);
});
