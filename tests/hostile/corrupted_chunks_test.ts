/**
 * Damaged chunks through the real processor and broker, in memory and disk mode, by default
 * (only the whole file's SHA-512 checked, each byte hashed once) and with `--check-chunks`
 * (every chunk's SHA-512 checked on arrival too):
 *
 * - a file with one chunk whose data was changed (its chunk hash left as the original), its
 *   chunks in order on one partition, and another spread over two partitions out of order: by
 *   default recorded invalid, the damaged chunk named (index, bytes, partition and offset) in
 *   the log and in the registry (`ferry status`); with `--check-chunks` the chunk is skipped
 *   at arrival, named by its partition and offset, and the file never completes;
 * - a one-chunk file whose data was changed (chunk hash = file hash = the original's): caught
 *   by default at the file level (no shortcut through "its chunk hash is its file hash"), and
 *   at arrival with `--check-chunks`;
 * - a one-chunk file with a wrong file hash (its chunk hash right): recorded invalid in both;
 *
 * and in every case nothing of a damaged file reaches `process()` or the output directory,
 * while good files beside them are processed.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { ferry } from "../support/cli.ts";
import { encodeChunkUnchecked, fileChunks, putMessages, type TestFile } from "../support/chunks.ts";
import { readCalls, runOverHostileTopic } from "../support/processor.ts";
import type { DataFileChunk } from "../../src/chunks/chunk.ts";
import { sha512 } from "../../src/hash/sha512.ts";
import { FERRY_DIR, PARTIAL_DIR } from "../../src/files/layout.ts";
import type { OutputStatus } from "../../src/registry/output_status.ts";

const CHUNK = 1000;

function file(path: string, size: number, seed: number): TestFile {
  return { path, bytes: testBytes(size, seed) };
}

/** The chunk with its data changed in one byte, its chunk and file hashes left as they were. */
function damaged(chunk: DataFileChunk): DataFileChunk {
  const data = chunk.data.slice();
  data[Math.floor(data.length / 2)] ^= 0x5a;
  return { ...chunk, data };
}

/** What was put on the topic and what each damaged file should be recorded as. */
interface Layout {
  partition0: Uint8Array[];
  partition1: Uint8Array[];
  good: string[];
  /** Damaged files: by default, the pattern of their recorded error. */
  byDefault: Map<string, RegExp>;
  /** With --check-chunks: the messages skipped at arrival ("partition:offset"), per file. */
  skippedAtArrival: Map<string, string>;
  /** With --check-chunks: files recorded invalid (their pattern). */
  invalidWhenChecked: Map<string, RegExp>;
}

function layout(encode: (chunk: DataFileChunk) => Uint8Array): Layout {
  const p0: Uint8Array[] = [];
  const p1: Uint8Array[] = [];
  const byDefault = new Map<string, RegExp>();
  const skippedAtArrival = new Map<string, string>();
  const invalidWhenChecked = new Map<string, RegExp>();

  const good = file("good/a.bin", 4500, 1);
  p0.push(...fileChunks(good, CHUNK).map(encode)); // offsets 0-4

  // Five chunks in order on partition 0 (offsets 5-9), chunk 3 (offset 7) damaged.
  const inOrder = fileChunks(file("bad/in-order.bin", 5000, 2), CHUNK);
  p0.push(...inOrder.map((c) => encode(c.chunkIndex === 3 ? damaged(c) : c)));
  byDefault.set(
    "bad/in-order.bin",
    /SHA-512 of the rebuilt .* A chunk does not match its own SHA-512: chunk 3 of 5 \(bytes 2000-2999, partition 0 offset 7\)/,
  );
  skippedAtArrival.set("bad/in-order.bin", "0:7");

  // One chunk, its data damaged: its chunk hash is its file hash (offset 10).
  const [single] = fileChunks(file("bad/one-chunk-damaged.bin", 700, 3), CHUNK);
  p0.push(encode(damaged(single)));
  byDefault.set("bad/one-chunk-damaged.bin", /chunk 1 of 1 \(bytes 0-699, partition 0 offset 10\)/);
  skippedAtArrival.set("bad/one-chunk-damaged.bin", "0:10");

  // One chunk, right data and chunk hash, wrong file hash (offset 11).
  const [wrongHash] = fileChunks(file("bad/one-chunk-wrong-hash.bin", 600, 4), CHUNK);
  p0.push(encode({ ...wrongHash, fileHash: sha512(new Uint8Array([9])) }));
  const everyChunkRight = /Every chunk matches its own SHA-512: the file hash its chunks carry/;
  byDefault.set("bad/one-chunk-wrong-hash.bin", everyChunkRight);
  invalidWhenChecked.set("bad/one-chunk-wrong-hash.bin", everyChunkRight);

  // Five chunks spread over two partitions, out of order: 5, 1, 3 on partition 0 (offsets
  // 12-14), 4 and 2 on partition 1 (offsets 0-1), chunk 2 damaged.
  const spread = fileChunks(file("bad/spread.bin", 4800, 5), CHUNK);
  const [s1, s2, s3, s4, s5] = spread.map((c) => c.chunkIndex === 2 ? damaged(c) : c);
  p0.push(encode(s5), encode(s1), encode(s3));
  p1.push(encode(s4), encode(s2));
  byDefault.set(
    "bad/spread.bin",
    /A chunk does not match its own SHA-512: chunk 2 of 5 \(bytes 1000-1999, partition 1 offset 1\)/,
  );
  skippedAtArrival.set("bad/spread.bin", "1:1");

  const goodOne = file("good/one.bin", 300, 6);
  p0.push(...fileChunks(goodOne, CHUNK).map(encode)); // offset 15
  return {
    partition0: p0,
    partition1: p1,
    good: [good.path, goodOne.path],
    byDefault,
    skippedAtArrival,
    invalidWhenChecked,
  };
}

/** Paths of the files under `dir` (relative), without the calls log and `.ferry/` unless asked. */
async function filesUnder(dir: string, prefix = ""): Promise<string[]> {
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(`${dir}/${prefix}`)) {
      const path = `${prefix}${entry.name}`;
      if (entry.isDirectory) found.push(...await filesUnder(dir, `${path}/`));
      else found.push(path);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found;
}

for (const mode of ["memory", "disk"] as const) {
  for (const checkChunks of [false, true]) {
    const flag = checkChunks ? ", --check-chunks" : "";
    Deno.test(`damaged chunks never reach process() or the output directory (${mode} mode${flag})`, async () => {
      await withTopic(2, async (topic) => {
        // Without encodeChunk's checks: a damaged chunk's data no longer matches its hash.
        const put = layout(encodeChunkUnchecked);
        await putMessages(topic, put.partition0, 0);
        await putMessages(topic, put.partition1, 1);
        const { out, run } = await runOverHostileTopic(topic, "damaged", mode, checkChunks);

        // Only the good files were processed.
        const calls = await readCalls(out);
        assertEquals(calls.map((c) => c.path).sort(), [...put.good].sort(), run.stderr);

        // Nothing else in the output directory but the good files (disk mode), the calls log
        // and Ferry's own folder; no partial file left of a file found damaged, nor a copy.
        const written = await filesUnder(out);
        const expected = ["calls.log", ...(mode === "disk" ? put.good : [])].sort();
        assertEquals(written.filter((p) => !p.startsWith(`${FERRY_DIR}/`)).sort(), expected);
        const partial = written.filter((p) => p.startsWith(`${PARTIAL_DIR}/`));
        if (!checkChunks) assertEquals(partial, []);
        assert(!written.some((p) => p.includes("/failed/")), JSON.stringify(written));

        const status = await ferry(["status", out, "--json"]);
        assertEquals(status.code, 0, status.stderr);
        const registry = (JSON.parse(status.stdout) as OutputStatus).processors[0];
        const invalid = checkChunks ? put.invalidWhenChecked : put.byDefault;
        assertEquals(registry.failed.map((f) => f.path).sort(), [...invalid.keys()].sort());
        for (const [path, reason] of invalid) {
          const record = registry.failed.find((f) => f.path === path)!;
          assert(reason.test(record.error), `${path}: ${record.error}`);
          // The same reason in the log line, with where the file came from.
          const line = run.stderr.split("\n").find((l) => l.includes(`Invalid file ${path} (`));
          assert(line !== undefined && reason.test(line), run.stderr);
        }
        const skipped = [...run.stderr.matchAll(
          /Skipping message at \S+ partition (\d+) offset (\d+): (.+)/g,
        )];
        if (checkChunks) {
          // Each damaged chunk is named at arrival by its partition and offset.
          const named = skipped.map((m) => `${m[1]}:${m[2]}`).sort();
          assertEquals(named, [...put.skippedAtArrival.values()].sort(), run.stderr);
          for (const match of skipped) assert(/SHA-512/.test(match[3]), match[0]);
        } else {
          assertEquals(skipped.length, 0, run.stderr);
        }
        const summary = run.stderr.match(
          /Summary: (\d+) processed, (\d+) failed, (\d+) invalid, .* (\d+) malformed messages/,
        );
        assert(summary, run.stderr);
        assertEquals(Number(summary[1]), put.good.length, summary[0]);
        assertEquals(Number(summary[3]), invalid.size, summary[0]);
        assertEquals(Number(summary[4]), checkChunks ? put.skippedAtArrival.size : 0, summary[0]);
        await Deno.remove(out, { recursive: true });
      });
    });
  }
}
