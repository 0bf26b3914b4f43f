/**
 * `ferry new <name>`: the starter script and the `deno.json` it writes beside it outside the
 * checkout, its refusals, and the commands it prints run exactly as printed (through bash):
 * `--help`, and the script against the test broker.
 */

import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { type CliRun, ferry } from "../support/cli.ts";
import { withTempDir } from "../support/files.ts";
import { repoPath } from "../support/processor.ts";
import { shell } from "../support/shell.ts";
import { uploadTree } from "../support/upload.ts";
import { FERRY_RUNTIME_IMPORTS } from "../../src/cli/deno_config.ts";

function ferryNew(args: string[], cwd: string): Promise<CliRun> {
  return ferry(["new", ...args], { cwd });
}

/** The `deno run ...` command `ferry new` printed, without the `--topic <topic> ...` part. */
function printedRun(stdout: string): string {
  const line = stdout.split("\n").find((l) => l.trim().startsWith("deno run"));
  assert(line !== undefined, stdout);
  return line.trim().replace(/ --topic <topic>.*$/, "");
}

Deno.test("ferry new outside the checkout writes the script and a deno.json mapping Ferry; never overwrites either", async () => {
  await withTempDir(async (dir) => {
    const first = await ferryNew(["tally"], dir);
    assertEquals(first.code, 0, first.stderr);
    const text = await Deno.readTextFile(`${dir}/tally.ts`);
    assert(text.includes('name: "tally"'), "the processor is named after the argument");
    assert(text.includes('import { defineProcessor } from "@ferry/ferry";'), text);
    const config = JSON.parse(await Deno.readTextFile(`${dir}/deno.json`));
    const checkout = JSON.parse(await Deno.readTextFile(repoPath("deno.json")));
    assertEquals(config.imports["@ferry/ferry"], repoPath("mod.ts"), "the checkout's mod.ts");
    for (const name of FERRY_RUNTIME_IMPORTS) {
      assertEquals(config.imports[name], checkout.imports[name], `the mapping of ${name}`);
    }
    assertEquals(
      config.compile.include,
      checkout.compile.include.map((p: string) => repoPath(p)),
      "the worker modules, for deno compile",
    );
    // A plain `deno run`: no --config.
    assertEquals(printedRun(first.stdout), "deno run -A tally.ts", first.stdout);
    assert(first.stdout.includes("--exit-when-idle"), first.stdout);

    // A second script in the same folder uses the deno.json written for the first.
    const before = await Deno.readTextFile(`${dir}/deno.json`);
    const second = await ferryNew(["other"], dir);
    assertEquals(second.code, 0, second.stderr);
    assert(second.stdout.includes("Using deno.json"), second.stdout);
    assertEquals(await Deno.readTextFile(`${dir}/deno.json`), before);

    await Deno.writeTextFile(`${dir}/tally.ts`, "// mine\n");
    const again = await ferryNew(["tally.ts"], dir);
    assertEquals(again.code, 2, again.stderr);
    assert(again.stderr.includes('"tally.ts" exists already'), again.stderr);
    assertEquals(await Deno.readTextFile(`${dir}/tally.ts`), "// mine\n", "left as it was");

    const bad = await ferryNew(["../escape"], dir);
    assertEquals(bad.code, 2, bad.stderr);
    assert(bad.stderr.includes('"../escape"'), bad.stderr);

    // --jsr maps @ferry/ferry to JSR, and says plainly that it is not published.
    const jsr = await ferryNew(["tally2", "--jsr", "--dir", "sub"], dir);
    assertEquals(jsr.code, 0, jsr.stderr);
    const jsrConfig = JSON.parse(await Deno.readTextFile(`${dir}/sub/deno.json`));
    assertEquals(jsrConfig.imports["@ferry/ferry"], `jsr:@ferry/ferry@^${checkout.version}`);
    assert(jsr.stdout.includes("not published yet"), jsr.stdout);
  }, "ferry-new-");
});

Deno.test("ferry new beside an existing deno.json leaves it alone and prints the --config form, which runs as printed", async () => {
  await withTempDir(async (dir) => {
    const mine = '{ "imports": { "x": "./x.ts" } }\n';
    await Deno.writeTextFile(`${dir}/deno.json`, mine);
    const made = await ferryNew(["tally"], dir);
    assertEquals(made.code, 0, made.stderr);
    assertEquals(await Deno.readTextFile(`${dir}/deno.json`), mine, "not changed");
    assert(made.stdout.includes("exists already"), made.stdout);
    const run = printedRun(made.stdout);
    assertEquals(run, `deno run -A --config ${repoPath("deno.json")} tally.ts`);
    const help = await shell(`${run} --help`, { cwd: dir });
    assertEquals(help.code, 0, help.stderr);
    assert(help.stdout.startsWith("Usage: tally"), help.stdout);
  }, "ferry-new-");
});

Deno.test("the script ferry new writes runs as printed (plain deno run) and processes every uploaded file", async () => {
  await withTempDir(async (dir) => {
    const made = await ferryNew(["first-steps", "--dir", "jobs"], dir);
    assertEquals(made.code, 0, made.stderr);
    const run = printedRun(made.stdout);
    assertEquals(run, "deno run -A jobs/first-steps.ts");

    // --help, as printed, from the folder ferry new ran in and from another one.
    const help = await shell(`${run} --help`, { cwd: dir });
    assertEquals(help.code, 0, help.stderr);
    assert(help.stdout.startsWith("Usage: first-steps"), help.stdout);
    await Deno.mkdir(join(dir, "elsewhere"));
    const far = await shell(`deno run -A ${dir}/jobs/first-steps.ts --help`, {
      cwd: join(dir, "elsewhere"),
    });
    assertEquals(far.code, 0, far.stderr);

    // deno check finds deno.json from the current folder (deno run, from the script's).
    const check = await shell("deno check first-steps.ts", { cwd: join(dir, "jobs") });
    assertEquals(check.code, 0, check.stderr);

    const files: Record<string, Uint8Array | string> = {
      "notes.txt": "first line\nsecond line\n",
      "run1/data.csv": "time,value\n0,1\n",
      "run1/blob.bin": testBytes(70_000, 5),
    };
    await withTopic(2, async (topic) => {
      await uploadTree(topic, `${dir}/upload`, files, { uploadLogDir: false });
      // The printed line, with the topic filled in.
      const line = made.stdout.split("\n").find((l) => l.includes("--topic <topic>"))!.trim()
        .replace("<topic>", topic).replace("127.0.0.1:19092", BOOTSTRAP);
      const result = await shell(`${line} 2`, { cwd: dir });
      assertEquals(result.code, 0, result.stderr);
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

/** The bare specifiers (not relative, not `node:`/`npm:`/`jsr:`/URLs) a source file imports. */
function bareImports(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)[^;"']*?from\s+"([^"]+)"/g)) {
    if (!/^(\.|\/|node:|npm:|jsr:|https?:|file:)|\$/.test(match[1])) found.push(match[1]);
  }
  for (const match of text.matchAll(/import\(\s*"([^"]+)"\s*\)/g)) {
    if (!/^(\.|\/|node:|npm:|jsr:|https?:|file:)|\$/.test(match[1])) found.push(match[1]);
  }
  return found;
}

Deno.test("FERRY_RUNTIME_IMPORTS lists exactly the bare imports of mod.ts, cli.ts and src/", async () => {
  const names = new Set<string>();
  const visit = async (path: string) => {
    const info = await Deno.stat(path);
    if (info.isDirectory) {
      for await (const entry of Deno.readDir(path)) await visit(join(path, entry.name));
    } else if (path.endsWith(".ts") && !path.endsWith("_test.ts") && !path.includes("_test_")) {
      for (const name of bareImports(await Deno.readTextFile(path))) names.add(name);
    }
  };
  for (const path of ["mod.ts", "cli.ts", "src"]) await visit(repoPath(path));
  assertEquals([...names].sort(), [...FERRY_RUNTIME_IMPORTS].sort());
});
