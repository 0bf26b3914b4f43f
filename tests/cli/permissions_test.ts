/**
 * The example processor runs with exactly the permissions `ferry permissions` prints, against
 * the real broker; without `--allow-ffi` (or with one scoped to the library) it fails with a
 * message naming the flag. A script `ferry new` wrote outside the checkout runs with the printed
 * line as printed (through bash), from another folder.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, withTopic } from "../support/broker.ts";
import { sha256Hex, testBytes } from "../support/bytes.ts";
import { putFiles, type TestFile } from "../support/chunks.ts";
import { ferry } from "../support/cli.ts";
import { withTempDir } from "../support/files.ts";
import { repoPath, runProcessor } from "../support/processor.ts";
import { shell } from "../support/shell.ts";
import { putRecords } from "../support/records.ts";
import { uploadTree } from "../support/upload.ts";
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
        "--allow-env=FERRY_CONFIG,FERRY_CONFIG_DIR,FERRY_TOPIC,FERRY_BOOTSTRAP_SERVERS,FERRY_LOG_LEVEL,FERRY_RDKAFKA_PATH," +
        "CLICOLOR_FORCE,FERRY_TEST_PERM_BOOTSTRAP",
        "--allow-sys=hostname",
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
      // With exactly these flags it joins as a static member (its id needs the host name).
      assert(/static member ferry-/.test(run.stderr), run.stderr);
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

Deno.test("a record processor runs with exactly the printed flags: a static member, metrics served", async () => {
  await withTopic(2, async (topic) => {
    await withTempDir(async (dir) => {
      const out = `${dir}/out`;
      const state = `${dir}/state`;
      // Printed and run for one user: the state folder comes from XDG_STATE_HOME.
      const env = { XDG_STATE_HOME: state };
      const printed = await ferry(
        ["permissions", "examples/record_counts.ts", "--output-dir", out, "--metrics-port", "0"],
        { env },
      );
      assertEquals(printed.code, 0, printed.stderr);
      const words = printed.stdout.trim().split(" ");
      const script = words.indexOf(repoPath("examples/record_counts.ts"));
      assert(script > 2, printed.stdout);
      const flags = words.slice(2, script);
      const root = repoPath("").replace(/\/$/, "");
      assertEquals(flags, [
        "--allow-ffi",
        `--allow-read=${root}/mod.ts,${root}/src,${root}/examples,${out},${state}/ferry/members`,
        `--allow-write=${out},${state}/ferry/members`,
        "--allow-env=FERRY_CONFIG,FERRY_CONFIG_DIR,FERRY_TOPIC,FERRY_BOOTSTRAP_SERVERS,FERRY_LOG_LEVEL,FERRY_RDKAFKA_PATH," +
        "CLICOLOR_FORCE,XDG_STATE_HOME,HOME",
        "--allow-sys=hostname",
        "--allow-net=127.0.0.1",
      ]);
      await putRecords(topic, 2, 40);
      const args = [
        ...words.slice(script + 1),
        "--topic",
        topic,
        "--metrics-port",
        "0",
        "--every-seconds",
        "0.2",
        "--exit-when-idle",
        "2",
      ];
      const run = await runProcessor("examples/record_counts.ts", args, 90_000, {
        permissions: flags,
        env,
      });
      assertEquals(run.code, 0, run.stderr);
      // Its slot in the state folder gives it a static id; the metrics endpoint listened.
      assert(/static member ferry-.+-0\b/.test(run.stderr), run.stderr);
      assert(/Metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/.test(run.stderr), run.stderr);
      for (const p of [0, 1]) {
        const saved = JSON.parse(await Deno.readTextFile(`${out}/counts-${p}.json`));
        assertEquals(saved.nextOffset, 40);
      }
    }, "ferry-perm-");
  });
});

Deno.test("for a script ferry new wrote outside the checkout, the printed line runs as printed from any folder", async () => {
  await withTempDir(async (dir) => {
    const made = await ferry(["new", "tally", "--dir", "jobs"], { cwd: dir });
    assertEquals(made.code, 0, made.stderr);
    const printed = await ferry(["permissions", "jobs/tally.ts", "--output-dir", "out"], {
      cwd: dir,
    });
    assertEquals(printed.code, 0, printed.stderr);
    const line = printed.stdout.trim();
    // The script's own deno.json maps Ferry's packages: no --config, absolute paths only.
    assert(line.startsWith("deno run --allow-ffi --allow-read="), line);
    assert(line.includes(` ${dir}/jobs/tally.ts --output-dir ${dir}/out`), line);
    assert(!line.includes("--config"), line);

    // Run from another folder, as printed: --help, then against the broker.
    await Deno.mkdir(`${dir}/elsewhere`);
    const help = await shell(`${line} --help`, { cwd: `${dir}/elsewhere` });
    assertEquals(help.code, 0, help.stderr);
    assert(help.stdout.startsWith("Usage: tally"), help.stdout);
    await withTopic(1, async (topic) => {
      await uploadTree(topic, `${dir}/data`, { "a.txt": "alpha\nbeta\n", "b/c.csv": "x,y\n" }, {
        uploadLogDir: false,
      });
      const run = await shell(
        `${line} --topic ${topic} --bootstrap-servers ${BOOTSTRAP} --exit-when-idle 2`,
        { cwd: `${dir}/elsewhere`, timeoutMs: 90_000 },
      );
      assertEquals(run.code, 0, run.stderr);
      const rows = (await Deno.readTextFile(`${dir}/out/results.csv`)).trim().split("\n").sort();
      assertEquals(rows, ['"a.txt",11,"alpha"', '"b/c.csv",4,"x,y"']);
    });

    // A script outside the checkout without a deno.json of its own: --config names Ferry's.
    await Deno.mkdir(`${dir}/plain`);
    await Deno.writeTextFile(
      `${dir}/plain/p.ts`,
      (await Deno.readTextFile(`${dir}/jobs/tally.ts`)).replace(
        '"@ferry/ferry"',
        JSON.stringify(repoPath("mod.ts")),
      ),
    );
    const plain = await ferry(["permissions", `${dir}/plain/p.ts`, "-o", `${dir}/out2`]);
    assertEquals(plain.code, 0, plain.stderr);
    const plainLine = plain.stdout.trim();
    assert(plainLine.startsWith(`deno run --config ${repoPath("deno.json")} `), plainLine);
    const plainHelp = await shell(`${plainLine} --help`, { cwd: `${dir}/elsewhere` });
    assertEquals(plainHelp.code, 0, plainHelp.stderr);
  }, "ferry-perm-");
});
