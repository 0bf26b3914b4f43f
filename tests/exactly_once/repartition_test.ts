/**
 * `ferry repartition` against the real broker and the real OpenMSIStream: files uploaded by
 * `UploadDataFile` (a file's chunks spread over 4 partitions), plus more chunks spread the same
 * way while the repartitioner runs and is killed with `kill -9` mid-way; the target topic holds
 * every source message once, byte for byte, each file in the partition of its path; then two
 * processes of one group process each file once between them, both doing some.
 */

import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, uniqueName, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { putFiles, type TestFile } from "../support/chunks.ts";
import { ferry, startFerry } from "../support/cli.ts";
import { writeTree } from "../support/files.ts";
import { FAST_GROUP, processorArgs, readCalls, startProcessor } from "../support/processor.ts";
import { openmsistreamBin, uploadDataFile, withWorkspace } from "../support/openmsistream.ts";
import { readCommitted } from "../support/results.ts";
import { readTopic } from "../support/upload.ts";
import { sleep } from "../support/wait.ts";
import { decodeChunk } from "../../src/chunks/decode.ts";
import { hashHex, sha512 } from "../../src/hash/sha512.ts";
import { partitionForPath } from "../../src/upload/partition.ts";
import type { ConsumedMessage } from "../../src/kafka/mod.ts";

const decoder = new TextDecoder();

/** A message's identity: its key and the SHA-512 of its value and headers. */
function identity(m: ConsumedMessage): string {
  const headers = m.headers.map((h) => `${h.key}=${h.value ? hashHex(sha512(h.value)) : ""}`);
  return `${m.key ? decoder.decode(m.key) : ""}|${hashHex(sha512(m.value!))}|${headers}`;
}

function pathOf(m: ConsumedMessage): string {
  const chunk = decodeChunk(m.value!);
  return chunk.subdir === "" ? chunk.filename : `${chunk.subdir}/${chunk.filename}`;
}

function wave(round: number): TestFile[] {
  return Array.from({ length: 40 }, (_, i) => ({
    path: `wave${round}/f${i}.dat`,
    bytes: testBytes(1536 + i * 7, round * 100 + i),
  }));
}

Deno.test("ferry repartition copies an OpenMSIStream topic exactly once under kill -9, then two processes split its files", async () => {
  const bin = await openmsistreamBin();
  await withWorkspace(async (dir, config) => {
    const omsFiles: Record<string, Uint8Array> = {
      "oms-a.dat": testBytes(16_384 * 5 + 3, 91),
      "oms-b.dat": testBytes(16_384 * 3, 92),
    };
    await writeTree(join(dir, "up"), omsFiles);
    await withTopic(4, async (source) => {
      await withTopic(4, async (target) => {
        for (const name of Object.keys(omsFiles)) {
          await uploadDataFile(bin, join(dir, "up", name), config, source);
        }
        const group = uniqueName("repartition");
        const args = [
          "repartition",
          "-b",
          BOOTSTRAP,
          "--topic",
          source,
          "--to",
          target,
          "--group",
          group,
          // Static membership: a restart takes the killed member's place at once.
          "-X",
          `group.instance.id=${group}-member`,
          "--log-level",
          "warning",
        ];
        // Two processes of one group on the repartitioned topic, both in the group before any
        // copy arrives (so that no rebalance moves files between them mid-run): each file
        // once between them.
        const processorGroup = uniqueName("after-repartition");
        const runs = ["one", "two"].map((name) =>
          startProcessor("tests/fixtures/recording_processor.ts", [
            ...processorArgs(target, join(dir, name), processorGroup),
            ...FAST_GROUP,
            "--sleep-ms",
            "30",
            "--exit-when-idle",
            "8",
          ], { timeoutMs: 120_000 })
        );
        await sleep(4000);
        // Kill -9 while chunks keep arriving (a wave of files spread over the partitions).
        const files: TestFile[] = [];
        let killed = 0;
        for (let round = 0; round < 3; round++) {
          const child = startFerry(args);
          const output = child.output();
          const next = wave(round);
          files.push(...next);
          for (let part = 0; part < 4; part++) {
            await putFiles(source, next.slice(part * 10, part * 10 + 10), {
              chunkSize: 512,
              partitions: 4,
              spread: true,
            });
            await sleep(300 + Math.random() * 400);
          }
          try {
            child.kill("SIGKILL");
            killed++;
          } catch {
            // It had exited: its stderr says why (asserted below).
          }
          const out = await output;
          assert(out.code === 137 || out.code === 9 || out.code === 0, decoder.decode(out.stderr));
        }
        assertEquals(killed, 3);
        const last = await ferry([...args, "--exit-when-idle", "2"]);
        assertEquals(last.code, 0, last.stderr);

        const expectedCount = 6 + 3 +
          files.reduce((n, f) => n + Math.ceil(f.bytes.length / 512), 0);
        const sourceMessages = await readTopic(source, expectedCount);
        assertEquals(sourceMessages.length, expectedCount, "the source topic as written");
        const copied = await readTopic(target, expectedCount);
        assertEquals(
          copied.map(identity).sort(),
          sourceMessages.map(identity).sort(),
          "every message once, byte for byte",
        );
        // Kills that hit an open transaction left its copies there, aborted (a reader that does
        // not skip aborted messages sees more). A kill between two transactions aborts none, so
        // the count is reported, not required: "every message once" above is the check.
        const everything = await readCommitted(
          target,
          copied.length + 1,
          10_000,
          BOOTSTRAP,
          "read_uncommitted",
        );
        // deno-lint-ignore no-console
        console.log(`copies in aborted transactions: ${everything.length - copied.length}`);
        for (const m of copied) {
          assertEquals(m.partition, partitionForPath(pathOf(m), 4), `partition of ${pathOf(m)}`);
        }
        const spread = new Set(
          sourceMessages.filter((m) => pathOf(m) === "oms-a.dat").map((m) => m.partition),
        );
        assert(spread.size > 1, "OpenMSIStream spread oms-a.dat over partitions");

        for (const run of runs) {
          const result = await run.result;
          assertEquals(result.code, 0, result.stderr);
        }
        const one = await readCalls(join(dir, "one"));
        const two = await readCalls(join(dir, "two"));
        assert(one.length > 0 && two.length > 0, `split ${one.length}/${two.length}`);
        const all = [...one, ...two].map((c) => c.path).sort();
        const expected = [...Object.keys(omsFiles), ...files.map((f) => f.path)].sort();
        assertEquals(all, expected, "each file processed once between the two");
      });
    });
  });
});
