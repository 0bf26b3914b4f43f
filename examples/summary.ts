/**
 * Example: a summary of every file rebuilt from a topic — size and SHA-256, plus rows, columns
 * and column statistics for CSV files, header fields and pixel statistics for FRM1 detector
 * frames — appended as one JSON line per file to `<output-dir>/summary.jsonl`. The lock makes
 * sure only one worker appends at a time. `examples/summary_report.ts` turns the file into a
 * table and an HTML report (`bash scripts/demo.sh` runs both).
 *
 *     deno run -A examples/summary.ts --topic raw-data --bootstrap-servers 127.0.0.1:19092 \
 *       --output-dir summary-output --exit-when-idle
 *     deno run -A examples/summary_report.ts summary-output
 *
 * @module
 */

import { join } from "node:path";
import { defineProcessor } from "../mod.ts";
import { summarize } from "./summarize.ts";

const processor = defineProcessor({
  name: "summary",
  description: "Appends a JSON summary of every file to <output-dir>/summary.jsonl.",
  options: {
    resultsFile: { type: "string", description: "results file name", default: "summary.jsonl" },
  },
  async process(file, lock, context) {
    const bytes = file.bytes ?? await Deno.readFile(file.path!);
    const summary = await summarize(file.relativePath, bytes);
    const line = JSON.stringify(summary) + "\n";
    await lock.run(() =>
      Deno.writeTextFile(join(context.outputDir, context.options.resultsFile), line, {
        append: true,
      })
    );
  },
});

if (import.meta.main) await processor.runFromCommandLine();
