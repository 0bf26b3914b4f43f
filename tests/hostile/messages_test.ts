/**
 * Bad and hostile messages on a processor's topic, through the real processor and broker:
 * whatever they are, they are skipped or recorded as invalid with a logged reason, counted in
 * the summary, and good files after them are processed and committed past them.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { committedOffsets, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { encodeChunkUnchecked, fileChunks, putMessages, type TestFile } from "../support/chunks.ts";
import { readCalls, runOverHostileTopic } from "../support/processor.ts";
import { createChunk } from "../../src/chunks/chunk.ts";
import { encodeChunk } from "../../src/chunks/encode.ts";
import { sha512 } from "../../src/hash/sha512.ts";
import { readRegistry } from "../../src/registry/registry.ts";

const CHUNK = 1000;

function file(path: string, size: number, seed: number): TestFile {
  return { path, bytes: testBytes(size, seed) };
}

/** The messages that are not chunks at all: each must be skipped as malformed. */
function notChunks(): Uint8Array[] {
  const random: Uint8Array[] = [];
  for (let i = 0; i < 20; i++) random.push(testBytes(1 + i * 37, 1000 + i));
  const good = encodeChunk(fileChunks(file("x/template.bin", 10, 1))[0]);
  return [
    ...random,
    new Uint8Array(0), // empty value
    new TextEncoder().encode('{"filename": "a.txt"}'), // JSON, not msgpack
    new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]), // an array of 4 294 967 295 elements
    new Uint8Array([0xdc, 0xff, 0xff]), // array16 of 65 535 elements, no content
    // A chunk whose data field declares 4 GiB (bin32 0xffffffff) but holds 3 bytes.
    (() => {
      const prefix = good.subarray(0, good.length - 12);
      const out = new Uint8Array(prefix.length + 8);
      out.set(prefix);
      out.set([0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2, 3], prefix.length);
      return out;
    })(),
    good.subarray(0, good.length - 1), // truncated by one byte
    new Uint8Array([...good, 0]), // one byte too many
  ];
}

/**
 * Chunks that decode but are wrong in a way the decoder checks (chunk hash, index, count). The
 * first, a wrong chunk hash over the right data, is checked only with --check-chunks: by
 * default the file's SHA-512 is the check, and it matches, so "bad/fields.bin" is processed.
 */
function badFields(): Uint8Array[] {
  const [chunk] = fileChunks(file("bad/fields.bin", 10, 2));
  return [
    encodeChunkUnchecked({ ...chunk, chunkHash: new Uint8Array(64) }), // wrong chunk hash
    encodeChunkUnchecked({ ...chunk, chunkHash: new Uint8Array(10) }), // hash of the wrong size
    encodeChunkUnchecked({ ...chunk, fileHash: new Uint8Array(3) }),
    encodeChunkUnchecked({ ...chunk, chunkIndex: 2, totalChunks: 1 }), // index past the count
    encodeChunkUnchecked({ ...chunk, chunkIndex: 0 }),
    encodeChunkUnchecked({ ...chunk, totalChunks: 0 }),
    encodeChunkUnchecked({ ...chunk, chunkOffset: -5 }),
    encodeChunkUnchecked({ ...chunk, chunkOffset: 2 ** 60 }), // past the largest safe integer
  ];
}

interface Hostile {
  /** The messages, in order. */
  messages: Uint8Array[];
  /** How many are expected to be skipped as malformed. */
  malformed: number;
  /** Files expected to be recorded as invalid (path: reason pattern). */
  invalid: Map<string, RegExp>;
}

/** Files whose chunks each decode, but that do not add up. */
function badFiles(): Hostile {
  const messages: Uint8Array[] = [];
  const invalid = new Map<string, RegExp>();
  let malformed = 0;

  // The file's content does not match the file hash every chunk carries.
  {
    const chunks = fileChunks(file("bad/wrong-file-hash.bin", 2500, 3), CHUNK);
    const other = sha512(new Uint8Array([1]));
    for (const c of chunks) messages.push(encodeChunk({ ...c, fileHash: other }));
    invalid.set("bad/wrong-file-hash.bin", /SHA-512|hash/i);
  }
  // Conflicting counts: chunk 2 says the file has 4 chunks, chunk 1 said 3.
  {
    const chunks = fileChunks(file("bad/conflicting-count.bin", 2500, 4), CHUNK);
    messages.push(encodeChunk(chunks[0]));
    messages.push(encodeChunkUnchecked(createChunk({ ...chunks[1], totalChunks: 4 })));
    malformed++;
    messages.push(encodeChunk(chunks[1]), encodeChunk(chunks[2]));
    // The file still completes from the right chunks: not invalid, processed.
  }
  // An offset past the end of the file: a gap.
  for (const [name, offset] of [["gap", 10_000_000], ["far", 2 ** 52]] as const) {
    const path = `bad/offset-${name}.bin`;
    const chunks = fileChunks(file(path, 2500, 5), CHUNK);
    messages.push(encodeChunk(chunks[0]), encodeChunk(chunks[1]));
    messages.push(encodeChunk(createChunk({ ...chunks[2], chunkOffset: offset })));
    invalid.set(path, /do not fit together|past/);
  }
  // Conflicting sizes for the same file: chunk 2 overlaps chunk 1.
  {
    const path = "bad/overlap.bin";
    const chunks = fileChunks(file(path, 2500, 6), CHUNK);
    messages.push(encodeChunk(chunks[0]));
    messages.push(encodeChunk(createChunk({ ...chunks[1], chunkOffset: 500 })));
    messages.push(encodeChunk(chunks[2]));
    invalid.set(path, /do not fit together/);
  }
  // The same chunk sent twice with different sizes (a conflicting repeat) before the rest.
  {
    const path = "bad/repeat-size.bin";
    const chunks = fileChunks(file(path, 2500, 7), CHUNK);
    messages.push(encodeChunk(createChunk({ ...chunks[0], data: chunks[0].data.subarray(0, 10) })));
    messages.push(encodeChunk(chunks[0]), encodeChunk(chunks[1]), encodeChunk(chunks[2]));
    invalid.set(path, /do not fit together|SHA-512|hash/i);
  }
  return { messages, malformed, invalid };
}

const RUNS = [["memory", false], ["disk", false], ["memory", true], ["disk", true]] as const;
for (const [mode, checkChunks] of RUNS) {
  const flag = checkChunks ? ", --check-chunks" : "";
  Deno.test(`hostile messages are skipped, logged and counted; good files after them are processed (${mode} mode${flag})`, async () => {
    await withTopic(1, async (topic) => {
      const junk = notChunks();
      const fields = badFields();
      const files = badFiles();
      const good = [file("good/before.bin", 3000, 8), file("good/after.bin", 4500, 9)];
      const goodMessages = good.map((f) => fileChunks(f, CHUNK).map((c) => encodeChunk(c)));
      const values = [
        ...goodMessages[0],
        ...junk,
        ...fields,
        ...files.messages,
        ...goodMessages[1],
      ];
      await putMessages(topic, values);
      const { out, group, run } = await runOverHostileTopic(topic, "hostile", mode, checkChunks);

      const calls = await readCalls(out);
      const processed = new Set(calls.map((c) => c.path));
      assert(processed.has("good/before.bin"), run.stderr);
      assert(processed.has("good/after.bin"), run.stderr);
      assert(processed.has("bad/conflicting-count.bin"), run.stderr);
      // The wrong chunk hash over the right data: skipped only when chunks are checked.
      assertEquals(processed.has("bad/fields.bin"), !checkChunks, run.stderr);
      for (const path of files.invalid.keys()) assert(!processed.has(path), `${path} processed`);

      // Every skipped message is logged with its partition, offset and a reason (at debug level
      // for those past the first few of a kind).
      const skipped = [...run.stderr.matchAll(
        /Skipping message at (\S+) partition (\d+) offset (\d+): (.+)/g,
      )];
      const malformed = junk.length + fields.length + files.malformed - (checkChunks ? 0 : 1);
      assertEquals(skipped.length, malformed, run.stderr);
      for (const match of skipped) {
        assert(match[1].includes(topic) && match[4].length > 10, match[0]);
      }
      const summary = run.stderr.match(
        /Summary: (\d+) processed, (\d+) failed, (\d+) invalid, .* (\d+) messages that were not chunks, (\d+) malformed messages/,
      );
      assert(summary, run.stderr);
      assertEquals(Number(summary[1]), checkChunks ? 3 : 4, summary[0]);
      assertEquals(Number(summary[3]), files.invalid.size, summary[0]);
      // Messages that are not even a msgpack array (or have no value) are counted apart.
      const notArrays = junk.filter((v) =>
        !(v[0] >= 0x90 && v[0] <= 0x9f) && ![0xdc, 0xdd].includes(v[0])
      )
        .length;
      assert(notArrays >= 2, "the empty value and the JSON text at least");
      assertEquals(Number(summary[4]), notArrays, summary[0]);
      assertEquals(Number(summary[5]), malformed - notArrays, summary[0]);

      // Invalid files are in the registry with their reason.
      const registry = await readRegistry(`${out}/.ferry`, topic, group);
      for (const [path, reason] of files.invalid) {
        const record = registry.failed.find((f) => f.path === path);
        assert(record, `${path} not recorded as failed: ${JSON.stringify(registry.failed)}`);
        assert(reason.test(record.error), `${path}: ${record.error}`);
      }
      // Nothing written outside what the run owns, and no partial file left behind.
      for (const path of files.invalid.keys()) {
        await Deno.stat(`${out}/${path}`).then(
          () => assert(false, `${path} was written to the output directory`),
          () => undefined,
        );
      }
      // The partition is not blocked: offsets are committed past every message.
      assertEquals(await committedOffsets(group, topic, 1), [values.length]);
    });
  });
}
