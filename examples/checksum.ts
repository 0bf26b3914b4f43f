/**
 * Example: the SHA-256 and size of every file rebuilt from a topic, appended to one CSV file
 * in the output directory. The lock makes sure only one worker appends at a time.
 *
 *     deno run -A examples/checksum.ts --topic raw-data --bootstrap-servers 127.0.0.1:19092 \
 *       --output-dir checksum-output --exit-when-idle
 *
 * @module
 */

import { defineProcessor } from "../mod.ts";

const processor = defineProcessor({
  name: "checksum",
  description: "Appends the size and SHA-256 of every file to <output-dir>/checksums.csv.",
  options: {
    resultsFile: { type: "string", description: "CSV file name", default: "checksums.csv" },
  },
  async process(file, lock, context) {
    const bytes = file.bytes ?? await Deno.readFile(file.path!);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    const line = `${JSON.stringify(file.relativePath)},${file.size},${hex}\n`;
    await lock.run(() =>
      Deno.writeTextFile(`${context.outputDir}/${context.options.resultsFile}`, line, {
        append: true,
      })
    );
  },
});

if (import.meta.main) await processor.runFromCommandLine();
