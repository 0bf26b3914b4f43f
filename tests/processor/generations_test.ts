/**
 * Growing files, against the real broker and real processes: two generations of one path (each
 * its own SHA-512 and `file_mtime`) with their chunks interleaved in one partition, in either
 * order: a processor sees each once, and `ferry download` keeps the newer at the path. And a
 * stalled-then-completed file: the stalled generation's failure is retired once the complete
 * one is processed, and the run exits 0.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { fileChunks, putFiles, putMessages, type TestFile } from "../support/chunks.ts";
import { ferry } from "../support/cli.ts";
import { processorArgs, readCalls, runProcessor } from "../support/processor.ts";
import { testBytes } from "../support/bytes.ts";
import { BOOTSTRAP } from "../support/broker.ts";
import { encodeChunk } from "../../src/chunks/encode.ts";
import { hashHex, sha512 } from "../../src/hash/sha512.ts";
import { readRegistry } from "../../src/registry/registry.ts";
import { FERRY_DIR } from "../../src/files/layout.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** Both generations' chunks, alternating, the `first` generation's chunk first each time. */
function interleaved(first: TestFile, second: TestFile): Uint8Array[] {
  const a = fileChunks(first, 1024);
  const b = fileChunks(second, 1024);
  const out: Uint8Array[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) out.push(encodeChunk(a[i], { includeMtime: true }));
    if (i < b.length) out.push(encodeChunk(b[i], { includeMtime: true }));
  }
  return out;
}

const OLDER: TestFile = {
  path: "run/growing.dat",
  bytes: testBytes(4000, 7),
  mtime: 1_700_000_000,
};
const NEWER: TestFile = {
  path: "run/growing.dat",
  bytes: testBytes(6000, 8),
  mtime: 1_700_000_100,
};

for (
  const [name, first, second] of [
    ["older first", OLDER, NEWER],
    ["newer first", NEWER, OLDER],
  ] as const
) {
  Deno.test(`two generations of one path interleaved in one partition (${name}): each processed once, download keeps the newer`, async () => {
    await withTopic(1, async (topic) => {
      await putMessages(topic, interleaved(first, second), 0);
      const out = await Deno.makeTempDir();
      const group = `generations-${crypto.randomUUID().slice(0, 8)}`;
      const run = await runProcessor("tests/fixtures/recording_processor.ts", [
        ...processorArgs(topic, out, group),
        "--exit-when-idle",
        "1",
      ], 60_000);
      assertEquals(run.code, 0, run.stderr);
      const calls = await readCalls(out);
      const shas = calls.map((c) => c.sha).sort();
      const want = [OLDER, NEWER].map((f) => hashHex(sha512(f.bytes)).slice(0, 16)).sort();
      assertEquals(shas, want, "each generation processed once");
      const registry = await readRegistry(`${out}/${FERRY_DIR}`, topic, group);
      assertEquals(registry.processed.length, 2);
      assertEquals(
        registry.processed.map((r) => r.mtime).sort(),
        [OLDER.mtime! * 1000, NEWER.mtime! * 1000],
      );

      const downloads = await Deno.makeTempDir();
      const download = await ferry([
        "download",
        downloads,
        "--topic",
        topic,
        "-b",
        BOOTSTRAP,
        "--exit-when-idle",
        "1",
      ]);
      assertEquals(download.code, 0, download.stderr);
      const kept = await Deno.readFile(`${downloads}/run/growing.dat`);
      assertEquals(
        hashHex(sha512(kept)),
        hashHex(sha512(NEWER.bytes)),
        "the newer generation is in place",
      );
      assert(/Rebuilt 2 file\(s\)/.test(download.stdout), download.stdout);
    });
  });
}

Deno.test("a stalled-then-completed file: the stalled generation's failure is retired, the run exits 0", async () => {
  await withTopic(1, async (topic) => {
    const stalled: TestFile = {
      path: "scan.csv",
      bytes: text("FAIL,partial\n1,2"),
      mtime: 1_700_000_000,
    };
    const complete: TestFile = {
      path: "scan.csv",
      bytes: text("x,y\n1,2\n3,4\n"),
      mtime: 1_700_000_060,
    };
    await putFiles(topic, [stalled]);
    const out = await Deno.makeTempDir();
    const group = `stalled-${crypto.randomUUID().slice(0, 8)}`;
    const args = [...processorArgs(topic, out, group), "--exit-when-idle", "1"];
    const first = await runProcessor("tests/fixtures/failing_processor.ts", args, 60_000);
    assertEquals(first.code, 1, first.stderr);

    await putFiles(topic, [complete]);
    const second = await runProcessor("tests/fixtures/failing_processor.ts", args, 60_000);
    assertEquals(second.code, 0, `the old generation's failure does not count:\n${second.stderr}`);
    assert(
      /Retired the failure of scan\.csv generation 2023-11-14T22:13:20\.000Z/.test(second.stderr),
      second.stderr,
    );
    const registry = await readRegistry(`${out}/${FERRY_DIR}`, topic, group);
    assertEquals(registry.failed, []);
    assertEquals(registry.retired.map((r) => [r.path, r.retiredBy]), [
      ["scan.csv", hashHex(sha512(complete.bytes))],
    ]);

    // Later runs neither retry it nor fail.
    const callsBefore = (await readCalls(out)).length;
    const third = await runProcessor("tests/fixtures/failing_processor.ts", args, 60_000);
    assertEquals(third.code, 0, third.stderr);
    assertEquals((await readCalls(out)).length, callsBefore, "nothing retried");
    const status = await ferry(["status", out]);
    assert(/1 processed, 0 failed, 0 in progress, 1 retired/.test(status.stdout), status.stdout);
    assert(/Retired \(1;/.test(status.stdout), status.stdout);
    assert(/scan\.csv\s+2023-11-14T22:14:20\.000Z/.test(status.stdout), status.stdout);
    assertEquals(
      await Array.fromAsync(Deno.readDir(`${out}/${FERRY_DIR}`)).then((e) =>
        e.some((x) => x.name === "failed")
      ),
      false,
    );
  });
});
