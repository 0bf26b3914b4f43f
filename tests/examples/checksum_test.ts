/**
 * `examples/checksum.ts` run as its doc comment tells a user to run it
 * (`deno run -A examples/checksum.ts --topic ... --output-dir ... --exit-when-idle`), against
 * the test broker: every uploaded file gets exactly one whole line in the results file, with
 * its size and SHA-256, although several workers append to it (the lock).
 */

import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { sha256Hex, testBytes } from "../support/bytes.ts";
import { withTempDir } from "../support/files.ts";
import { processorArgs, runProcessor } from "../support/processor.ts";
import { uploadTree } from "../support/upload.ts";

Deno.test("examples/checksum.ts, run as a user would, writes one line per file with its size and SHA-256", async () => {
  const files: Record<string, Uint8Array<ArrayBuffer>> = {};
  for (let i = 0; i < 12; i++) {
    files[`run${i % 3}/file ${i}.dat`] = testBytes(1 + i * 9_000, 70 + i);
  }
  files["big.bin"] = testBytes(700_000, 99);
  await withTempDir(async (dir) => {
    await withTopic(3, async (topic) => {
      await uploadTree(topic, join(dir, "up"), files);
      const out = join(dir, "checksum-output");
      const run = await runProcessor("examples/checksum.ts", [
        ...processorArgs(topic, out),
        "--workers",
        "3",
        "--exit-when-idle",
      ]);
      assertEquals(run.code, 0, run.stderr);
      const text = await Deno.readTextFile(join(out, "checksums.csv"));
      assert(text.endsWith("\n"), "the last line is whole");
      const lines = text.trimEnd().split("\n");
      assertEquals(lines.length, 13, text);
      const seen = new Map<string, string>();
      for (const line of lines) {
        const match = /^(".*"),(\d+),([0-9a-f]{64})$/.exec(line);
        assert(match !== null, `a whole CSV line: ${JSON.stringify(line)}`);
        const path = JSON.parse(match[1]) as string;
        assert(!seen.has(path), `"${path}" listed once`);
        seen.set(path, `${match[2]},${match[3]}`);
      }
      for (const [path, bytes] of Object.entries(files)) {
        assertEquals(seen.get(path), `${bytes.length},${await sha256Hex(bytes)}`, path);
      }
    });
  });
});
