/**
 * `examples/checksum.ts` with its own option in the config file: `results_file` in the
 * `[checksum]` section names the results file, as `--results-file` would.
 */

import { join } from "node:path";
import { assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { withTempDir } from "../support/files.ts";
import { processorArgs, runProcessor } from "../support/processor.ts";
import { uploadTree } from "../support/upload.ts";

Deno.test("examples/checksum.ts takes --results-file from the [checksum] section of its config file", async () => {
  const files = { "a.dat": testBytes(1_000, 1), "run1/b.dat": testBytes(20_000, 2) };
  await withTempDir(async (dir) => {
    await withTopic(1, async (topic) => {
      await uploadTree(topic, join(dir, "up"), files);
      const config = join(dir, "ferry.config");
      await Deno.writeTextFile(config, "[checksum]\nresults_file = from-the-file.csv\n");
      const out = join(dir, "out");
      const run = await runProcessor("examples/checksum.ts", [
        ...processorArgs(topic, out),
        "--config",
        config,
        "--exit-when-idle",
        "1",
      ]);
      assertEquals(run.code, 0, run.stderr);
      const lines = (await Deno.readTextFile(join(out, "from-the-file.csv"))).trimEnd().split("\n");
      assertEquals(lines.map((line) => JSON.parse(line.split(",")[0])).sort(), [
        "a.dat",
        "run1/b.dat",
      ]);
      const names = [];
      for await (const entry of Deno.readDir(out)) names.push(entry.name);
      assertEquals(names.includes("checksums.csv"), false, names.join(", "));
    });
  });
});
