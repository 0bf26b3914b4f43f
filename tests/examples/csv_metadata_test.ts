/**
 * `examples/csv_metadata.ts` run as its doc comment tells a user to run it, against the test
 * broker: the demo's spectrometer CSV files (with `# key: value` header lines) and a file that is
 * not CSV are uploaded; a `read_committed` reader of the output topic finds one JSON document per
 * CSV file, with its header metadata and columns, and nothing for the other file.
 */

import { join } from "node:path";
import { assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { withTempDir } from "../support/files.ts";
import { processorArgs, repoPath, runProcessor } from "../support/processor.ts";
import { countBy, readCommitted } from "../support/results.ts";
import { uploadTree } from "../support/upload.ts";

Deno.test("examples/csv_metadata.ts produces one JSON document of header metadata per CSV file, exactly once", async () => {
  const spectra = repoPath("examples/data/spectrometer/run-001");
  const files: Record<string, Uint8Array> = {};
  for (const name of ["spectrum_0001.csv", "spectrum_0002.csv", "run.json"]) {
    files[`run-001/${name}`] = await Deno.readFile(join(spectra, name));
  }
  await withTempDir(async (dir) => {
    await withTopic(2, async (topic) => {
      await withTopic(1, async (output) => {
        await uploadTree(topic, join(dir, "up"), files);
        const run = await runProcessor("examples/csv_metadata.ts", [
          ...processorArgs(topic, join(dir, "out")),
          "--output-topic",
          output,
          "--exactly-once",
          "--exit-when-idle",
        ]);
        assertEquals(run.code, 0, run.stderr);
        const messages = await readCommitted(output, 2);
        assertEquals(
          [...countBy(messages, "ferry-source-path")].sort(),
          [["run-001/spectrum_0001.csv", 1], ["run-001/spectrum_0002.csv", 1]],
        );
        const first = messages.find((m) => m.key === "run-001/spectrum_0001.csv")!;
        const document = JSON.parse(first.value);
        assertEquals(document.metadata.sample, "Si wafer, spot 1");
        assertEquals(document.metadata.laser_nm, "785");
        assertEquals(first.headers["content-type"], "application/json");
        assertEquals(document.columns, ["wavenumber_cm-1", "intensity_counts"]);
      });
    });
  });
});
