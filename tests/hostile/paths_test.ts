/**
 * Path traversal through the real processor and broker: chunk paths with `..`, absolute paths,
 * Windows drive letters and UNC names, NUL and control characters, backslashes, and symbolic
 * links planted in the output directory. Nothing may be written outside the output directory.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { committedOffsets, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { encodeChunkUnchecked, fileChunks, putMessages, type TestFile } from "../support/chunks.ts";
import { listTree } from "../support/files.ts";
import { processorArgs, readCalls, runProcessor } from "../support/processor.ts";
import { encodeChunk } from "../../src/chunks/encode.ts";
import type { DataFileChunk } from "../../src/chunks/chunk.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";

/** One-chunk files whose path fields try to leave the output directory. */
function hostileChunks(outside: string): { label: string; chunk: DataFileChunk }[] {
  const name = outside.split("/").at(-1)!;
  const [base] = fileChunks({ path: "x.bin", bytes: testBytes(64, 1) });
  const cases: [string, Partial<DataFileChunk>][] = [
    ["subdir ..", { subdir: `../${name}` }],
    ["subdir a/../..", { subdir: `sub/../../${name}` }],
    ["subdir ./..", { subdir: `./../${name}` }],
    ["absolute subdir", { subdir: outside }],
    ["absolute subdir /etc", { subdir: "/etc", filename: "ferry-test-passwd" }],
    ["filename ..", { filename: ".." }],
    ["filename .", { filename: "." }],
    ["filename with /", { filename: `../${name}/b.bin` }],
    ["filename absolute", { filename: `${outside}/c.bin` }],
    ["drive subdir C:\\x", { subdir: "C:\\x" }],
    ["drive subdir C:/x", { subdir: "C:/x" }],
    ["drive filename", { filename: "C:evil.bin" }],
    ["UNC subdir", { subdir: "\\\\server\\share" }],
    ["backslash filename", { filename: `..\\..\\${name}\\d.bin` }],
    ["backslash subdir", { subdir: `sub\\..\\..\\${name}` }],
    ["NUL filename", { filename: "e.bin\u0000.txt" }],
    ["NUL subdir", { subdir: `sub\u0000/../../${name}` }],
    ["control filename", { filename: "\u001b[31mred.bin" }],
    ["append with /", { filenameAppend: `/../../${name}/f` }],
    ["append ..", { filename: "g", filenameAppend: "/.." }],
    ["append backslash", { filenameAppend: "\\..\\h" }],
    ["empty filename", { filename: "" }],
  ];
  return cases.map(([label, fields]) => ({ label, chunk: { ...base, ...fields } }));
}

async function runHostilePaths(mode: string): Promise<void> {
  await withTopic(1, async (topic) => {
    const outside = await Deno.makeTempDir({ prefix: "ferry-outside-" });
    const out = await Deno.makeTempDir({ prefix: "ferry-out-" });
    // A symlink planted in the output directory, pointing outside it.
    await Deno.symlink(outside, `${out}/sub`);
    await Deno.mkdir(`${out}/real`);
    await Deno.symlink(outside, `${out}/real/link`);
    const hostile = hostileChunks(outside);
    const good: TestFile = { path: "good/ok.bin", bytes: testBytes(5000, 2) };
    const planted: TestFile[] = [
      { path: "sub/planted.bin", bytes: testBytes(3000, 3) },
      { path: "real/link/deeper/planted2.bin", bytes: testBytes(3000, 4) },
    ];
    const values = [
      ...hostile.map((h) => encodeChunkUnchecked(h.chunk)),
      ...planted.flatMap((f) => fileChunks(f, 1000).map((c) => encodeChunk(c))),
      ...fileChunks(good, 1000).map((c) => encodeChunk(c)),
    ];
    await putMessages(topic, values);
    const group = `paths-${crypto.randomUUID().slice(0, 8)}`;
    const run = await runProcessor(SCRIPT, [
      ...processorArgs(topic, out, group),
      "--mode",
      mode,
      // In memory mode, failing the planted files makes the worker keep a copy: inside only.
      "--fail-pattern",
      "planted",
      "--max-attempts",
      "1",
      "--exit-when-idle",
      "2",
      // Every refused message has its own line at debug (warnings stop at a few of a kind).
      "--log-level",
      "debug",
    ]);
    assert(run.code === 0 || run.code === 1, run.stderr);
    assert(!/Stopping:|Uncaught/.test(run.stderr), run.stderr);

    // Nothing outside, ever.
    assertEquals(await listTree(outside), [], "the outside directory stays empty");
    await Deno.stat("/etc/ferry-test-passwd").then(
      () => assert(false, "/etc/ferry-test-passwd was written"),
      () => undefined,
    );
    // Every hostile path was refused with its reason.
    const skipped = [...run.stderr.matchAll(/Skipping message at .* offset (\d+): (.+)/g)];
    assertEquals(skipped.length, hostile.length, run.stderr);
    for (const match of skipped) {
      assert(
        /unsafe|well-formed/.test(match[2]),
        `${hostile[Number(match[1])].label}: ${match[0]}`,
      );
    }
    const calls = await readCalls(out);
    assert(calls.some((c) => c.path === "good/ok.bin"), run.stderr);
    if (mode !== "memory") {
      assertEquals(await Deno.readFile(`${out}/good/ok.bin`), good.bytes);
      // Files whose directory is a planted link are invalid, with the link named.
      for (const file of planted) {
        assert(!calls.some((c) => c.path === file.path), `${file.path} was processed`);
        assert(
          new RegExp(`Invalid file ${file.path} .*symbolic link`).test(run.stderr),
          run.stderr,
        );
      }
    } else {
      // Memory mode writes no rebuilt file; a failed file's copy goes under .ferry/failed.
      for (const file of planted) {
        assert(calls.some((c) => c.path === file.path), `${file.path} not processed`);
      }
      const kept = (await listTree(`${out}/.ferry`)).filter((p) => p.includes("planted"));
      assertEquals(kept.length, 2, kept.join(", "));
    }
    assertEquals(await committedOffsets(group, topic, 1), [values.length]);
    await Deno.remove(out, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  });
}

for (const mode of ["disk", "memory"]) {
  Deno.test(`hostile paths are refused and nothing is written outside the output directory (${mode} mode)`, async () => {
    await runHostilePaths(mode);
  });
}

Deno.test("a symlinked .ferry folder in the output directory is refused before anything is written", async () => {
  await withTopic(1, async (topic) => {
    const outside = await Deno.makeTempDir({ prefix: "ferry-outside-" });
    const out = await Deno.makeTempDir({ prefix: "ferry-out-" });
    await Deno.symlink(outside, `${out}/.ferry`);
    await putMessages(
      topic,
      fileChunks({ path: "a.bin", bytes: testBytes(100, 5) }).map((c) => encodeChunk(c)),
    );
    const run = await runProcessor(SCRIPT, [
      ...processorArgs(topic, out),
      "--exit-when-idle",
      "1",
    ]);
    assertEquals(run.code, 1, run.stderr);
    assert(/must be a real folder.*symbolic link/.test(run.stderr), run.stderr);
    assertEquals(await listTree(outside), []);
    await Deno.remove(out, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  });
});
