/**
 * The example processor runs with exactly the permissions `ferry permissions` prints, against
 * the real broker; without `--allow-ffi` (or with one scoped to the library) it fails with a
 * message naming the flag.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, withTopic } from "../support/broker.ts";
import { sha256Hex, testBytes } from "../support/bytes.ts";
import { putFiles, type TestFile } from "../support/chunks.ts";
import { ferry } from "../support/cli.ts";
import { withTempDir } from "../support/files.ts";
import { repoPath, runProcessor } from "../support/processor.ts";
import { librdkafkaVersion, loadedLibraryPath } from "../../src/kafka/mod.ts";

/** Runs `ferry permissions` and returns the printed line split into words (no quoting needed). */
async function printedLine(args: string[]): Promise<string[]> {
  const out = await ferry(["permissions", ...args]);
  assertEquals(out.code, 0, out.stderr);
  const line = out.stdout.trim();
  assert(!line.includes("'"), `unexpected quoting: ${line}`);
  return line.split(" ");
}

/** The full path of the librdkafka this process loads. */
async function libraryPath(): Promise<string> {
  librdkafkaVersion();
  const loaded = loadedLibraryPath()!;
  if (loaded.startsWith("/")) return await Deno.realPath(loaded);
  const folders = [
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
    "/opt/homebrew/lib",
  ];
  for (const folder of folders) {
    try {
      return await Deno.realPath(`${folder}/${loaded}`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  throw new Error(`Cannot find "${loaded}" in ${folders.join(", ")}: set FERRY_RDKAFKA_PATH.`);
}

Deno.test("examples/checksum.ts runs with exactly the flags `ferry permissions` prints", async () => {
  await withTopic(2, async (topic) => {
    await withTempDir(async (dir) => {
      const out = `${dir}/out`;
      const config = `${dir}/ferry.config`;
      await Deno.writeTextFile(
        config,
        "[broker]\nbootstrap.servers = $FERRY_TEST_PERM_BOOTSTRAP\n[consumer]\nauto.offset.reset = earliest\n",
      );
      const words = await printedLine([
        "examples/checksum.ts",
        "--output-dir",
        out,
        "--config",
        config,
      ]);
      const line = words.join(" ");
      // deno-lint-ignore no-console
      console.log(line);
      assertEquals(words.slice(0, 2), ["deno", "run"]);
      const script = words.indexOf(repoPath("examples/checksum.ts"));
      assert(script > 2, line);
      const flags = words.slice(2, script);
      const root = repoPath("").replace(/\/$/, "");
      assertEquals(flags, [
        "--allow-ffi",
        `--allow-read=${root}/mod.ts,${root}/src,${root}/examples,${out},${config}`,
        `--allow-write=${out}`,
        "--allow-env=FERRY_CONFIG,FERRY_TOPIC,FERRY_BOOTSTRAP_SERVERS,FERRY_LOG_LEVEL,FERRY_RDKAFKA_PATH," +
        "FERRY_TEST_PERM_BOOTSTRAP",
      ]);
      assertEquals(words.slice(script + 1), ["--output-dir", out, "--config", config]);

      const files: TestFile[] = [
        { path: "a.bin", bytes: testBytes(200_000, 1) },
        { path: "run1/b.dat", bytes: testBytes(30_000, 2) },
        { path: "run1/deep/c.txt", bytes: new TextEncoder().encode("hello\n") },
      ];
      await putFiles(topic, files, { partitions: 2, chunkSize: 64 * 1024 });
      const env = { FERRY_TEST_PERM_BOOTSTRAP: BOOTSTRAP, FERRY_BOOTSTRAP_SERVERS: "" };
      const args = [...words.slice(script + 1), "--topic", topic, "--exit-when-idle", "2"];

      const run = await runProcessor("examples/checksum.ts", args, 90_000, {
        permissions: flags,
        bootstrap: false,
        env,
      });
      assertEquals(run.code, 0, run.stderr);
      const lines = (await Deno.readTextFile(`${out}/checksums.csv`)).trim().split("\n").sort();
      const want = await Promise.all(
        files.map(async (f) =>
          `${JSON.stringify(f.path)},${f.bytes.length},${await sha256Hex(f.bytes)}`
        ),
      );
      assertEquals(lines, want.sort());

      // Without --allow-ffi: a message naming the flag, exit 1, no stack trace.
      const noFfi = await runProcessor("examples/checksum.ts", args, 60_000, {
        permissions: flags.filter((f) => f !== "--allow-ffi"),
        bootstrap: false,
        env,
      });
      assertEquals(noFfi.code, 1, noFfi.stderr);
      assert(/run Deno with --allow-ffi/.test(noFfi.stderr), noFfi.stderr);
      assert(!/^\s+at /m.test(noFfi.stderr), noFfi.stderr);

      // --allow-ffi scoped to the library loads it, but cannot read its structures: said so.
      const library = await libraryPath();
      const scoped = await runProcessor("examples/checksum.ts", args, 60_000, {
        permissions: [
          `--allow-ffi=${library}`,
          ...flags.filter((f) => f !== "--allow-ffi"),
        ],
        bootstrap: false,
        env: { ...env, FERRY_RDKAFKA_PATH: library },
      });
      assertEquals(scoped.code, 1, scoped.stderr);
      assert(/needs --allow-ffi without a path/.test(scoped.stderr), scoped.stderr);
    }, "ferry-perm-");
  });
});
