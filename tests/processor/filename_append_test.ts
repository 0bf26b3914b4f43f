/**
 * A file whose chunks carry a `filename_append` (OpenMSIStream's output-name suffix) is written
 * and recorded under the appended name; the same file sent again is recognised as processed
 * under that name and skipped, not processed twice. Real broker, real processor process.
 */

import { assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { fileChunks, putMessages } from "../support/chunks.ts";
import { processorArgs, readCalls, runProcessor } from "../support/processor.ts";
import { testBytes } from "../support/bytes.ts";
import { encodeChunk } from "../../src/chunks/encode.ts";
import { readRegistry } from "../../src/registry/registry.ts";
import { FERRY_DIR } from "../../src/files/layout.ts";

Deno.test("a file with a filename_append sent twice is processed once, under the appended name", async () => {
  const chunks = fileChunks({ path: "run/scan.dat", bytes: testBytes(5000, 3) }, 1024)
    .map((chunk) => encodeChunk({ ...chunk, filenameAppend: "_v2" }));
  await withTopic(1, async (topic) => {
    const out = await Deno.makeTempDir();
    const group = `append-${crypto.randomUUID().slice(0, 8)}`;
    // Sent, processed; sent again, and a second run of the same processor reads the copy.
    for (let round = 0; round < 2; round++) {
      await putMessages(topic, chunks, 0);
      const run = await runProcessor("tests/fixtures/recording_processor.ts", [
        ...processorArgs(topic, out, group),
        "--exit-when-idle",
        "1",
      ], 60_000);
      assertEquals(run.code, 0, run.stderr);
    }
    const calls = await readCalls(out);
    assertEquals(calls.length, 1, `processed once, got ${JSON.stringify(calls)}`);
    const registry = await readRegistry(`${out}/${FERRY_DIR}`, topic, group);
    assertEquals(registry.processed.map((r) => r.path), ["run/scan_v2.dat"]);
  });
});
