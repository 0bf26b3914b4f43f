import { assert, assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { UsageError } from "../command/exit_codes.ts";
import { runLine } from "./run_line.ts";

const context = { deno: "/usr/bin/deno", ferryRoot: "/opt/ferry", env: () => undefined };

Deno.test("run lines: a record processor needs no output directory, a file processor does", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/counts.ts`, "defineRecordProcessor({});\n");
    await Deno.writeTextFile(`${dir}/sizes.ts`, "defineProcessor({});\n");
    const records = await runLine([`${dir}/counts.ts`, "--topic", "t"], {
      ...context,
      cwd: dir,
      env: (name) => name === "HOME" ? "/home/ada" : undefined,
    });
    assertEquals(records.kind, "script");
    // It writes only where it claims its static-membership slot, found the same way by the unit.
    const members = "/home/ada/.local/state/ferry/members";
    assert(records.argv.includes(`--allow-write=${members}`), records.argv.join(" "));
    assertEquals(records.environment.XDG_STATE_HOME, "/home/ada/.local/state");
    assertEquals(records.argv.slice(-3), [`${dir}/counts.ts`, "--topic", "t"]);
    // A processor runs for months: a small young generation, just before the script.
    assertEquals(records.argv.at(-4), "--v8-flags=--max-semi-space-size=2");
    await assertRejects(
      () => runLine(["sizes.ts", "--topic", "t"], { ...context, cwd: dir }),
      UsageError,
      "--output-dir",
    );
    const files = await runLine(["sizes.ts", "-o", "out", "--stop-grace=12"], {
      ...context,
      cwd: dir,
    });
    assert(files.argv.includes(`--allow-write=${dir}/out`), files.argv.join(" "));
    assertEquals(files.argv.slice(-5, -3), [
      "--v8-flags=--max-semi-space-size=2",
      `${dir}/sizes.ts`,
    ]);
    assertEquals(files.stopGraceSeconds, 12);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run lines: a compiled binary runs as it is; other words are refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/checksum`, "#!/bin/sh\n");
    await Deno.chmod(`${dir}/checksum`, 0o755);
    const binary = await runLine(["./checksum", "--topic", "t"], { ...context, cwd: dir });
    assertEquals(binary.kind, "binary");
    assertEquals(binary.argv, [`${dir}/checksum`, "--topic", "t"]);
    await Deno.chmod(`${dir}/checksum`, 0o644);
    await assertRejects(
      () => runLine(["./checksum"], { ...context, cwd: dir }),
      UsageError,
      "chmod",
    );
    await assertRejects(() => runLine(["nothing-here"], { ...context, cwd: dir }), UsageError);
    await assertRejects(() => runLine(["download", "--topic", "t"], context), UsageError);
    await assertRejects(() => runLine([], context), UsageError, "after --");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run lines: download and upload are read with their own parsers", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const download = await runLine(["download", "out", "--topic_name", "t"], {
      ...context,
      cwd: dir,
    });
    assert(download.argv.includes(`--allow-write=${dir}/out`), download.argv.join(" "));
    assertEquals(download.argv.slice(-6), [
      "--v8-flags=--max-semi-space-size=2", // a download runs for months too
      "/opt/ferry/cli.ts",
      ...["download", "out", "--topic_name", "t"],
    ]);
    await assertRejects(
      () => runLine(["download", "-o", "out", "--topic", "t", "--bogus"], { ...context, cwd: dir }),
      UsageError,
      '"--bogus"',
    );
    await assertRejects(
      () => runLine(["upload", "/data", "--topic", "t"], context),
      UsageError,
      "Add --watch",
    );
    const upload = await runLine(
      ["upload", "-w", "--topic", "t", "--settle-seconds", "2", "/data"],
      {
        ...context,
        env: (name) => name === "HOME" ? "/home/lab" : undefined,
      },
    );
    assert(
      upload.argv.some((w) =>
        w.startsWith("--allow-read=") &&
        w.endsWith(",/opt/ferry,/data,/home/lab/.local/state/ferry")
      ),
      upload.argv.join(" "),
    );
    assert(
      upload.argv.includes("--allow-write=/home/lab/.local/state/ferry"),
      upload.argv.join(" "),
    );
    assertEquals(upload.environment.XDG_STATE_HOME, "/home/lab/.local/state");
    // The watch runs for months: a small young generation, before the script.
    const v8 = upload.argv.indexOf("--v8-flags=--max-semi-space-size=2");
    assert(v8 > 1 && v8 < upload.argv.indexOf("/opt/ferry/cli.ts"), upload.argv.join(" "));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
