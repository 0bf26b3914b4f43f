/**
 * `ferry download` as a user runs it: files rebuilt byte-identical at
 * `<output-dir>/<relative path>`, a restart that downloads nothing again, OpenMSIStream's flag
 * spellings and positional output directory, the download regex, one default group per output
 * directory, and usage errors (exit 2).
 */

import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { type CliRun, ferry } from "../support/cli.ts";
import { withTempDir } from "../support/files.ts";
import { assertRebuiltTree, uploadTree } from "../support/upload.ts";
import { readOutputStatus } from "../../src/registry/output_status.ts";

const FILES: Record<string, Uint8Array> = {
  "small.txt": new TextEncoder().encode("hello from Ferry\n"),
  "run1/raw/scan ü;%.dat": testBytes(16_384 * 5 + 3, 51),
  "run1/big.bin": testBytes(600_000, 52),
  "run2/one chunk.csv": testBytes(16_384, 53),
};

/** Uploads FILES with Ferry (a file's chunks in one partition) into a fresh 3-partition topic. */
async function withUploadedTopic(fn: (topic: string, dir: string) => Promise<void>) {
  await withTempDir(async (dir) => {
    await withTopic(3, async (topic) => {
      await uploadTree(topic, join(dir, "up"), FILES);
      await fn(topic, dir);
    });
  });
}

/** `ferry download -t <topic> -o <out>` on the test broker until idle for 1 s, plus `extra`. */
function download(topic: string, out: string, ...extra: string[]): Promise<CliRun> {
  return ferry([
    "download",
    "-t",
    topic,
    "-o",
    out,
    "-b",
    BOOTSTRAP,
    "--exit-when-idle=1",
    ...extra,
  ]);
}

/** The names in a directory, sorted. */
async function names(dir: string): Promise<string[]> {
  const out = [];
  for await (const entry of Deno.readDir(dir)) out.push(entry.name);
  return out.sort();
}

Deno.test("ferry download rebuilds every file byte-identical at <output-dir>/<relative path>; a restart downloads nothing again", async () => {
  await withUploadedTopic(async (topic, dir) => {
    const out = join(dir, "down");
    const first = await download(topic, out);
    assertEquals(first.code, 0, first.stderr);
    assert(first.stdout.startsWith(`Rebuilt 4 file(s) into ${JSON.stringify(out)}`), first.stdout);
    await assertRebuiltTree(out, FILES);
    const status = await readOutputStatus(out);
    assertEquals(status?.totals, { processed: 4, failed: 0, inProgress: 0, retired: 0 });
    assert(/^ferry-download-.*-[0-9a-f]{12}$/.test(status!.processors[0].group), "default group");
    // Nothing but the files and Ferry's own folder in the output directory.
    assertEquals(await names(out), [".ferry", "run1", "run2", "small.txt"]);

    // Again, with OpenMSIStream's spellings and the output directory as the first argument
    // (the same directory, so the same default group): nothing is downloaded twice.
    const second = await ferry([
      "download",
      out,
      "--topic_name",
      topic,
      "--n_threads",
      "1",
      "--logger_stream_level",
      "WARNING",
      "-b",
      BOOTSTRAP,
      "--exit-when-idle=1",
    ]);
    assertEquals(second.code, 0, second.stderr);
    assert(second.stdout.startsWith("Rebuilt 0 file(s)"), second.stdout);
    assert(!second.stderr.includes("[INF]"), `warnings only:\n${second.stderr}`);
    assertEquals((await readOutputStatus(out))?.totals.processed, 4);
  });
});

Deno.test("ferry download: --download-regex selects files, and another output directory gets every file", async () => {
  await withUploadedTopic(async (topic, dir) => {
    const only = join(dir, "only-run1");
    const regex = await download(topic, only, "--download-regex", "^run1/", "--workers", "3");
    assertEquals(regex.code, 0, regex.stderr);
    assert(regex.stdout.startsWith("Rebuilt 2 file(s)"), regex.stdout);
    assert(/ [1-9]\d* chunk\(s\) filtered out/.test(regex.stdout), regex.stdout);
    await assertRebuiltTree(only, {
      "run1/raw/scan ü;%.dat": FILES["run1/raw/scan ü;%.dat"],
      "run1/big.bin": FILES["run1/big.bin"],
    });
    assertEquals(await names(only), [".ferry", "run1"], "small.txt and run2/ filtered out");
    // A second directory has its own default group, so it gets every file.
    const all = join(dir, "all");
    const again = await download(topic, all);
    assertEquals(again.code, 0, again.stderr);
    await assertRebuiltTree(all, FILES);
  });
});

Deno.test("ferry download: usage errors exit 2 with a message, --help exits 0", async () => {
  await withTempDir(async (dir) => {
    const cases: [string[], string][] = [
      [["download", "-o", dir, "-b", BOOTSTRAP], "required option '-t, --topic <name>'"],
      [["download", "-t", "t", "-b", BOOTSTRAP], "No output directory given"],
      [["download", `${dir}/a`, "-o", `${dir}/b`, "-t", "t"], "Two output directories given"],
      [["download", "-t", "t", "-o", dir, "--download-regex", "("], "--download-regex"],
      [["download", "-t", "t", "-o", dir, "--workers", "0"], '"0" is not a whole number'],
      [["download", "-t", "t", "-o", dir, "--log-level", "loud"], 'Log level "loud"'],
      [["download", "-t", "t", "-o", dir, "--mode", "memory"], "unknown option '--mode'"],
      [["download", "-t", "t", "-o", dir, "-c", `${dir}/none.config`], "none.config"],
    ];
    for (const [args, expected] of cases) {
      const run = await ferry(args);
      assertEquals(run.code, 2, `${args.join(" ")}\n${run.stderr}`);
      assert(run.stderr.includes(expected), `${args.join(" ")}: ${run.stderr}`);
    }
    const help = await ferry(["download", "--help"]);
    assertEquals(help.code, 0, help.stderr);
    assert(help.stdout.includes("--exit-when-idle"), help.stdout);
    assert(help.stdout.includes("single process per group"), help.stdout);
  });
});

Deno.test("ferry download: a topic that does not exist is a runtime failure (exit 1) naming it", async () => {
  await withTempDir(async (dir) => {
    const run = await download("ferry-no-such-topic", join(dir, "out"));
    assertEquals(run.code, 1, run.stderr);
    assert(run.stderr.includes("ferry-no-such-topic"), run.stderr);
  });
});
