/**
 * A partition taken away while the file processor had paused its partitions (backpressure: its
 * workers had files queued) and given back later, when it no longer pauses, is read again.
 * librdkafka keeps an application's pause of a partition across its revocation and a later
 * assignment (2.0.2: only its own pause is cleared), so such a partition stayed paused for good:
 * its files were never processed while the progress line showed no lag (a paused partition
 * that delivered nothing has no position). Seen in the handover bench as a partition's last
 * files never run by the survivors.
 *
 * Here: one processor (one worker) gets two files of partition 0, the first taking 16 s, and
 * pauses its partitions after 5 s with both still waiting; while it is paused a second member
 * (a plain consumer of the test) joins and takes one of the two partitions; once the processor
 * is done and no longer paused, the second member leaves and the partition goes back; then new
 * files come to both partitions, and every one must be processed.
 */

import { join } from "node:path";
import { assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { putFiles, type TestFile } from "../support/chunks.ts";
import {
  FAST_GROUP,
  FAST_GROUP_CONFIG,
  processorArgs,
  readCalls,
  startProcessor,
  stopProcessor,
} from "../support/processor.ts";
import { waitUntil } from "../support/wait.ts";
import { Consumer } from "../../src/kafka/mod.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";

function files(count: number, tag: string): TestFile[] {
  return [...Array(count).keys()].map((i) => ({
    path: `${tag}/f-${i}.dat`,
    bytes: testBytes(500 + i, i + 1),
  }));
}

Deno.test("a partition revoked while paused and given back is read again", async () => {
  await withTopic(2, async (topic) => {
    const root = await Deno.makeTempDir({ prefix: "ferry-paused-handback-" });
    const out = join(root, "out");
    const group = `handback-${crypto.randomUUID().slice(0, 8)}`;
    // Both in partition 0: one worker, the first taking 16 s, so the processor pauses its
    // partitions after 5 s and stays paused until the first is done.
    const first = files(2, "first");
    await putFiles(topic, first, { partitions: 1 });
    let stderr = "";
    const processor = startProcessor(SCRIPT, [
      ...processorArgs(topic, out, group),
      ...["--workers", "1", "--sleep-ms", "16000", "--slow-pattern", "^first/f-0"],
      "--log-level",
      "debug",
      ...FAST_GROUP,
    ], { timeoutMs: 120_000, onStderr: (text) => stderr += text });
    let other: Consumer | undefined;
    let polling: Promise<void> | undefined;
    let leave = false;
    try {
      await waitUntil(
        () => /Application pausing [1-9]/.test(stderr),
        "the processor to pause",
        30_000,
      );
      // A second member joins while the processor is paused and takes a partition.
      other = new Consumer({
        ...FAST_GROUP_CONFIG,
        "bootstrap.servers": BOOTSTRAP,
        "group.id": group,
        "enable.auto.commit": false,
      });
      other.subscribe([topic]);
      const taken: number[] = [];
      const member = other;
      polling = (async () => {
        while (!leave) {
          await member.poll({ timeoutMs: 100 });
          taken.splice(0, taken.length, ...member.assignment().map((tp) => tp.partition));
        }
      })();
      await waitUntil(() => taken.length > 0, "the second member to take a partition", 45_000);
      // The processor finishes its files and resumes what it still has; then the partition
      // goes back to it.
      await waitUntil(
        async () => new Set((await readCalls(out)).map((c) => c.path)).size === first.length,
        "the first files processed",
        60_000,
      );
      leave = true;
      await polling;
      await other.close();
      other = undefined;
      await waitUntil(
        () =>
          /Assigned partitions [\d, ]+ of/.test(
            stderr.split(/Partitions [\d, ]+ of \S+ revoked/).at(-1) ?? "",
          ),
        "the partition to go back to the processor",
        30_000,
      );
      // The case under test: the partition went away while the processor had it paused.
      const beforeRevoke = stderr.split(/Partitions [\d, ]+ of \S+ revoked/)[0];
      const pauses = [...beforeRevoke.matchAll(/Application (pausing|resuming) [1-9]/g)];
      assertEquals(pauses.at(-1)?.[1], "pausing", "revoked while paused (timing: see above)");
      // New files in both partitions: each must be processed, including those of the
      // partition that went away while paused and came back.
      const second = files(8, "second");
      await putFiles(topic, second, { partitions: 2 });
      const want = new Set([...first, ...second].map((f) => f.path));
      await waitUntil(
        async () => {
          const seen = new Set((await readCalls(out)).map((c) => c.path));
          return [...want].every((p) => seen.has(p));
        },
        "every file processed (a partition left paused delivers nothing)",
        30_000,
      );
    } catch (error) {
      const seen = new Set((await readCalls(out)).map((c) => c.path));
      const missing = [...first, ...files(8, "second")].map((f) => f.path)
        .filter((p) => !seen.has(p));
      const lines = stderr.split("\n").filter((l) =>
        !l.includes("[DBG]") || /PAUSE|RESUME/.test(l)
      );
      // deno-lint-ignore no-console
      console.log(`missing: ${missing.join(", ")}\n${lines.slice(-60).join("\n")}`);
      throw error;
    } finally {
      leave = true;
      await polling?.catch(() => undefined);
      await other?.close();
      await stopProcessor(processor);
    }
    await Deno.remove(root, { recursive: true });
  });
});
