/**
 * `ferry service`: the units it writes pass `systemd-analyze verify` (Debian's systemd package,
 * installed through scripts/lib.sh when missing), keep secrets out of the unit, and their
 * command line runs for real: started as systemd would start it (its ExecStart, its working
 * directory, its Environment= lines and the environment file's variables, nothing else), it
 * processes files from the broker with the narrowest permissions, and stops with exit 0 on
 * SIGTERM within TimeoutStopSec. Where systemd is not the service manager (containers, CI:
 * PID 1 is not systemd), installing fails with a message saying so.
 */

import { assert, assertEquals } from "../support/assert.ts";
import {
  BOOTSTRAP,
  SASL_BOOTSTRAP,
  SASL_PASSWORD,
  SASL_USERNAME,
  withTopic,
} from "../support/broker.ts";
import { sha256Hex, testBytes } from "../support/bytes.ts";
import { putFiles } from "../support/chunks.ts";
import { ferry } from "../support/cli.ts";
import { withTempDir, writeTree } from "../support/files.ts";
import { killAfter, readCalls, repoPath } from "../support/processor.ts";
import { freePort } from "../support/net.ts";
import { readTopic } from "../support/upload.ts";
import { waitUntil } from "../support/wait.ts";

const decoder = new TextDecoder();

/** Where systemd-analyze is, installing Debian's systemd package when it is missing. */
async function requireSystemdAnalyze(): Promise<void> {
  const found = async () =>
    (await new Deno.Command("bash", { args: ["-c", "command -v systemd-analyze"] }).output())
      .success;
  if (await found()) return;
  const lib = repoPath("scripts/lib.sh");
  const install = await new Deno.Command("bash", {
    args: ["-c", `. ${lib} && ferry_apt_install systemd`],
  }).output();
  if (!(await found())) {
    throw new Error(
      "systemd-analyze is missing and installing Debian's systemd package failed: run " +
        "`apt-get install systemd` as root.\n" + decoder.decode(install.stderr),
    );
  }
}

/** Runs `systemd-analyze verify` on a unit file; its exit code and output. */
async function verify(unit: string): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command("systemd-analyze", {
    args: ["verify", "--man=no", unit],
    env: { SYSTEMD_LOG_COLOR: "0" },
  }).output();
  return { code: out.code, output: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

/** Splits a systemd command line into words (double quotes, C escapes, `$$` and `%%`). */
function systemdWords(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === " ") i++;
    if (i >= line.length) break;
    let word = "";
    const quoted = line[i] === '"';
    if (quoted) i++;
    while (i < line.length && (quoted ? line[i] !== '"' : line[i] !== " ")) {
      if (line[i] === "\\") i++;
      word += line[i++];
    }
    if (quoted) i++;
    words.push(word.replaceAll("$$", () => "$").replaceAll("%%", "%"));
  }
  return words;
}

/** One `Key=` line of a unit (the last), or all of them. */
function unitValues(unit: string, key: string): string[] {
  return unit.split("\n").filter((l) => l.startsWith(`${key}=`)).map((l) =>
    l.slice(key.length + 1)
  );
}

/**
 * Starts a unit's command as systemd would: ExecStart in WorkingDirectory with only the unit's
 * Environment= variables, the environment file's, and systemd's PATH.
 */
function startUnit(unit: string, envFile: Record<string, string>): Deno.ChildProcess {
  const [program, ...args] = systemdWords(unitValues(unit, "ExecStart")[0]);
  const env: Record<string, string> = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ...envFile,
  };
  for (const value of unitValues(unit, "Environment")) {
    const [assignment] = systemdWords(value);
    const at = assignment.indexOf("=");
    env[assignment.slice(0, at)] = assignment.slice(at + 1);
  }
  const child = new Deno.Command(program, {
    args,
    cwd: systemdWords(unitValues(unit, "WorkingDirectory")[0])[0],
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  killAfter(child, 120_000);
  return child;
}

/** Sends SIGTERM; the exit code and output, checked to come within the unit's TimeoutStopSec. */
async function stopUnit(child: Deno.ChildProcess, unit: string): Promise<Deno.CommandOutput> {
  const timeout = Number(unitValues(unit, "TimeoutStopSec")[0]);
  assert(timeout > 0, "TimeoutStopSec is set");
  const started = Date.now();
  child.kill("SIGTERM");
  const output = await child.output();
  assert(Date.now() - started < timeout * 1000, "stopped within TimeoutStopSec");
  return output;
}

Deno.test("a processor's unit verifies, keeps its secret out, and its command runs as systemd would run it", async () => {
  await requireSystemdAnalyze();
  await withTopic(2, (topic) =>
    withTopic(1, (heartbeats) =>
      withTempDir(async (dir) => {
        const files = [0, 1, 2].map((i) => ({
          path: `scan/${i}.dat`,
          bytes: testBytes(10_000 + i, i),
        }));
        await putFiles(topic, files, { partitions: 2 });
        const config = `${dir}/lab.config`;
        await Deno.writeTextFile(
          config,
          "[broker]\nbootstrap.servers = $SVC_TEST_BOOTSTRAP\nsecurity.protocol = SASL_PLAINTEXT\n" +
            "sasl.mechanism = PLAIN\nsasl.username = $SVC_TEST_USER\n" +
            "sasl.password = $SVC_TEST_SECRET\n[consumer]\nauto.offset.reset = earliest\n",
        );
        const secrets = {
          SVC_TEST_BOOTSTRAP: SASL_BOOTSTRAP,
          SVC_TEST_USER: SASL_USERNAME,
          SVC_TEST_SECRET: SASL_PASSWORD,
        };
        const out = `${dir}/out`;
        const port = freePort();
        const install = await ferry([
          ...["service", "install", "--dry-run", "--name", "svc-test", "--"],
          ...["tests/fixtures/recording_processor.ts", "--topic", topic, "--output-dir", out],
          ...["--config", config, "--stop-grace", "5", "--heartbeat-topic", heartbeats],
          ...["--heartbeat-interval", "1", "--metrics-port", String(port)],
        ], { env: secrets, cwd: repoPath(".") });
        assertEquals(install.code, 0, install.stderr);
        const unit = install.stdout;
        assert(!unit.includes(SASL_PASSWORD), `the secret is in the unit:\n${unit}`);
        assertEquals(unitValues(unit, "EnvironmentFile"), ["/etc/ferry/svc-test.env"]);
        assert(unit.includes("holds SVC_TEST_BOOTSTRAP, SVC_TEST_USER, SVC_TEST_SECRET."), unit);
        assertEquals(unitValues(unit, "Restart"), ["on-failure"]);
        assertEquals(unitValues(unit, "KillSignal"), ["SIGTERM"]);
        assertEquals(unitValues(unit, "TimeoutStopSec"), ["35"], "stop grace 5 s + 30 s");
        assertEquals(unitValues(unit, "StandardError"), ["journal"]);
        assertEquals(unitValues(unit, "WantedBy"), ["multi-user.target"]);
        const words = systemdWords(unitValues(unit, "ExecStart")[0]);
        assert(!words.includes("-A") && !words.includes("--allow-all"), words.join(" "));
        assert(words.includes(`--allow-write=${out}`), `writes only ${out}: ${words.join(" ")}`);
        assert(
          words.some((w) => w.startsWith("--allow-env=") && w.includes("SVC_TEST_SECRET")),
          "reads the environment file's variables",
        );
        assertEquals(
          words.filter((w) => w.startsWith("--allow-net")),
          [`--allow-net=127.0.0.1:${port}`],
          "the network only for the metrics port",
        );

        const path = `${dir}/svc-test.service`;
        await Deno.writeTextFile(path, unit);
        const verified = await verify(path);
        assertEquals(verified.code, 0, verified.output);
        // The check can fail: a relative ExecStart is refused.
        const broken = `${dir}/svc-broken.service`;
        await Deno.writeTextFile(broken, unit.replace(/^ExecStart=\S+/m, "ExecStart=deno"));
        assert((await verify(broken)).code !== 0, "systemd-analyze refuses a broken unit");

        const child = startUnit(unit, secrets);
        await waitUntil(
          async () => (await readCalls(out)).length === files.length,
          "the service's command to process every file",
          90_000,
        );
        // Its metrics endpoint answers under those permissions.
        const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        assert(
          metrics.includes(`ferry_files_processed_total{processor="recording",topic="${topic}"} 3`),
          metrics,
        );
        const stopped = await stopUnit(child, unit);
        const stderr = decoder.decode(stopped.stderr);
        assertEquals(stopped.code, 0, stderr);
        assert(!stderr.includes(SASL_PASSWORD), "the secret stays out of the log");
        const calls = await readCalls(out);
        for (const file of files) {
          const call = calls.find((c) => c.path === file.path);
          assert(call !== undefined, `${file.path} not processed`);
          assertEquals(call.size, file.bytes.length);
        }
        // Its heartbeats went out with the default program id (--allow-sys=hostname).
        const beats = await readTopic(heartbeats, 2, { timeoutMs: 10_000 });
        assert(beats.length >= 2, `heartbeats: ${beats.length}`);
        const key = decoder.decode(beats[0].key ?? new Uint8Array());
        assertEquals(key, `recording@${Deno.hostname()}_heartbeat`);
      })));
});

Deno.test("download and upload --watch units verify and move a file end to end", async () => {
  await requireSystemdAnalyze();
  await withTopic(1, (topic) =>
    withTempDir(async (dir) => {
      const watched = `${dir}/instrument`;
      const bytes = testBytes(50_000, 7);
      await writeTree(watched, { "run1/image.raw": bytes });
      const received = `${dir}/received`;
      const state = `${dir}/state`;
      const env = { XDG_STATE_HOME: state };
      const upload = await ferry([
        ...["service", "install", "--dry-run", "--user", "--"],
        ...["upload", "--watch", watched, "--upload-existing", "--topic", topic],
        ...["-b", BOOTSTRAP, "--settle-seconds", "0.5"],
      ], { env });
      assertEquals(upload.code, 0, upload.stderr);
      const download = await ferry([
        ...["service", "install", "--dry-run", "--user", "--name", "lab-download", "--"],
        ...["download", "--topic", topic, "--output-dir", received, "-b", BOOTSTRAP],
        // A backslash and a "$" go through systemd's quoting.
        ...["--download-regex", "\\.raw$"],
      ], { env });
      assertEquals(download.code, 0, download.stderr);
      for (
        const [name, unit] of [["ferry-upload", upload.stdout], ["lab-download", download.stdout]]
      ) {
        assertEquals(unitValues(unit, "WantedBy"), ["default.target"], "a --user unit");
        assertEquals(unitValues(unit, "EnvironmentFile"), [], "no variables, no file");
        const path = `${dir}/${name}.service`;
        await Deno.writeTextFile(path, unit);
        const verified = await verify(path);
        assertEquals(verified.code, 0, `${name}: ${verified.output}`);
      }
      assert(download.stdout.includes('"\\\\.raw$$"'), "quoted for systemd");
      assert(
        unitValues(upload.stdout, "Environment").includes(`XDG_STATE_HOME=${state}`),
        "the upload log stays where uploads by hand keep it",
      );
      assert(
        / --v8-flags=--max-semi-space-size=2 \S+\/cli\.ts upload /.test(
          unitValues(upload.stdout, "ExecStart")[0],
        ),
        "the watch runs with a small young generation",
      );
      assert(
        / --v8-flags=--max-semi-space-size=2 \S+\/cli\.ts download /.test(
          unitValues(download.stdout, "ExecStart")[0],
        ),
        "so does the download",
      );
      const uploader = startUnit(upload.stdout, {});
      const downloader = startUnit(download.stdout, {});
      try {
        await waitUntil(
          async () => {
            try {
              return await sha256Hex(await Deno.readFile(`${received}/run1/image.raw`)) ===
                await sha256Hex(bytes);
            } catch (error) {
              if (error instanceof Deno.errors.NotFound) return false;
              throw error;
            }
          },
          "the watched file to arrive in the download folder",
          90_000,
        );
      } finally {
        for (
          const [child, unit] of [[uploader, upload.stdout], [downloader, download.stdout]] as const
        ) {
          const stopped = await stopUnit(child, unit);
          assertEquals(stopped.code, 0, decoder.decode(stopped.stderr));
        }
      }
    }));
});

Deno.test("installing where systemd is not the service manager says so", async () => {
  let systemdRuns = true;
  try {
    await Deno.stat("/run/systemd/system");
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    systemdRuns = false;
  }
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/p.ts`, "// a processor\n");
    const run = await ferry([
      ...["service", "install", "--user", "--no-start", "--", `${dir}/p.ts`],
      ...["--topic", "t", "--output-dir", `${dir}/out`],
    ], { env: { XDG_CONFIG_HOME: `${dir}/config` } });
    if (systemdRuns) {
      // A machine booted with systemd: the user manager installs the unit, or says why not.
      assert(run.code === 0 || /user manager/.test(run.stderr), run.stderr);
    } else {
      assertEquals(run.code, 1, run.stderr);
      assert(run.stderr.includes("systemd is not running on this machine"), run.stderr);
      assert(run.stderr.includes("--dry-run"), "it says what to do instead");
    }
  });
  // A usage mistake is named before anything else.
  const noCommand = await ferry(["service", "install", "--dry-run", "--", "upload", "/tmp"]);
  assertEquals(noCommand.code, 2, noCommand.stderr);
  assert(noCommand.stderr.includes("Add --watch"), noCommand.stderr);
});
