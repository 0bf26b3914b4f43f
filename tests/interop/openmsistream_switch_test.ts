/**
 * The walk of docs/switching-from-openmsistream.md, with the real OpenMSIStream 1.8.8 package:
 * its `DataFileUploadDirectory` is stopped (kill -9) with a file half-sent; a processor
 * subclassing its `DataFileStreamProcessor` is stopped with that file in progress and one file
 * failed; `ferry migrate` reads both registries; `ferry upload` on the same folder sends only the
 * rest; a Ferry processor on the OpenMSIStream group processes exactly the in-progress and
 * failed files; `--download_regex` selects what OpenMSIStream's selects; a config with
 * sections Ferry does not act on (`[s3]`, `[metadata]`) warns once per section. The walk's output is printed.
 *
 * @module
 */

import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, uniqueName, withTopic } from "../support/broker.ts";
import { ferry } from "../support/cli.ts";
import { withTempDir, writeTree } from "../support/files.ts";
import { readCalls, runProcessor } from "../support/processor.ts";
import { readTopic } from "../support/upload.ts";
import { testBytes } from "../support/bytes.ts";
import { CONFIG, openmsistreamBin, runUntil } from "../support/openmsistream.ts";
import { decodeChunk } from "../../src/chunks/decode.ts";
import { relativePath } from "../../src/chunks/chunk.ts";

/** What a lab config may also hold: sections Ferry does not act on. */
const OMS_ONLY_SECTIONS = `
[s3]
bucket_name = lab-bucket

[metadata]
topic_name = lab_metadata
`;

/** A processor written the OpenMSIStream way: bad.dat fails. */
const OMS_PROCESSOR = `
from openmsistream import DataFileStreamProcessor

class LabProcessor(DataFileStreamProcessor):
    def _process_downloaded_data_file(self, datafile, lock):
        if datafile.filename == "bad.dat":
            return RuntimeError("bad.dat cannot be analysed")
        return None

    @classmethod
    def run_from_command_line(cls, args=None):
        parser = cls.get_argument_parser()
        args = parser.parse_args(args=args)
        init_args, init_kwargs = cls.get_init_args_kwargs(args)
        processor = cls(*init_args, **init_kwargs)
        processor.process_files_as_read()
        processor.close()

if __name__ == "__main__":
    LabProcessor.run_from_command_line()
`;

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "";
    throw error;
  }
}

/** The text of every file of `dir` whose name starts with `prefix` (none: ""). */
async function readMatching(dir: string, prefix: string): Promise<string> {
  let text = "";
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith(prefix)) text += await readText(join(dir, entry.name));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return text;
}

async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const rel = prefix + entry.name;
      if (entry.isDirectory) {
        if (entry.name !== "LOGS" && entry.name !== ".ferry") {
          out.push(...await listFiles(join(dir, entry.name), rel + "/"));
        }
      } else if (entry.isFile && !entry.name.endsWith(".log")) out.push(rel);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out.sort();
}

function show(title: string, text: string) {
  // deno-lint-ignore no-console
  console.log(`\n--- ${title}\n${text.trimEnd()}`);
}

Deno.test("switching a running OpenMSIStream lab to Ferry: uploader, processor, downloader, config", async () => {
  const bin = await openmsistreamBin();
  await withTempDir(async (dir) => {
    const config = join(dir, "lab.config");
    await Deno.writeTextFile(config, CONFIG);
    await Deno.writeTextFile(join(dir, "lab-full.config"), CONFIG + OMS_ONLY_SECTIONS);
    const up = join(dir, "instrument");
    const small: Record<string, Uint8Array> = {
      "f1.bin": testBytes(50_000, 1),
      "f2.bin": testBytes(20_000, 2),
      "run1/scan.tif": testBytes(30_000, 3),
      "bad.dat": testBytes(9_000, 4),
    };
    await writeTree(up, {
      ...small,
      ".hidden": testBytes(10, 5),
      "notes.log": testBytes(10, 6),
      "catalog.csv": testBytes(10, 7),
    });
    const state = join(dir, "state");
    const ferryEnv = { XDG_STATE_HOME: state, FERRY_INTEROP_BOOTSTRAP: BOOTSTRAP };
    await withTopic(1, async (topic) => {
      const logs = join(up, "LOGS");
      const inProgress = join(logs, `upload_to_${topic}_in_progress.csv`);
      // 1. OpenMSIStream uploads the folder; a large file arrives, and it is killed half-way.
      const big = testBytes(16 * 1024 * 1024, 8);
      let bigWritten = false;
      await runUntil(
        join(bin, "DataFileUploadDirectory"),
        [
          up,
          "--config",
          config,
          "--topic_name",
          topic,
          "--upload_existing",
          "--chunk_size",
          "4096",
        ],
        async () => {
          const registry = await readMatching(logs, `uploaded_to_${topic}`);
          if (!bigWritten) {
            if (Object.keys(small).every((p) => registry.includes(`'${p}'`))) {
              await Deno.writeFile(join(dir, "big.tmp"), big);
              await Deno.rename(join(dir, "big.tmp"), join(up, "big.bin"));
              bigWritten = true;
            }
            return false;
          }
          return (await readText(inProgress)).includes("'big.bin'");
        },
        { stop: "kill", pollMs: 100 },
      );
      const halfSent = await readText(inProgress);
      show("OpenMSIStream's upload registry, in progress (cut)", halfSent.slice(0, 300));

      // 2. An OpenMSIStream processor on the topic: bad.dat fails, big.bin stays in progress.
      const omsOut = join(dir, "oms-processor");
      const group = uniqueName("lab-processor");
      const script = join(dir, "lab_processor.py");
      await Deno.writeTextFile(script, OMS_PROCESSOR);
      const omsLogs = join(omsOut, "LOGS");
      const progressCsv = join(omsLogs, `consuming_from_${topic}_in_progress_by_${group}.csv`);
      await runUntil(
        join(bin, "python"),
        [
          script,
          "--config",
          config,
          "--topic_name",
          topic,
          "--consumer_group_id",
          group,
          "--output_dir",
          omsOut,
        ],
        async () => {
          const processed = await readMatching(omsLogs, `processed_from_${topic}_by_${group}`);
          const progress = await readText(progressCsv);
          return ["f1.bin", "f2.bin", "run1/scan.tif"].every((p) => processed.includes(`'${p}'`)) &&
            progress.includes("'bad.dat'") && progress.includes("'big.bin'");
        },
        { pollMs: 100 },
      );
      show("OpenMSIStream's processor registry, in progress", await readText(progressCsv));

      // 3. ferry migrate upload (dry run, then for real), then ferry upload on the same folder.
      const dry = await ferry(
        ["migrate", "upload", up, "--topic_name", topic, "--chunk_size", "4096", "--dry-run"],
        { env: ferryEnv },
      );
      show("ferry migrate upload --dry-run", dry.stdout + dry.stderr);
      assertEquals(dry.code, 0);
      assert(/resume {2}big\.bin \(\d+ of 4096 chunk\(s\) left to send\)/.test(dry.stdout));
      assertEquals(await listFiles(state), [], "the dry run wrote something");
      const migrated = await ferry(
        ["migrate", "upload", up, "--topic_name", topic, "--chunk_size", "4096"],
        { env: ferryEnv },
      );
      assertEquals(migrated.code, 0, migrated.stderr);
      const uploaded = await ferry(
        [
          "upload",
          up,
          "--topic_name",
          topic,
          "--chunk_size",
          "4096",
          "--upload_existing",
          "--config",
          config,
        ],
        { env: ferryEnv },
      );
      show("ferry upload (OpenMSIStream flag spellings)", uploaded.stdout + uploaded.stderr);
      assertEquals(uploaded.code, 0, uploaded.stderr);
      const sentByFerry = [...uploaded.stderr.matchAll(/Uploaded (\S+):/g)].map((m) => m[1]);
      const resumed = /Resuming big\.bin: (\d+) of 4096 chunks/.exec(uploaded.stderr);
      assert(resumed !== null, "ferry upload did not resume big.bin");
      for (const path of sentByFerry) {
        assert(!path.startsWith("LOGS/") && !path.endsWith(".log"), `sent ${path}`);
        assert(path !== "catalog.csv" && path !== ".hidden", `sent ${path}`);
        assert(!(path in small), `${path} was sent by OpenMSIStream already, and again by Ferry`);
      }
      // On the topic: every file once, OpenMSIStream's small files exactly once each.
      const messages = await readTopic(topic, 4096 + 30, { timeoutMs: 60_000 });
      const chunks = new Map<string, number[]>();
      for (const m of messages) {
        const chunk = decodeChunk(m.value!);
        const path = relativePath(chunk);
        chunks.set(path, [...chunks.get(path) ?? [], chunk.chunkIndex]);
      }
      assertEquals([...chunks.keys()].sort(), [...Object.keys(small), "big.bin"].sort());
      for (const path of Object.keys(small)) {
        const indexes = chunks.get(path)!;
        assertEquals(indexes.length, new Set(indexes).size, `${path} sent twice`);
      }
      assertEquals(new Set(chunks.get("big.bin")).size, 4096);

      // 4. ferry migrate processor, then a Ferry processor on the OpenMSIStream group.
      const ferryOut = join(dir, "ferry-processor");
      const takeover = await ferry(
        [
          "migrate",
          "processor",
          "--config",
          config,
          "--topic_name",
          topic,
          "--consumer_group_id",
          group,
          "--logs-dir",
          omsLogs,
          "--output_dir",
          ferryOut,
        ],
        { env: ferryEnv },
      );
      show("ferry migrate processor", takeover.stdout + takeover.stderr);
      assertEquals(takeover.code, 0, takeover.stderr);
      const run = await runProcessor("tests/fixtures/recording_processor.ts", [
        "--topic",
        topic,
        "--group",
        group,
        "--output-dir",
        ferryOut,
        "--exit-when-idle",
        "3",
      ]);
      assertEquals(run.code, 0, run.stderr);
      const calls = (await readCalls(ferryOut)).map((c) => c.path).sort();
      show("files the Ferry processor processed", calls.join("\n"));
      assertEquals(calls, ["bad.dat", "big.bin"]);

      // 5. --download_regex: the same selection as OpenMSIStream's DataFileDownloadDirectory.
      const regex = "(f|run1/)";
      const omsDown = join(dir, "oms-download");
      let last = "";
      let stableSince = Date.now();
      await runUntil(
        join(bin, "DataFileDownloadDirectory"),
        [omsDown, "--config", config, "--topic_name", topic, "--download_regex", regex],
        async () => {
          const now = (await listFiles(omsDown)).join(",");
          if (now !== last) [last, stableSince] = [now, Date.now()];
          return now !== "" && Date.now() - stableSince > 5000;
        },
        { pollMs: 100 },
      );
      const ferryDown = join(dir, "ferry-download");
      const down = await ferry(
        [
          "download",
          ferryDown,
          "--config",
          "lab-full", // OpenMSIStream's habit: a bare name, found in the config folder
          "--topic_name",
          topic,
          "--download_regex",
          regex,
          "--exit-when-idle",
          "3",
          "--broker-timeout",
          "60",
        ],
        { env: { ...ferryEnv, FERRY_CONFIG_DIR: dir } },
      );
      show("ferry download --config lab-full --download_regex (stderr)", down.stderr);
      assertEquals(down.code, 0, down.stderr);
      const omsSelection = await listFiles(omsDown);
      show("selected by both", omsSelection.join("\n"));
      assertEquals(await listFiles(ferryDown), omsSelection);
      assertEquals(omsSelection, ["f1.bin", "f2.bin", "run1/scan.tif"]);

      // 6. The config's [s3] and [metadata] sections (not acted on): one warning each.
      for (const section of ["s3", "metadata"]) {
        const lines = down.stderr.split("\n").filter((l) => l.includes(`[${section}]`));
        assertEquals(lines.length, 1, `warnings for [${section}]:\n${down.stderr}`);
      }
      // OpenMSIStream's [consumer] section reaches no client that does not read it.
      for (const stderr of [down.stderr, run.stderr, takeover.stderr]) {
        assert(!stderr.includes("CONFWARN"), stderr);
      }
    });
  }, "ferry-switch-");
});
