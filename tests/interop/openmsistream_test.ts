/**
 * Interoperability with the real OpenMSIStream (PyPI `openmsistream`, installed into a cached
 * throwaway virtual environment by `scripts/openmsistream/venv.sh`), on the project's broker:
 *
 * - files uploaded by Ferry are rebuilt byte-identical by OpenMSIStream's
 *   `DataFileDownloadDirectory`, and by `ferry download` from the same topic and config file;
 * - files uploaded by OpenMSIStream's `UploadDataFile` (its default partitioner spreads a file's
 *   chunks over the partitions) are rebuilt byte-identical by `ferry download` and processed
 *   once each by a Ferry processor with several workers;
 * - chunks produced by OpenMSIStream's `UploadDataFile` and `DataFileUploadDirectory` decode in
 *   Ferry with every field right.
 *
 * Both sides read the same OpenMSIStream config file. If the venv cannot be created, the tests
 * fail (they never skip).
 */
import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { ferry } from "../support/cli.ts";
import { writeTree } from "../support/files.ts";
import { processorArgs, readCalls, repoPath, runProcessor } from "../support/processor.ts";
import { assertRebuiltTree, readTopic } from "../support/upload.ts";
import {
  openmsistreamBin,
  openmsistreamVersion,
  pythonEnv,
  runUntil,
  uploadDataFile,
  withWorkspace,
} from "../support/openmsistream.ts";
import { decodeChunk } from "../../src/chunks/decode.ts";
import { hashHex, sha512 } from "../../src/hash/sha512.ts";
import { chunkKey } from "../../src/chunks/key.ts";
import { upload } from "../../src/upload/uploader.ts";
import { resolveKafkaConfig } from "../../src/config/resolve.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

async function sameBytes(path: string, expected: Uint8Array): Promise<boolean> {
  try {
    const bytes = await Deno.readFile(path);
    return bytes.length === expected.length && bytes.every((b, i) => b === expected[i]);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test("the OpenMSIStream venv is there, and its version is one the README lists", async () => {
  const version = await openmsistreamVersion(await openmsistreamBin());
  const readme = await Deno.readTextFile(repoPath("README.md"));
  assert(/^\d+\.\d+\.\d+/.test(version), `version "${version}"`);
  assert(
    readme.includes(`OpenMSIStream ${version}`),
    `README does not list OpenMSIStream ${version}`,
  );
});

Deno.test("files uploaded by Ferry are rebuilt byte-identical by OpenMSIStream's DataFileDownloadDirectory and by ferry download", async () => {
  const bin = await openmsistreamBin();
  const files: Record<string, Uint8Array> = {
    "small.txt": encoder.encode("hello from Ferry\n"),
    "one chunk.bin": testBytes(16_384, 21),
    "run1/raw/scan ü;%.dat": testBytes(16_384 * 5 + 3, 22),
    "run1/big.bin": testBytes(600_000, 23),
  };
  await withWorkspace(async (dir, config) => {
    const upDir = join(dir, "up");
    const downDir = join(dir, "down");
    await writeTree(upDir, files);
    await Deno.mkdir(downDir);
    await withTopic(3, async (topic) => {
      // Ferry reads the same OpenMSIStream config file ($VAR, serializer keys and all).
      const kafka = await resolveKafkaConfig("producer", {
        configFile: config,
        env: (name) => name === "FERRY_INTEROP_BOOTSTRAP" ? BOOTSTRAP : undefined,
      });
      const summary = await upload(upDir, { kafka: kafka.config, topic, chunkSize: 16_384 });
      assertEquals(summary.uploaded, 4);
      const log = await runUntil(
        join(bin, "DataFileDownloadDirectory"),
        [downDir, "--config", config, "--topic_name", topic, "--n_threads", "2"],
        async () => {
          for (const [path, bytes] of Object.entries(files)) {
            if (!await sameBytes(join(downDir, ...path.split("/")), bytes)) return false;
          }
          return true;
        },
      );
      assert(log.includes("4 files were successfully reconstructed"), log);
      // ferry download, from the same topic with the same OpenMSIStream config file and flags.
      const ferryDir = join(dir, "ferry-down");
      const run = await ferry(
        ["download", ferryDir, "--config", config, "--topic_name", topic, "--exit-when-idle=1"],
        { env: pythonEnv },
      );
      assertEquals(run.code, 0, run.stderr);
      await assertRebuiltTree(ferryDir, files);
      await assertRebuiltTree(downDir, files);
    });
  });
});

Deno.test("files uploaded by OpenMSIStream's UploadDataFile, chunks spread over 4 partitions, are rebuilt by ferry download and processed once by a Ferry processor", async () => {
  const bin = await openmsistreamBin();
  const files: Record<string, Uint8Array> = {
    "ten chunks ü.dat": testBytes(16_384 * 9 + 5, 81),
    "three.bin": testBytes(16_384 * 3, 82),
    "tiny.txt": encoder.encode("one small chunk\n"),
  };
  const chunkCount = 10 + 3 + 1;
  await withWorkspace(async (dir, config) => {
    const upDir = join(dir, "up");
    await writeTree(upDir, files);
    await withTopic(4, async (topic) => {
      for (const name of Object.keys(files)) {
        await uploadDataFile(bin, join(upDir, name), config, topic);
      }
      // OpenMSIStream's default partitioner put each chunk by its key: one file over several
      // partitions, which Ferry's processors must still complete (inside one process).
      const messages = await readTopic(topic, chunkCount);
      assertEquals(messages.length, chunkCount);
      const partitions = new Set(
        messages.filter((m) => decodeChunk(m.value!).totalChunks === 10).map((m) => m.partition),
      );
      assert(partitions.size > 1, `the 10 chunks are in partitions ${[...partitions]}`);

      const downDir = join(dir, "ferry-down");
      const run = await ferry(
        [
          "download",
          "--config",
          config,
          "--topic_name",
          topic,
          "--output_dir",
          downDir,
          "--n_threads",
          "2",
          "--exit-when-idle=1",
        ],
        { env: pythonEnv },
      );
      assertEquals(run.code, 0, run.stderr);
      assert(run.stdout.startsWith("Rebuilt 3 file(s)"), run.stdout);
      await assertRebuiltTree(downDir, files);

      // A user's processor (memory mode, 3 workers): each file once, with the right SHA-512.
      const processorDir = join(dir, "recording");
      const processed = await runProcessor("tests/fixtures/recording_processor.ts", [
        ...processorArgs(topic, processorDir),
        "--workers",
        "3",
        "--exit-when-idle=1",
      ]);
      assertEquals(processed.code, 0, processed.stderr);
      const calls = await readCalls(processorDir);
      assertEquals(
        calls.map((c) => [c.path, c.sha, c.size]).sort(),
        Object.entries(files).map(([path, bytes]) => [
          path,
          hashHex(sha512(bytes)).slice(0, 16),
          bytes.length,
        ]).sort(),
      );
    });
  });
});

Deno.test("chunks from OpenMSIStream's UploadDataFile decode in Ferry with every field right", async () => {
  const bin = await openmsistreamBin();
  const bytes = testBytes(16_384 * 7 + 100, 31);
  await withWorkspace(async (dir, config) => {
    const path = join(dir, "source ü.dat");
    await Deno.writeFile(path, bytes);
    const mtime = (await Deno.stat(path)).mtime!.getTime() / 1000;
    await withTopic(2, async (topic) => {
      await uploadDataFile(bin, path, config, topic);
      const messages = await readTopic(topic, 8);
      assertEquals(messages.length, 8);
      const fileHash = sha512(bytes);
      const seen = new Set<number>();
      for (const message of messages) {
        const chunk = decodeChunk(message.value!); // checks the chunk hash too
        assertEquals(decoder.decode(message.key!), chunkKey(chunk));
        assertEquals(chunk.filename, "source ü.dat");
        assertEquals(chunk.subdir, "");
        assertEquals(chunk.filenameAppend, "");
        assertEquals(hashHex(chunk.fileHash), hashHex(fileHash));
        assertEquals(chunk.totalChunks, 8);
        assertEquals(chunk.chunkOffset, (chunk.chunkIndex - 1) * 16_384);
        const expected = bytes.subarray(chunk.chunkOffset, chunk.chunkOffset + 16_384);
        assertEquals(chunk.data, expected, `data of chunk ${chunk.chunkIndex}`);
        assertEquals(hashHex(chunk.chunkHash), hashHex(sha512(expected)));
        // 1.8.6+ sends the mtime as a 10th field.
        assert(chunk.fileMtime !== undefined, "file_mtime present");
        assert(Math.abs(chunk.fileMtime - mtime) < 0.01, `mtime ${chunk.fileMtime} vs ${mtime}`);
        seen.add(chunk.chunkIndex);
      }
      assertEquals(seen.size, 8);
    });
  });
});

Deno.test("chunks from OpenMSIStream's DataFileUploadDirectory carry the subdirectory Ferry expects", async () => {
  const bin = await openmsistreamBin();
  const files: Record<string, Uint8Array> = {
    "top.bin": testBytes(5000, 41),
    "run1/raw/deep file.bin": testBytes(40_000, 42),
  };
  await withWorkspace(async (dir, config) => {
    const upDir = join(dir, "up");
    await writeTree(upDir, files);
    await withTopic(1, async (topic) => {
      let received: ReturnType<typeof decodeChunk>[] = [];
      await runUntil(
        join(bin, "DataFileUploadDirectory"),
        [
          upDir,
          "--config",
          config,
          "--topic_name",
          topic,
          "--upload_existing",
          "--chunk_size",
          "16384",
        ],
        async () => {
          const messages = await readTopic(topic, 4, { timeoutMs: 1500 });
          received = messages.map((m) => decodeChunk(m.value!));
          return received.length >= 4;
        },
      );
      const byPath = new Map<string, Uint8Array>();
      for (const chunk of received) {
        const path = chunk.subdir === "" ? chunk.filename : `${chunk.subdir}/${chunk.filename}`;
        const size = files[path]?.length;
        assert(size !== undefined, `unexpected path ${JSON.stringify(path)}`);
        const out = byPath.get(path) ?? new Uint8Array(size);
        out.set(chunk.data, chunk.chunkOffset);
        byPath.set(path, out);
        assertEquals(hashHex(chunk.fileHash), hashHex(sha512(files[path])));
      }
      for (const [path, bytes] of Object.entries(files)) {
        assertEquals(byPath.get(path), bytes, path);
      }
    });
  });
});
