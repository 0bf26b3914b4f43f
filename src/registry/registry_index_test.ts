/**
 * The registry's in-memory index of processed files (typed arrays, records read back from the
 * processed log): a reopened registry answers as the one that recorded the files did, for many
 * files and replaced generations; and what it keeps in memory per processed file stays small
 * (heap and external memory after a forced GC, in a subprocess run with `--expose-gc`).
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import { withTempDir } from "../../tests/support/files.ts";
import { FileRegistry, type ProcessedRecord } from "./registry.ts";

async function sha512Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-512", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Everything the registry says about the processed side of `files`, and of near misses. */
function answers(registry: FileRegistry, files: ProcessedRecord[], otherSha: string): unknown {
  const paths = [...new Set(files.map((f) => f.path))];
  return {
    count: registry.processedCount,
    processed: files.map((f) => registry.isProcessed(f.path, f.sha512)),
    produced: files.map((f) => registry.produced(f.path, f.sha512) ?? null),
    // The same content at another path, another content at the same path: not processed.
    elsewhere: files.map((f) => registry.isProcessed(`${f.path}.other`, f.sha512)),
    otherContent: paths.map((p) => registry.isProcessed(p, otherSha)),
    generations: paths.map((p) =>
      registry.processedGenerations(p).map((r) => [r.sha512, r.mtime ?? null])
    ),
    failed: registry.failedFiles().map((f) => [f.path, f.sha512]),
  };
}

Deno.test("a reopened registry answers as before for many files and replaced generations", async () => {
  await withTempDir(async (dir) => {
    const registry = await FileRegistry.open(dir, "raw", "g");
    const files: ProcessedRecord[] = [];
    const PATHS = 700;
    // Three generations of each path (the second without a file_mtime on some), every third
    // with results kept for --exactly-once.
    for (let generation = 0; generation < 3; generation++) {
      for (let i = 0; i < PATHS; i++) {
        const record: ProcessedRecord = {
          time: new Date(Date.UTC(2026, 0, 1, generation)).toISOString(),
          path: `run-${i % 7}/file-${i}.dat`,
          sha512: await sha512Hex(`${i}/${generation}`),
          size: 100 + i,
          partitions: [i % 3],
          ms: 1,
          attempt: 1,
          ...(generation === 1 && i % 5 === 0 ? {} : { mtime: 1_000_000 + generation * 1000 + i }),
          ...(i % 3 === 0
            ? {
              produced: {
                topic: "out",
                ranges: [{ partition: i % 3, firstOffset: i, lastOffset: i + generation }],
                results: [{ value: btoa(`result ${i}/${generation}`) }],
              },
            }
            : {}),
        };
        files.push(record);
      }
      await Promise.all(files.slice(-PATHS).map((r) => registry.recordProcessed(r)));
    }
    // A failed generation older than the processed ones is retired when it fails (kept
    // across reopening), a newer one stays failed.
    const older = await registry.recordFailed({
      time: "2026-01-01T05:00:00Z",
      path: "run-1/file-1.dat",
      sha512: await sha512Hex("old"),
      size: 1,
      partitions: [0],
      error: "x",
      attempt: 1,
      kept: "",
      mtime: 1,
    });
    // By the oldest processed generation that supersedes it, as before.
    assertEquals(older.retiredBy, files[1].sha512);
    await registry.recordFailed({
      time: "2026-01-01T05:00:00Z",
      path: "run-2/file-2.dat",
      sha512: await sha512Hex("new"),
      size: 1,
      partitions: [0],
      error: "x",
      attempt: 1,
      kept: "",
      mtime: 9_000_000,
    });
    const otherSha = await sha512Hex("never processed");
    const before = answers(registry, files, otherSha);
    await registry.close();

    const reopened = await FileRegistry.open(dir, "raw", "g");
    try {
      assertEquals(answers(reopened, files, otherSha), before);
      // And what it answers is right, not only the same.
      const expected = answers(reopened, files, otherSha) as {
        count: number;
        processed: boolean[];
        produced: unknown[];
        elsewhere: boolean[];
        otherContent: boolean[];
        generations: unknown[][];
        failed: unknown[];
      };
      assertEquals(expected.count, 3 * PATHS);
      assert(expected.processed.every((p) => p));
      assert(expected.elsewhere.every((p) => !p));
      assert(expected.otherContent.every((p) => !p));
      assertEquals(expected.produced, files.map((f) => f.produced ?? null));
      assertEquals(
        expected.generations,
        Array.from(
          { length: PATHS },
          (_, i) =>
            [0, 1, 2].map((g) => [files[g * PATHS + i].sha512, files[g * PATHS + i].mtime ?? null]),
        ),
      );
      assertEquals(expected.failed, [["run-2/file-2.dat", await sha512Hex("new")]]);
      assert(reopened.isRetired("run-1/file-1.dat", await sha512Hex("old")));
      // Recording goes on after reopening: a fourth generation joins the path's generations.
      const fourth: ProcessedRecord = {
        ...files[0],
        sha512: otherSha,
        time: "2026-01-02T00:00:00Z",
      };
      await reopened.recordProcessed(fourth);
      assert(reopened.isProcessed(fourth.path, otherSha));
      assertEquals(
        reopened.processedGenerations(fourth.path).map((r) => r.sha512).at(-1),
        otherSha,
      );
      assertEquals(reopened.produced(fourth.path, otherSha), files[0].produced);
    } finally {
      await reopened.close();
    }
  }, "ferry-registry-index-");
});

/**
 * Records `count` processed files (128-hex SHA-512s, results kept for --exactly-once) in a
 * registry in a subprocess run with `--expose-gc`, and returns its heap plus external memory
 * after a forced GC at `warm` files and at `count`.
 */
async function measure(dir: string, warm: number, count: number): Promise<[number, number]> {
  const registry = new URL("./registry.ts", import.meta.url).href;
  const script = `
    import { FileRegistry } from ${JSON.stringify(registry)};
    const gc = globalThis.gc;
    const registry = await FileRegistry.open(${JSON.stringify(dir)}, "raw", "g");
    const hex = (n) => n.toString(16).padStart(16, "0").repeat(8);
    const used = () => { gc(); gc(); const m = Deno.memoryUsage(); return m.heapUsed + m.external; };
    const out = [];
    for (let i = 0; i < ${count}; i += 100) {
      if (i === ${warm}) out.push(used());
      const batch = [];
      for (let j = i; j < i + 100; j++) {
        batch.push(registry.recordProcessed({
          time: new Date().toISOString(), path: "run/" + (j % 97) + "/file-" + j + ".dat",
          sha512: hex(j * 2654435761 % 4294967296), size: j, partitions: [j % 4], ms: 1,
          attempt: 1, mtime: 1700000000000 + j,
          produced: { topic: "out", ranges: [{ partition: j % 4, firstOffset: j, lastOffset: j }],
            results: [{ value: "cmVzdWx0" }] },
        }));
      }
      await Promise.all(batch);
    }
    out.push(used());
    await registry.close();
    console.log(JSON.stringify(out));
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert(output.success, `the measuring subprocess failed: ${stderr}`);
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  return JSON.parse(lines.at(-1)!) as [number, number];
}

Deno.test("the registry keeps little memory per processed file (heap after GC)", async () => {
  await withTempDir(async (dir) => {
    const WARM = 5_000;
    const COUNT = 45_000;
    const [atWarm, atEnd] = await measure(dir, WARM, COUNT);
    const perFile = (atEnd - atWarm) / (COUNT - WARM);
    // Typed arrays: about 100 bytes a file at most (tables at most half full, doubled when
    // full). A string key, a record object or its results kept per file take several hundred.
    assert(
      perFile < 250,
      `memory grew ${Math.round(perFile)} bytes per processed file (${atWarm} -> ${atEnd} bytes)`,
    );
  }, "ferry-registry-memory-");
});
