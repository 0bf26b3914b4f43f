/**
 * `ferry new <name>`: the starter script it writes, its refusals, and the script running
 * against the test broker.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { type CliRun, ferry } from "../support/cli.ts";
import { withTempDir } from "../support/files.ts";
import { repoPath } from "../support/processor.ts";
import { uploadTree } from "../support/upload.ts";

/** Runs `deno <args>` in `cwd` to completion; kills it (code 137) after the timeout. */
async function deno(args: string[], cwd: string, timeoutMs = 120_000): Promise<CliRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const output = await child.output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

function ferryNew(args: string[], cwd: string): Promise<CliRun> {
  return ferry(["new", ...args], { cwd });
}

Deno.test("ferry new writes a starter script, and refuses to overwrite it (exit 2)", async () => {
  await withTempDir(async (dir) => {
    const first = await ferryNew(["tally"], dir);
    assertEquals(first.code, 0, first.stderr);
    const text = await Deno.readTextFile(`${dir}/tally.ts`);
    assert(text.includes('name: "tally"'), "the processor is named after the argument");
    const importLine = text.split("\n").find((l) => l.startsWith("import "));
    const specifier = /from "(.*)"/.exec(importLine ?? "")?.[1] ?? "";
    assertEquals(
      new URL(specifier, `file://${dir}/`).pathname,
      repoPath("mod.ts"),
      "imports this checkout's mod.ts",
    );
    // Outside the checkout, the printed command names the checkout's deno.json.
    assert(first.stdout.includes(`--config ${repoPath("deno.json")}`), first.stdout);
    assert(first.stdout.includes("--exit-when-idle"), first.stdout);

    await Deno.writeTextFile(`${dir}/tally.ts`, "// mine\n");
    const again = await ferryNew(["tally.ts"], dir);
    assertEquals(again.code, 2, again.stderr);
    assert(again.stderr.includes('"tally.ts" exists already'), again.stderr);
    assertEquals(await Deno.readTextFile(`${dir}/tally.ts`), "// mine\n", "left as it was");

    const bad = await ferryNew(["../escape"], dir);
    assertEquals(bad.code, 2, bad.stderr);
    assert(bad.stderr.includes('"../escape"'), bad.stderr);

    const jsr = await ferryNew(["tally2", "--jsr", "--dir", "sub"], dir);
    assertEquals(jsr.code, 0, jsr.stderr);
    const jsrText = await Deno.readTextFile(`${dir}/sub/tally2.ts`);
    assert(jsrText.includes('import { defineProcessor } from "jsr:@ferry/ferry";'), jsrText);
  }, "ferry-new-");
});

Deno.test("the script ferry new writes type-checks and processes every uploaded file", async () => {
  await withTempDir(async (dir) => {
    const made = await ferryNew(["first-steps"], dir);
    assertEquals(made.code, 0, made.stderr);
    const config = repoPath("deno.json");
    const check = await deno(["check", "--config", config, "first-steps.ts"], dir);
    assertEquals(check.code, 0, check.stderr);

    const files: Record<string, Uint8Array | string> = {
      "notes.txt": "first line\nsecond line\n",
      "run1/data.csv": "time,value\n0,1\n",
      "run1/blob.bin": testBytes(70_000, 5),
    };
    await withTopic(2, async (topic) => {
      await uploadTree(topic, `${dir}/upload`, files, { uploadLogDir: false });
      const run = await deno([
        "run",
        "-A",
        "--config",
        config,
        "first-steps.ts",
        "--topic",
        topic,
        "--bootstrap-servers",
        BOOTSTRAP,
        "--exit-when-idle",
        "2",
      ], dir);
      assertEquals(run.code, 0, run.stderr);
      const lines = (await Deno.readTextFile(`${dir}/first-steps-output/results.csv`))
        .trim().split("\n").map((line) => JSON.parse(`[${line}]`)).sort();
      assertEquals(lines.length, 3, "one line per file");
      assertEquals(lines.find((l) => l[0] === "notes.txt"), ["notes.txt", 23, "first line"]);
      assertEquals(lines.find((l) => l[0] === "run1/data.csv"), [
        "run1/data.csv",
        15,
        "time,value",
      ]);
      assertEquals(lines.find((l) => l[0] === "run1/blob.bin")?.[1], 70_000);
    });
  }, "ferry-new-");
});
