/**
 * The README's first command, `bash scripts/demo.sh`, against the test broker: it uploads the
 * sample data, runs the summary example over it, and leaves a table and an HTML report.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, requireBroker } from "../support/broker.ts";
import { sha256Hex } from "../support/bytes.ts";
import { withTempDir } from "../support/files.ts";
import { repoPath } from "../support/processor.ts";
import { sampleData } from "../../examples/demo/make_data.ts";
import type { FileSummary } from "../../examples/summarize.ts";

function contentBytes(content: string | Uint8Array): Uint8Array<ArrayBuffer> {
  return typeof content === "string" ? new TextEncoder().encode(content) : new Uint8Array(content);
}

Deno.test("the committed sample data is what examples/demo/make_data.ts generates", async () => {
  const files = sampleData();
  for (const [path, content] of files) {
    const committed = await Deno.readFile(repoPath(`examples/data/${path}`));
    assertEquals(committed, contentBytes(content), `examples/data/${path}`);
  }
  const total = [...files.values()].reduce((sum, c) => sum + contentBytes(c).length, 0);
  assert(total > 100_000 && total < 1_000_000, `a few hundred KB of samples, not ${total} bytes`);
});

Deno.test("scripts/demo.sh prints a table of every sample file and writes an HTML report", async () => {
  await requireBroker();
  const port = BOOTSTRAP.split(":").at(-1)!;
  await withTempDir(async (out) => {
    const child = new Deno.Command("bash", {
      args: [repoPath("scripts/demo.sh")],
      env: { FERRY_KAFKA_PORT: port, FERRY_DEMO_OUTPUT: out, FERRY_NO_INSTALL: "1" },
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    const output = await child.output();
    clearTimeout(timer);
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    assertEquals(output.code, 0, `demo failed:\n${stderr}\n${stdout}`);

    const files = sampleData();
    const tableRows = stdout.split("\n");
    for (const path of files.keys()) {
      assert(
        tableRows.some((row) => row.startsWith(path + " ")),
        `the table lists "${path}":\n${stdout}`,
      );
    }
    assert(stdout.includes(`${files.size} files`), `the table's total:\n${stdout}`);

    const summaries = (await Deno.readTextFile(`${out}/summary.jsonl`)).trim().split("\n")
      .map((line) => JSON.parse(line) as FileSummary);
    assertEquals(summaries.length, files.size, "one summary per file");
    for (const summary of summaries) {
      const content = files.get(summary.path);
      assert(content !== undefined, `"${summary.path}" is a sample file`);
      assertEquals(summary.sha256, await sha256Hex(contentBytes(content)), summary.path);
    }
    const frame = summaries.find((s) => s.path === "detector/frames/frame_0001.raw")?.frame;
    assertEquals(
      [frame?.width, frame?.height, frame?.exposureMs, frame?.detectorId],
      [128, 128, 50, "XD-128 #0042"],
      "frame header fields",
    );
    const furnace = summaries.find((s) => s.path.startsWith("furnace/"))?.csv;
    assertEquals(furnace?.rows, 2161, "furnace log rows");
    assertEquals(furnace?.stats.find((s) => s.name === "setpoint_C")?.max, 600);

    const report = await Deno.readTextFile(`${out}/report.html`);
    assert(stderr.includes(`${out}/report.html`), "the report's path is printed");
    for (const path of files.keys()) assert(report.includes(path), `the report lists "${path}"`);
    assert(report.includes("<polyline"), "the report plots the CSV values");
    assert(report.includes("data:image/bmp;base64,"), "the report shows the frames");
  }, "ferry-demo-");
});
