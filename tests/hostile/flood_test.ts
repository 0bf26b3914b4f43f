/**
 * A flood of chunks for files that never complete (chunk 1 of 1 000 000, each from its own
 * name), through the real processor and broker: with `--max-partial-files` and
 * `--max-partial-mb` the processor's memory stays bounded (the oldest incomplete files are
 * abandoned, with a logged reason, or continue on disk), and a good file after the flood
 * still completes.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { committedOffsets, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { fileChunks, putMessages } from "../support/chunks.ts";
import { processorArgs, readCalls, startProcessor } from "../support/processor.ts";
import { readPeakRss } from "../../bench/support/process.ts";
import { createChunk } from "../../src/chunks/chunk.ts";
import { encodeChunk } from "../../src/chunks/encode.ts";
import { sha512 } from "../../src/hash/sha512.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";
const FLOOD = 5000;
const CHUNK_BYTES = 64 * 1024;
const MAX_FILES = 1000;
const MAX_MB = 4;

/** The flood: chunk 1 of 1 000 000 of FLOOD files, then one good file. */
function floodMessages(): Uint8Array[] {
  const values: Uint8Array[] = [];
  for (let i = 0; i < FLOOD; i++) {
    const data = testBytes(CHUNK_BYTES, i + 1);
    values.push(encodeChunk(createChunk({
      filename: `f${i}.bin`,
      subdir: `flood/${i % 50}`,
      fileHash: sha512(new Uint8Array([i & 0xff, i >> 8])),
      chunkOffset: 0,
      chunkIndex: 1,
      totalChunks: 1_000_000,
      data,
    })));
  }
  const good = { path: "good/after-flood.bin", bytes: testBytes(40_000, 7) };
  values.push(...fileChunks(good, 16 * 1024).map((c) => encodeChunk(c)));
  return values;
}

interface FloodRun {
  code: number;
  stderr: string;
  peakRss: number;
  out: string;
  group: string;
}

async function runFlood(topic: string, limits: string[]): Promise<FloodRun> {
  const out = await Deno.makeTempDir();
  const group = `flood-${crypto.randomUUID().slice(0, 8)}`;
  const { child, result } = startProcessor(SCRIPT, [
    ...processorArgs(topic, out, group),
    "--mode",
    "memory",
    "--exit-when-idle",
    "2",
    // A small prefetch queue, so the processor's own holdings dominate its RSS.
    "-X",
    "queued.max.messages.kbytes=16384",
    ...limits,
  ]);
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, readPeakRss(child.pid) ?? 0);
  }, 50);
  const killer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  try {
    const run = await result;
    return { ...run, peakRss, out, group };
  } finally {
    clearInterval(sampler);
    clearTimeout(killer);
  }
}

Deno.test("a flood of never-completing files keeps memory bounded and a good file after it completes", async () => {
  await withTopic(1, async (topic) => {
    const values = floodMessages();
    await putMessages(topic, values);

    const capped = await runFlood(topic, [
      "--max-partial-files",
      String(MAX_FILES),
      "--max-partial-mb",
      String(MAX_MB),
    ]);
    // Incomplete files at exit make no failure: exit 0, the good file processed.
    assertEquals(capped.code, 0, capped.stderr.slice(-3000));
    const calls = await readCalls(capped.out);
    assertEquals(calls.map((c) => c.path), ["good/after-flood.bin"]);
    const abandoned = [...capped.stderr.matchAll(
      /Abandoning incomplete "?(flood\/[^"\s]+)"? \(1 of 1000000 chunks, "?partition 0 offsets (\d+)-\d+"? of .*more than 1000 files in progress/g,
    )];
    // The good file's first chunk makes one more file in progress, until it completes.
    const expectedAbandoned = FLOOD + 1 - MAX_FILES;
    assertEquals(abandoned.length, expectedAbandoned, capped.stderr.slice(-3000));
    // The least recently active go first: the first files of the flood, in order.
    assertEquals(abandoned[0][1], "flood/0/f0.bin");
    assertEquals(Number(abandoned.at(-1)![2]), expectedAbandoned - 1);
    assert(
      new RegExp(`Summary: 1 processed.* ${expectedAbandoned} incomplete files abandoned`)
        .test(capped.stderr),
      capped.stderr.slice(-2000),
    );
    // Commits moved past the abandoned files' messages.
    const [committed] = await committedOffsets(capped.group, topic, 1);
    assert(committed >= expectedAbandoned, `committed ${committed}`);
    // Spilled partial files of abandoned files are deleted.
    const partial = [];
    for await (const entry of Deno.readDir(`${capped.out}/.ferry/partial`)) partial.push(entry);
    assert(partial.length <= MAX_FILES, `${partial.length} partial files left`);

    // The same flood without limits holds every chunk in memory.
    const unbounded = await runFlood(topic, [
      "--max-partial-files",
      "1000000",
      "--max-partial-mb",
      "100000",
    ]);
    assertEquals(unbounded.code, 0, unbounded.stderr.slice(-3000));
    const mb = (n: number) => Math.round(n / 1e6);
    // deno-lint-ignore no-console
    console.log(
      `peak RSS: capped ${mb(capped.peakRss)} MB, unbounded ${mb(unbounded.peakRss)} MB ` +
        `(${FLOOD} x ${CHUNK_BYTES / 1024} KiB = ${
          mb(FLOOD * CHUNK_BYTES)
        } MB of incomplete files)`,
    );
    assert(
      capped.peakRss + 100e6 < unbounded.peakRss,
      `capped ${mb(capped.peakRss)} MB vs unbounded ${mb(unbounded.peakRss)} MB`,
    );
    await Deno.remove(capped.out, { recursive: true });
    await Deno.remove(unbounded.out, { recursive: true });
  });
});
