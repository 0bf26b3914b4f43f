/**
 * `ferry upload --watch` when the inotify watch limit is reached, for real: the command runs in a
 * user namespace of its own (`unshare --user --map-root-user`) whose inotify watch limit
 * (`/proc/sys/user/max_inotify_watches`, counted per user namespace) is set low; the machine's
 * own limit is not touched. Deno's `watchFs` then fails with "OS file watch limit reached", when
 * the watch begins (more folders than the limit) or later (new folders past the limit); either
 * way the command warns, naming the limit and how to raise it, polls instead, and every file is
 * uploaded exactly once.
 */

import { join } from "node:path";
import { hashHex, sha512 } from "../../src/hash/sha512.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { CLI } from "../support/cli.ts";
import { withTempDir } from "../support/files.ts";
import { killAfter } from "../support/processor.ts";
import { readTopic, rebuild } from "../support/upload.ts";
import { sleep, waitUntil } from "../support/wait.ts";
import { collect } from "../support/watch.ts";

/** `ferry <args>` in a user namespace whose inotify watch limit is `watches`. */
function startWithWatchLimit(watches: number, args: readonly string[]): Deno.ChildProcess {
  const child = new Deno.Command("unshare", {
    args: [
      ...["--user", "--map-root-user", "sh", "-c"],
      'echo "$0" > /proc/sys/user/max_inotify_watches && shift && exec "$@"',
      ...[String(watches), "--", Deno.execPath(), "run", "-A", CLI, ...args],
    ],
    env: { FERRY_BOOTSTRAP_SERVERS: "", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  killAfter(child, 120_000);
  return child;
}

/**
 * Watches `dir` (holding `existingFolders` empty folders) under a limit of `watches`, writes 40
 * files into 20 new folders, and checks the topic and the warning. Returns standard error.
 */
async function runOverLimit(existingFolders: number, watches: number): Promise<string> {
  let stderrText = "";
  await withTempDir(async (dir) => {
    for (let i = 0; i < existingFolders; i++) await Deno.mkdir(join(dir, `old-${i}`));
    await withTopic(2, async (topic) => {
      const child = startWithWatchLimit(watches, [
        ...["upload", dir, "--watch", "-t", topic, "-b", BOOTSTRAP, "--settle-seconds", "1"],
      ]);
      const stderr = collect(child.stderr);
      const stdout = collect(child.stdout);
      let stopped = false;
      try {
        await waitUntil(
          () => stderr.text().includes("Watching ") || stderr.text().includes("unshare:"),
          "the watch to start",
          60_000,
        );
        assert(!stderr.text().includes("unshare:"), `no user namespace: ${stderr.text()}`);
        const expected = new Map<string, string>();
        for (let i = 0; i < 40; i++) {
          const folder = `new-${Math.floor(i / 2)}/inner`;
          await Deno.mkdir(join(dir, folder), { recursive: true });
          const bytes = testBytes(1000 + i * 37, i);
          await Deno.writeFile(join(dir, folder, `f-${i}.dat`), bytes);
          expected.set(`${folder}/f-${i}.dat`, hashHex(sha512(bytes)));
          await sleep(50);
        }
        await waitUntil(
          async () => (await readTopic(topic, expected.size, { timeoutMs: 5000 })).length >= 40,
          "40 chunk messages",
          60_000,
        );
        await sleep(3000); // nothing more may come
        child.kill("SIGINT");
        stopped = true;
        const status = await child.status;
        await Promise.all([stderr.done, stdout.done]);
        stderrText = stderr.text();
        assertEquals(status.code, 0, stderrText.slice(-3000));
        const messages = await readTopic(topic, Number.MAX_SAFE_INTEGER, { timeoutMs: 4000 });
        assertEquals(messages.length, expected.size, "one message per file, none twice");
        const files = rebuild(messages);
        assertEquals(
          new Map([...files].map(([path, f]) => [path, hashHex(sha512(f.bytes))])),
          expected,
        );
      } finally {
        if (!stopped) child.kill("SIGKILL");
      }
    });
  }, "ferry-watch-limit-");
  // The warning names the limit and how to raise it.
  assert(
    /Cannot watch .* for change events \(OS file watch limit reached\./.test(stderrText),
    stderrText,
  );
  assert(stderrText.includes("The inotify watch limit is reached"), stderrText);
  assert(stderrText.includes("sudo sysctl fs.inotify.max_user_watches=1048576"), stderrText);
  return stderrText;
}

Deno.test("--watch over more folders than the inotify watch limit polls instead, with a warning", async () => {
  const stderr = await runOverLimit(12, 5);
  assert(/Watching .*polling every/.test(stderr), stderr);
});

Deno.test("--watch reaching the inotify watch limit while running switches to polling, with a warning", async () => {
  const stderr = await runOverLimit(2, 12);
  assert(/Watching .*change events/.test(stderr), stderr);
  const watching = stderr.indexOf("Watching ");
  assert(stderr.indexOf("Cannot watch ") > watching, "the warning comes once the watch ran");
});
