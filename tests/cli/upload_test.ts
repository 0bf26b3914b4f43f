/**
 * `ferry upload` as a user runs it: a subprocess, exit codes, summary, OpenMSIStream flag
 * spellings, a config file with $VAR values, watch mode, where the upload log is kept (outside
 * the uploaded folder; an earlier `.ferry/` log read once).
 */
import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import {
  type CliOptions,
  type CliRun,
  ferry as runFerry,
  startFerry as start,
} from "../support/cli.ts";
import { listTree, withTempDir, writeTree } from "../support/files.ts";
import { readTopic, rebuild } from "../support/upload.ts";
import { sleep } from "../support/wait.ts";
import { uploadStateDir } from "../../src/files/layout.ts";

const decoder = new TextDecoder();

/** The per-user state folder of these tests (never the real ~/.local/state). */
const STATE_HOME = await Deno.makeTempDir({ prefix: "ferry-upload-state-" });
globalThis.addEventListener("unload", () => Deno.removeSync(STATE_HOME, { recursive: true }));

const withState = (options: CliOptions = {}): CliOptions => ({
  ...options,
  env: { XDG_STATE_HOME: STATE_HOME, ...options.env },
});
const ferry = (args: string[], options?: CliOptions): Promise<CliRun> =>
  runFerry(args, withState(options));
const startFerry = (args: string[], options?: CliOptions): Deno.ChildProcess =>
  start(args, withState(options));

Deno.test("usage errors exit 2 with a message: unknown flag, no topic, bad size, missing path", async () => {
  await withTempDir(async (dir) => {
    const bogus = await ferry(["upload", dir, "--bogus"]);
    assertEquals(bogus.code, 2);
    assert(bogus.stderr.includes("unknown option '--bogus'"), bogus.stderr);
    const noTopic = await ferry(["upload", dir, "-b", BOOTSTRAP]);
    assertEquals(noTopic.code, 2);
    assert(noTopic.stderr.includes("No topic given"), noTopic.stderr);
    const size = await ferry(["upload", dir, "-t", "t", "-b", BOOTSTRAP, "--chunk-size", "lots"]);
    assertEquals(size.code, 2);
    assert(size.stderr.includes('Size "lots" is not a number of bytes'), size.stderr);
    const missing = await ferry(["upload", `${dir}/nope`, "-t", "t", "-b", BOOTSTRAP]);
    assertEquals(missing.code, 2);
    assert(missing.stderr.includes("it does not exist"), missing.stderr);
    const noSub = await ferry(["frobnicate"]);
    assertEquals(noSub.code, 2);
  });
});

Deno.test("a config file naming an unset variable exits 2 naming the variable, file and line", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/f.config`,
      "[broker]\nbootstrap.servers = $FERRY_TEST_NOT_SET\n",
    );
    const run = await ferry(["upload", dir, "-t", "t", "--config", `${dir}/f.config`]);
    assertEquals(run.code, 2);
    assert(
      run.stderr.includes(
        `${dir}/f.config:2: Environment variable "FERRY_TEST_NOT_SET" is not set`,
      ),
      run.stderr,
    );
  });
});

Deno.test("--help lists the environment variables and exits 0", async () => {
  const run = await ferry(["upload", "--help"]);
  assertEquals(run.code, 0);
  for (const name of ["FERRY_TOPIC", "FERRY_BOOTSTRAP_SERVERS", "FERRY_CONFIG", "--topic_name"]) {
    assert(run.stdout.includes(name), `help lacks ${name}`);
  }
});

Deno.test("OpenMSIStream spellings and a $VAR config file upload a folder; summary on stdout; exit 0", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    await writeTree(data, { "run1/a.dat": testBytes(70_000, 1), "b.txt": "bee", "e": "" });
    await Deno.writeTextFile(
      `${dir}/ferry.config`,
      "[broker]\nbootstrap.servers = $MY_KAFKA\n\n[producer]\nlinger.ms = 10\n" +
        "value.serializer = DataFileChunkSerializer\n[consumer]\ngroup.id = create_new\n",
    );
    await withTopic(2, async (topic) => {
      const run = await ferry(
        [
          "upload",
          data,
          "--config",
          `${dir}/ferry.config`,
          "--topic_name",
          topic,
          "--chunk_size=65536",
        ],
        { env: { MY_KAFKA: BOOTSTRAP } },
      );
      assertEquals(run.code, 0, run.stderr);
      assert(run.stdout.startsWith("Uploaded 2 file(s)"), run.stdout);
      assert(run.stdout.includes("skipped 1 (0 already uploaded, 1 empty); failed 0."), run.stdout);
      const files = rebuild(await readTopic(topic, 3));
      assertEquals(files.get("run1/a.dat")!.chunks.size, 2, "65536-byte chunks");
      assertEquals(decoder.decode(files.get("b.txt")!.bytes), "bee");
    });
  });
});

Deno.test("an unreadable file fails, is named, and the run exits 1; the others are uploaded", async () => {
  await withTempDir(async (dir) => {
    await writeTree(dir, { "ok.dat": "fine", "secret.dat": "hidden from ferry" });
    await Deno.chmod(`${dir}/secret.dat`, 0o000);
    await withTopic(1, async (topic) => {
      // chmod 000 does not stop root, so Deno's own --deny-read makes sure it is unreadable.
      const run = await ferry(["upload", dir, "-t", topic, "-b", BOOTSTRAP, "-q"], {
        permissions: ["-A", `--deny-read=${dir}/secret.dat`],
      });
      assertEquals(run.code, 1, run.stderr);
      assert(run.stdout.includes("Uploaded 1 file(s)"), run.stdout);
      assert(
        run.stdout.includes('FAILED secret.dat: File "secret.dat" cannot be read'),
        run.stdout,
      );
      const files = rebuild(await readTopic(topic, 1));
      assertEquals([...files.keys()], ["ok.dat"]);
    });
  });
});

Deno.test("a missing topic is a runtime failure (exit 1) that names the topic", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a`, "a");
    const run = await ferry(["upload", dir, "-t", "ferry-no-such-topic", "-b", BOOTSTRAP]);
    assertEquals(run.code, 1);
    assert(run.stderr.includes('Topic "ferry-no-such-topic" is not available'), run.stderr);
  });
});

Deno.test("--watch uploads new files once settled, existing ones only with --upload-existing, and stops on SIGINT", async () => {
  await withTempDir(async (dir) => {
    await writeTree(dir, { "old.dat": "old" });
    await withTopic(1, async (topic) => {
      const child = startFerry([
        ...["upload", dir, "--watch", "-t", topic, "-b", BOOTSTRAP],
        ...["--settle-seconds", "0.5", "--log-level", "debug"],
      ], { timeoutMs: 60_000 });
      try {
        await sleep(2500);
        await writeTree(dir, { "new/one.dat": testBytes(100_000, 3), ".tmp.dat": "hidden" });
        const messages = await readTopic(topic, 1, { timeoutMs: 20_000 });
        const files = rebuild(messages);
        assertEquals([...files.keys()], ["new/one.dat"], "old.dat and .tmp.dat are not uploaded");
      } finally {
        child.kill("SIGINT");
      }
      const out = await child.output();
      const stdout = decoder.decode(out.stdout);
      assertEquals(out.code, 0, decoder.decode(out.stderr));
      assert(stdout.startsWith("Uploaded 1 file(s)"), stdout);

      // Restart with --upload-existing: old.dat goes, new/one.dat is in the log and skipped.
      const again = startFerry([
        ...["upload", dir, "--watch", "--upload-existing", "-t", topic, "-b", BOOTSTRAP],
        ...["--settle-seconds", "0.3"],
      ], { timeoutMs: 60_000 });
      try {
        const deadline = Date.now() + 20_000;
        let names: string[] = [];
        while (Date.now() < deadline) {
          names = [...rebuild(await readTopic(topic, 2, { timeoutMs: 2000 })).keys()].sort();
          if (names.length >= 2) break;
        }
        assertEquals(names, ["new/one.dat", "old.dat"]);
      } finally {
        again.kill("SIGINT");
      }
      const second = await again.output();
      const secondOut = decoder.decode(second.stdout);
      assertEquals(second.code, 0);
      assert(
        secondOut.includes("Uploaded 1 file(s)") && secondOut.includes("1 already uploaded"),
        secondOut,
      );
    });
  });
});

Deno.test("--logger_file_path <folder> logs to <folder>/upload.log; an unwritable log file is one line, exit 1", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.dat`, "a");
    await Deno.mkdir(`${dir}/logs`);
    await withTopic(1, async (topic) => {
      const run = await ferry([
        "upload",
        `${dir}/a.dat`,
        "-t",
        topic,
        "-b",
        BOOTSTRAP,
        "--logger_file_path",
        `${dir}/logs`,
        "--logger_file_level",
        "DEBUG",
      ]);
      assertEquals(run.code, 0, run.stderr);
      assertEquals([...Deno.readDirSync(`${dir}/logs`)].map((e) => e.name), ["upload.log"]);
      const log = await Deno.readTextFile(`${dir}/logs/upload.log`);
      assert(log.includes("[DBG] ferry.cli.upload: Producer configuration:"), log);
    });
    const bad = await ferry([
      "upload",
      `${dir}/a.dat`,
      "-t",
      "ferry-no-such-topic",
      "-b",
      BOOTSTRAP,
      "--log-file",
      `${dir}/a.dat/upload.log`,
    ]);
    assertEquals(bad.code, 1, bad.stderr);
    assertEquals(
      bad.stderr,
      `ferry: Cannot write the log file "${dir}/a.dat/upload.log": a part of the path is not a ` +
        "folder. Give --log-file a file or folder you can write to.\n",
    );
  });
});

/** The Deno cache this process uses (DENO_DIR, else the platform's cache folder). */
function denoDir(): string {
  const home = Deno.env.get("HOME") ?? "";
  return Deno.env.get("DENO_DIR") ??
    join(Deno.env.get("XDG_CACHE_HOME") ?? join(home, ".cache"), "deno");
}

Deno.test("the upload log goes to the per-user state folder, never into the uploaded folder", async () => {
  await withTempDir(async (dir) => {
    const data = join(dir, "instrument");
    await writeTree(data, { "scan1.tif": testBytes(40_000, 1), "run/scan2.tif": "two" });
    const state = join(dir, "state");
    const env = { XDG_STATE_HOME: state };
    await withTopic(1, async (topic) => {
      const first = await ferry(["upload", data, "-t", topic, "-b", BOOTSTRAP], { env });
      assertEquals(first.code, 0, first.stderr);
      assertEquals((await listTree(data)).sort(), ["run", "run/scan2.tif", "scan1.tif"]);
      const folder = uploadStateDir(state, data);
      assert(/\/ferry\/uploads\/[0-9a-f]{32}$/.test(folder), folder);
      assertEquals((await listTree(folder)).sort(), ["folder.txt", `upload_to_${topic}.jsonl`]);
      assertEquals(await Deno.readTextFile(join(folder, "folder.txt")), `${data}\n`);
      assert(first.stderr.includes(`Upload log: ${folder}/upload_to_${topic}.jsonl`), first.stderr);

      // From another current folder, with a relative path: the same state, nothing re-sent.
      const again = await ferry(["upload", "instrument", "-t", topic, "-b", BOOTSTRAP], {
        env,
        cwd: dir,
      });
      assertEquals(again.code, 0, again.stderr);
      assert(again.stdout.includes("skipped 2 (2 already uploaded, 0 empty)"), again.stdout);

      // HOME decides when XDG_STATE_HOME is not set.
      const home = join(dir, "home");
      const byHome = await ferry(["upload", data, "-t", topic, "-b", BOOTSTRAP], {
        // The same Deno cache as this test's (it follows HOME otherwise: a fresh download).
        env: { XDG_STATE_HOME: "", HOME: home, DENO_DIR: denoDir() },
      });
      assertEquals(byHome.code, 0, byHome.stderr);
      assert(
        (await listTree(uploadStateDir(join(home, ".local", "state"), data))).includes(
          `upload_to_${topic}.jsonl`,
        ),
      );

      // --upload-log-dir chooses the folder.
      const chosen = join(dir, "my-logs");
      const own = await ferry(
        ["upload", data, "-t", topic, "-b", BOOTSTRAP, "--upload-log-dir", chosen],
        { env },
      );
      assertEquals(own.code, 0, own.stderr);
      assertEquals(await listTree(chosen), [`upload_to_${topic}.jsonl`]);
      assertEquals(rebuild(await readTopic(topic, 6)).size, 2);
    });
  });
});

Deno.test("an upload log an earlier Ferry kept in <folder>/.ferry is read once, said once, and nothing is sent again", async () => {
  await withTempDir(async (dir) => {
    const data = join(dir, "data");
    await writeTree(data, { "a.dat": testBytes(30_000, 7), "b.dat": "bee" });
    await withTopic(1, async (topic) => {
      // What an earlier version left: its log inside the folder.
      const old = await ferry(
        ["upload", data, "-t", topic, "-b", BOOTSTRAP, "--upload-log-dir", join(data, ".ferry")],
      );
      assertEquals(old.code, 0, old.stderr);
      const legacy = join(data, ".ferry", `upload_to_${topic}.jsonl`);
      const legacyText = await Deno.readTextFile(legacy);
      await writeTree(data, { "c.dat": "sea" });

      const env = { XDG_STATE_HOME: join(dir, "state") };
      const first = await ferry(["upload", data, "-t", topic, "-b", BOOTSTRAP], { env });
      assertEquals(first.code, 0, first.stderr);
      assert(first.stdout.includes("Uploaded 1 file(s)"), first.stdout);
      assert(first.stdout.includes("skipped 2 (2 already uploaded, 0 empty)"), first.stdout);
      const said = first.stderr.split("\n").filter((l) => l.includes("Read the upload log"));
      assertEquals(said.length, 1, first.stderr);
      assert(said[0].includes(legacy) && said[0].includes("2 uploaded file(s)"), said[0]);
      assertEquals(await Deno.readTextFile(legacy), legacyText, "the old log is left as it was");

      const second = await ferry(["upload", data, "-t", topic, "-b", BOOTSTRAP], { env });
      assertEquals(second.code, 0, second.stderr);
      assert(second.stdout.includes("skipped 3 (3 already uploaded, 0 empty)"), second.stdout);
      assert(!second.stderr.includes("Read the upload log"), "said only once");
      const messages = await readTopic(topic, 3);
      assertEquals(messages.length, 3, "one chunk each of a, b and c: nothing sent twice");
      assertEquals(rebuild(messages).size, 3);
    });
  });
});
