/**
 * The uploader against the real broker: sizes at the chunk boundaries, awkward names, partition
 * affinity, empty files, restarts (skip and resume), files that change or vanish mid-upload.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { withTempDir, writeTree } from "../support/files.ts";
import { readTopic, rebuild, rebuildAll } from "../support/upload.ts";
import { decodeChunk } from "../../src/chunks/decode.ts";
import { partitionForPath } from "../../src/upload/partition.ts";
import { upload, type UploadOptions } from "../../src/upload/uploader.ts";
import { defaultUploadLogPath, UploadLog } from "../../src/upload/upload_log.ts";
import type { FileOutcome } from "../../src/upload/file_uploader.ts";

const CHUNK = 64 * 1024;
const kafka = { "bootstrap.servers": BOOTSTRAP };

async function withTree<T>(
  files: Record<string, Uint8Array | string>,
  fn: (root: string) => Promise<T>,
): Promise<T> {
  return await withTempDir(async (root) => {
    await writeTree(root, files);
    return await fn(root);
  }, "ferry-upload-");
}

function byPath(outcomes: FileOutcome[]): Record<string, FileOutcome> {
  return Object.fromEntries(outcomes.map((o) => [o.path, o]));
}

Deno.test("a tree of files at the chunk boundaries, with awkward names, rebuilds byte for byte", async () => {
  const files: Record<string, Uint8Array> = {
    "one-byte": testBytes(1, 1),
    "exactly one chunk.bin": testBytes(CHUNK, 2),
    "chunk plus one.bin": testBytes(CHUNK + 1, 3),
    "sub dir/ünï cødé 日本.dat": testBytes(3 * CHUNK - 7, 4),
    "a;b%20c/100%;done.raw": testBytes(2 * CHUNK, 5),
    "deep/er/large.bin": testBytes(80 * CHUNK + 12_345, 6), // read twice: not kept in memory
  };
  await withTree(files, (root) =>
    withTopic(4, async (topic) => {
      const summary = await upload(root, { kafka, topic, chunkSize: CHUNK });
      assertEquals(summary.failed, 0);
      assertEquals(summary.uploaded, 6);
      const totalBytes = Object.values(files).reduce((n, b) => n + b.length, 0);
      assertEquals(summary.bytes, totalBytes);
      const expectedChunks = Object.values(files).reduce(
        (n, b) => n + Math.ceil(b.length / CHUNK),
        0,
      );
      const rebuilt = rebuild(await readTopic(topic, expectedChunks));
      assertEquals([...rebuilt.keys()].sort(), Object.keys(files).sort());
      for (const [path, bytes] of Object.entries(files)) {
        const file = rebuilt.get(path)!;
        assertEquals(file.bytes.length, bytes.length, path);
        assert(file.bytes.every((b, i) => b === bytes[i]), `${path} differs`);
        // Every chunk of a file in the one partition murmur2(path) chooses.
        assertEquals([...file.partitions], [partitionForPath(path, 4)], path);
        assertEquals(file.chunks.size, Math.ceil(bytes.length / CHUNK), path);
      }
      assertEquals(rebuilt.get("exactly one chunk.bin")!.chunks.size, 1);
      assertEquals(rebuilt.get("chunk plus one.bin")!.chunks.get(2)!.data.length, 1);
    }));
});

Deno.test("the default partitioner spreads one file's chunks, as OpenMSIStream does", async () => {
  await withTree({ "big.bin": testBytes(40 * CHUNK, 7) }, (root) =>
    withTopic(4, async (topic) => {
      const summary = await upload(`${root}/big.bin`, {
        kafka,
        topic,
        chunkSize: CHUNK,
        partitioner: "default",
      });
      assertEquals(summary.uploaded, 1);
      const file = rebuild(await readTopic(topic, 40)).get("big.bin")!;
      assert(file.partitions.size > 1, `all in ${[...file.partitions]}`);
    }));
});

Deno.test("an empty file sends nothing, is reported as skipped-empty and logged", async () => {
  await withTree({ "empty.dat": "", "x.dat": "x" }, (root) =>
    withTopic(1, async (topic) => {
      const summary = await upload(root, { kafka, topic, chunkSize: CHUNK });
      const outcomes = byPath(summary.outcomes);
      assertEquals(outcomes["empty.dat"], {
        status: "skipped",
        reason: "empty",
        path: "empty.dat",
        size: 0,
      });
      assertEquals(summary.skipped, 1);
      const messages = await readTopic(topic, 2, { timeoutMs: 3000 });
      assertEquals(messages.length, 1, "only x.dat's chunk");
      await using log = await UploadLog.open(defaultUploadLogPath(root, topic));
      assertEquals(log.uploaded("empty.dat")?.empty, true);
    }));
});

Deno.test("a restart skips uploaded files, resends a changed one, and never uploads .ferry", async () => {
  await withTree(
    { "a.dat": testBytes(3 * CHUNK, 8), "b/c.dat": "c" },
    (root) =>
      withTopic(2, async (topic) => {
        const options: UploadOptions = { kafka, topic, chunkSize: CHUNK };
        assertEquals((await upload(root, options)).uploaded, 2);
        const again = await upload(root, options);
        assertEquals([again.uploaded, again.skipped, again.bytes], [0, 2, 0]);
        // Touched but identical: skipped after hashing (mtime differs, content not).
        await Deno.utime(`${root}/a.dat`, new Date(), new Date(Date.now() + 5000));
        assertEquals((await upload(root, options)).skipped, 2);
        await Deno.writeTextFile(`${root}/b/c.dat`, "changed");
        const third = await upload(root, options);
        assertEquals(
          third.outcomes.map((o) => `${o.path}:${o.status}`).sort(),
          ["a.dat:skipped", "b/c.dat:uploaded"],
        );
        const messages = await readTopic(topic, 5);
        assertEquals(messages.length, 5, "3 + 1 + 1 chunks, nothing else");
        const decoded = messages.map((m) => decodeChunk(m.value!));
        const names = decoded.map((c) => (c.subdir ? `${c.subdir}/` : "") + c.filename);
        assertEquals(names.sort(), ["a.dat", "a.dat", "a.dat", "b/c.dat", "b/c.dat"]);
        const cs = decoded.filter((c) => c.filename === "c.dat").map((c) =>
          new TextDecoder().decode(c.data)
        );
        assertEquals(cs.sort(), ["c", "changed"]);
      }),
  );
});

Deno.test("an interrupted upload resumes with only the unacknowledged chunks", async () => {
  const bytes = testBytes(30 * CHUNK, 9);
  await withTree({ "big.bin": bytes }, (root) =>
    withTopic(1, async (topic) => {
      const stop = new AbortController();
      let acked = 0;
      const first = await upload(root, {
        kafka,
        topic,
        chunkSize: CHUNK,
        maxInFlightBytes: 4 * CHUNK,
        signal: stop.signal,
        events: {
          chunkAcked: () => {
            if (++acked === 10) stop.abort();
          },
        },
      });
      const outcome = first.outcomes[0];
      assertEquals(outcome.status, "failed");
      assert(outcome.status === "failed" && outcome.error.kind === "interrupted");
      const second = await upload(root, { kafka, topic, chunkSize: CHUNK });
      const resumed = second.outcomes[0];
      assert(resumed.status === "uploaded", JSON.stringify(resumed));
      assert(
        resumed.sentChunks <= 30 - 10 && resumed.sentChunks > 0,
        `resent ${resumed.sentChunks} of 30 chunks`,
      );
      const file = rebuild(await readTopic(topic, 30)).get("big.bin")!;
      assertEquals(file.bytes, bytes);
    }));
});

Deno.test("a file that changes while uploading is uploaded again as its new version, never torn", async () => {
  const before = testBytes(20 * CHUNK, 10);
  const after = testBytes(20 * CHUNK, 11);
  await withTree({ "moving.bin": before }, (root) =>
    withTopic(1, async (topic) => {
      let changed = false;
      const summary = await upload(root, {
        kafka,
        topic,
        chunkSize: CHUNK,
        events: {
          chunkSent: (info) => {
            if (!changed && info.chunkIndex === 3) {
              changed = true;
              Deno.writeFileSync(`${root}/moving.bin`, after);
            }
          },
        },
      });
      assert(changed);
      const outcome = summary.outcomes[0];
      assert(outcome.status === "uploaded", JSON.stringify(outcome));
      const messages = await readTopic(topic, 23, { timeoutMs: 8000 });
      const { files, incomplete } = rebuildAll(messages);
      // The first version stopped part-way (its chunks are all of the old content: the chunk
      // hashes check); the only complete version is the new content.
      assertEquals(incomplete.get("moving.bin"), 1);
      assertEquals(files.get("moving.bin")!.bytes, after);
    }));
});

Deno.test("a small file rewritten during upload is sent again; the topic's last version is the new one", async () => {
  await withTree({ "small.txt": "version one" }, (root) =>
    withTopic(1, async (topic) => {
      let changed = false;
      const summary = await upload(root, {
        kafka,
        topic,
        chunkSize: CHUNK,
        events: {
          chunkSent: () => {
            if (!changed) {
              changed = true;
              Deno.writeTextFileSync(`${root}/small.txt`, "version two!");
            }
          },
        },
      });
      assertEquals(summary.uploaded, 1);
      const messages = await readTopic(topic, 2);
      assertEquals(messages.length, 2);
      const last = new TextDecoder().decode(
        rebuild(messages.slice(1)).get("small.txt")!.bytes,
      );
      assertEquals(last, "version two!");
    }));
});

Deno.test("a file deleted before its upload fails, named, and the others still go", async () => {
  await withTree(
    { "a.dat": testBytes(2 * CHUNK, 12), "b.dat": "bbb" },
    (root) =>
      withTopic(1, async (topic) => {
        const summary = await upload(root, {
          kafka,
          topic,
          chunkSize: CHUNK,
          concurrency: 1,
          events: {
            chunkSent: (info) => {
              if (info.path === "a.dat" && info.chunkIndex === 1) Deno.removeSync(`${root}/b.dat`);
            },
          },
        });
        const outcomes = byPath(summary.outcomes);
        assertEquals(outcomes["a.dat"].status, "uploaded");
        const b = outcomes["b.dat"];
        assert(b.status === "failed", JSON.stringify(b));
        assertEquals(b.error.kind, "missing");
        assertEquals(b.error.message, 'File "b.dat" was deleted before it was uploaded.');
        assertEquals(summary.failed, 1);
      }),
  );
});
