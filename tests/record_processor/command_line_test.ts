/**
 * A record processor's command line and log lines: `--help` shows the defaults of `--retries`
 * and `--error-policy` (and who wins) and no output directory; `--output_dir` (OpenMSIStream's
 * name) and `--output-dir` are usage errors that say why; the assignment line says where each
 * partition starts (its committed offset, or the beginning when the group has none); the summary
 * shows plain numbers.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { runProcessor } from "../support/processor.ts";
import { prepareRecordRun } from "../support/records.ts";

const SCRIPT = "tests/fixtures/recording_record_processor.ts";

Deno.test("a record processor's --help shows the defaults of --retries and --error-policy, and no output directory", async () => {
  const help = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, "--help"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(help.stdout);
  assertEquals(help.code, 0, new TextDecoder().decode(help.stderr));
  // commander wraps help lines: compare with the white space squeezed.
  const flat = text.replace(/\s+/g, " ");
  assert(
    flat.includes(
      "--retries <n> attempts of a failing batch before the error policy applies (default: 3; " +
        "the definition's retries wins over the default, this flag over both)",
    ),
    text,
  );
  assert(
    flat.includes(
      "--error-policy <policy> when a batch keeps failing (default: stop-partition; the " +
        "definition's errorPolicy wins over the default, this flag over both)",
    ),
    text,
  );
  assert(!/output[-_]dir|download[-_]regex/.test(text), text);
});

Deno.test("--output_dir and --output-dir given to a record processor are usage errors saying why (exit 2)", async () => {
  for (const args of [["--output_dir", "out"], ["--output-dir=out"], ["-o", "out"]]) {
    const run = await runProcessor(SCRIPT, [
      "--topic",
      "t",
      "--events-file",
      "/dev/null",
      ...args,
    ]);
    assertEquals(run.code, 2, run.stderr);
    const flag = args[0].split("=")[0];
    assert(
      run.stderr.includes(`${flag}: record processors have no output directory`),
      run.stderr,
    );
    assert(!run.stderr.includes("unknown option"), run.stderr);
  }
  const regex = await runProcessor(SCRIPT, ["--topic", "t", "--download_regex", "x"]);
  assertEquals(regex.code, 2, regex.stderr);
  assert(regex.stderr.includes("record processors have no download regex"), regex.stderr);
});

Deno.test("the assignment line says where partitions start: the beginning without a commit, else the committed offset", async () => {
  await withTopic(2, async (topic) => {
    const { events, group } = await prepareRecordRun(topic, 2, 20);
    const args = [
      "--topic",
      topic,
      "--group",
      group,
      "--events-file",
      events,
      "--exit-when-idle",
      "1",
    ];
    const first = await runProcessor(SCRIPT, args);
    assertEquals(first.code, 0, first.stderr);
    assert(
      first.stderr.includes(
        `Partitions 0, 1 of ${topic} assigned, starting 0, 1 from the beginning (no commit).`,
      ),
      first.stderr,
    );
    const summary = first.stderr.split("\n").find((line) => line.includes("Summary:"));
    assert(summary !== undefined && !summary.includes('"'), first.stderr);
    assert(/Summary: 40 records in \d+(\.\d)? s \(\d+ B\), 0 skipped, /.test(summary), summary);
    const again = await runProcessor(SCRIPT, args);
    assertEquals(again.code, 0, again.stderr);
    assert(
      again.stderr.includes(
        `Partitions 0, 1 of ${topic} assigned, starting 0 at offset 20; 1 at offset 20.`,
      ),
      again.stderr,
    );
  });
});
