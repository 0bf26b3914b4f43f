/**
 * The watch scenario of issue 22, shared by the event and the polling tests: `ferry upload
 * --watch` runs over an empty folder while files appear at about 50 a second in nested folders
 * made after the watch began (some renamed into place from hidden names, some deleted before
 * they settled), a folder of old files is moved in, and one file grows slowly, settles, and later
 * grows again. Then the topic must hold every settled file exactly once (one message per chunk,
 * the bytes on disk), the deleted ones never, the growing one twice (both generations), and the
 * progress lines the backlog.
 *
 * @module
 */

import { join } from "node:path";
import { decodeChunk } from "../../src/chunks/decode.ts";
import { hashHex, sha512 } from "../../src/hash/sha512.ts";
import { assert, assertEquals } from "./assert.ts";
import { BOOTSTRAP, withTopic } from "./broker.ts";
import { testBytes } from "./bytes.ts";
import { startFerry } from "./cli.ts";
import { withTempDir } from "./files.ts";
import { readTopic } from "./upload.ts";
import { sleep, waitUntil } from "./wait.ts";

/** How the scenario runs. */
export interface WatchScenario {
  /** Extra `ferry upload` flags (`--poll`, `--rescan-seconds`). */
  flags: string[];
  /** Seconds of writing; default 20. */
  seconds?: number;
  /** Files a second; default 50. */
  rate?: number;
}

const SETTLE_SECONDS = 3;

/** Collects a child's output stream as text while it runs. */
export function collect(
  stream: ReadableStream<Uint8Array>,
): { text: () => string; done: Promise<void> } {
  let text = "";
  const done = stream.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write(chunk) {
        text += chunk;
      },
    }),
  );
  return { text: () => text, done };
}

/** Runs the scenario and checks the topic and the output. */
export async function runWatchScenario(scenario: WatchScenario): Promise<void> {
  const seconds = scenario.seconds ?? 20;
  const rate = scenario.rate ?? 50;
  await withTempDir(async (dir) => {
    await withTopic(2, async (topic) => {
      const child = startFerry([
        ...["upload", dir, "--watch", "-t", topic, "-b", BOOTSTRAP],
        ...["--settle-seconds", String(SETTLE_SECONDS), ...scenario.flags],
      ], { timeoutMs: 150_000 });
      const stderr = collect(child.stderr);
      const stdout = collect(child.stdout);
      // What the topic must end up holding: path -> the SHA-512 of each generation uploaded.
      const expected = new Map<string, string[]>();
      const deleted: string[] = [];
      let stopped = false;
      let count = 0;
      try {
        await waitUntil(() => stderr.text().includes("Watching "), "the watch to start", 60_000);

        // The slow grower: appends every 300 ms (well under the settle time) for 3 s, rests
        // until it settled and was uploaded, then grows again.
        const grower = join(dir, "slow", "grow.dat");
        const growing = (async () => {
          await Deno.mkdir(join(dir, "slow"));
          const content: Uint8Array[] = [];
          const append = async (n: number) => {
            for (let i = 0; i < n; i++) {
              const piece = testBytes(3000, 1000 + content.length);
              content.push(piece);
              await Deno.writeFile(grower, piece, { append: true });
              await sleep(300);
            }
            return hashHex(sha512(concat(content)));
          };
          const first = await append(10);
          await sleep((SETTLE_SECONDS + 3) * 1000); // settles and is uploaded
          const second = await append(3); // a new generation
          expected.set("slow/grow.dat", [first, second]);
        })();

        // A folder of old files (mtime an hour ago) moved in from outside: new to the watch.
        const outside = await Deno.makeTempDir({ prefix: "ferry-watch-outside-" });
        const old = testBytes(5000, 77);
        await Deno.mkdir(join(outside, "sub"));
        await Deno.writeFile(join(outside, "sub", "old.dat"), old);
        const hourAgo = new Date(Date.now() - 3_600_000);
        await Deno.utime(join(outside, "sub", "old.dat"), hourAgo, hourAgo);
        await Deno.rename(outside, join(dir, "moved-in"));
        expected.set("moved-in/sub/old.dat", [hashHex(sha512(old))]);

        const total = seconds * rate;
        const began = performance.now();
        for (let i = 0; i < total; i++) {
          // Paced at `rate`, in a new nested folder every 40 files.
          const due = began + (i * 1000) / rate;
          if (due > performance.now()) await sleep(due - performance.now());
          const folder = `run-${Math.floor(i / 200)}/part-${Math.floor(i / 40)}`;
          await Deno.mkdir(join(dir, folder), { recursive: true });
          const path = `${folder}/f-${i}.dat`;
          const bytes = testBytes(2000 + (i % 17) * 1000, i);
          if (i % 5 === 0) {
            // Written under a hidden name (never uploaded), renamed into place.
            const temp = join(dir, folder, `.f-${i}.dat.part`);
            await Deno.writeFile(temp, bytes);
            await Deno.rename(temp, join(dir, folder, `f-${i}.dat`));
          } else await Deno.writeFile(join(dir, folder, `f-${i}.dat`), bytes);
          if (i % 7 === 3) {
            // Deleted at once, well within the settle time even on a loaded machine.
            await Deno.remove(join(dir, path));
            deleted.push(path);
          } else expected.set(path, [hashHex(sha512(bytes))]);
        }
        await growing;

        // Every settled file, one chunk each (all are under the chunk size).
        count = [...expected.values()].reduce((n, v) => n + v.length, 0);
        await waitUntil(
          async () => (await readTopic(topic, count, { timeoutMs: 5000 })).length >= count,
          `${count} chunk messages`,
          90_000,
        );
        await sleep((SETTLE_SECONDS + 1) * 1000); // nothing more may come
        child.kill("SIGINT");
        stopped = true;
        const status = await child.status;
        await Promise.all([stderr.done, stdout.done]);
        assertEquals(status.code, 0, stderr.text().slice(-3000));
      } finally {
        if (!stopped) child.kill("SIGKILL");
      }

      // Each path's generations in the topic, each chunk exactly once.
      const messages = await readTopic(topic, Number.MAX_SAFE_INTEGER, { timeoutMs: 4000 });
      const seen = new Map<string, string[]>();
      const chunkKeys = new Set<string>();
      for (const message of messages) {
        const chunk = decodeChunk(message.value!);
        const path = chunk.subdir === "" ? chunk.filename : `${chunk.subdir}/${chunk.filename}`;
        const hash = hashHex(chunk.fileHash);
        const key = `${path} ${hash} ${chunk.chunkIndex}`;
        assert(!chunkKeys.has(key), `chunk ${chunk.chunkIndex} of "${path}" sent twice`);
        chunkKeys.add(key);
        assertEquals(chunk.totalChunks, 1, `"${path}" is one chunk`);
        assertEquals(hashHex(sha512(chunk.data)), hash, `bytes of "${path}"`);
        seen.set(path, [...seen.get(path) ?? [], hash]);
      }
      for (const path of deleted) assert(!seen.has(path), `deleted "${path}" was uploaded`);
      const missing = [...expected.keys()].filter((p) => !seen.has(p));
      assertEquals(missing, [], "settled files not uploaded");
      for (const [path, hashes] of seen) {
        assert(!path.split("/").some((p) => p.startsWith(".")), `hidden "${path}" uploaded`);
        assertEquals(hashes, expected.get(path), `generations of "${path}" uploaded`);
      }
      assertEquals(seen.size, expected.size);

      // The summary, and the backlog on the progress lines (every 10 s without a terminal).
      const out = stdout.text();
      assert(out.startsWith(`Uploaded ${count} file(s)`), out);
      const progress = stderr.text().split("\n").filter((l) => l.includes("Progress:"));
      assert(progress.length > 0, "no progress line");
      assert(
        progress.every((l) => /, backlog \d+( \(oldest \d+\.\d s\))?/.test(l)),
        progress.join("\n"),
      );
    });
  }, "ferry-watch-");
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
