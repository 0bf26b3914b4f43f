/**
 * A command's log file (`configureLogging`, `logFilePath`): `--log-file` given a folder logs to
 * `<folder>/<name>.log`, and a path that cannot be written is a `LogFileError` naming it. The same
 * through a real processor: `tests/processor/logging_test.ts`.
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import { processorLogger } from "../processor/logger.ts";
import { closeLogging, configureLogging, LogFileError, logFilePath } from "./logging.ts";
import { Terminal } from "./terminal.ts";

const silent = new Terminal(() => {});

Deno.test("--log-file <folder> logs to <folder>/<name>.log", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry_logdir_" });
  try {
    await configureLogging({ file: dir, name: "checksum", terminal: silent });
    processorLogger("checksum").info("in {dir}", { dir: "the folder" });
    await closeLogging();
    const text = await Deno.readTextFile(`${dir}/checksum.log`);
    assert(text.includes('ferry.processor.checksum: in "the folder"'), text);
    // A run log's name serves too; a path ending in "/" is a folder even when it is not there.
    await configureLogging({
      file: `${dir}/new/`,
      runLog: { outputDir: dir, name: "download" },
      terminal: silent,
    });
    await closeLogging();
    assertEquals((await Deno.stat(`${dir}/new/download.log`)).isFile, true);
    assertEquals(await logFilePath(dir), `${dir}/ferry.log`);
    assertEquals(await logFilePath(`${dir}/a.log`, "x"), `${dir}/a.log`);
  } finally {
    await closeLogging();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a log file that cannot be opened is a LogFileError naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry_logbad_" });
  try {
    await Deno.writeTextFile(`${dir}/plain`, "");
    let error: unknown;
    try {
      await configureLogging({ file: `${dir}/plain/x.log`, terminal: silent });
    } catch (e) {
      error = e;
    }
    assert(error instanceof LogFileError, String(error));
    assertEquals(error.path, `${dir}/plain/x.log`);
    assertEquals(
      error.message,
      `Cannot write the log file "${dir}/plain/x.log": a part of the path is not a folder. ` +
        "Give --log-file a file or folder you can write to.",
    );
  } finally {
    await closeLogging();
    await Deno.remove(dir, { recursive: true });
  }
});
