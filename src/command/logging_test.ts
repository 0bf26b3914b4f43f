/**
 * A command's log file (`configureLogging`, `logFilePath`): `--log-file` given a folder logs to
 * `<folder>/<name>.log`, and a path that cannot be written is a `LogFileError` naming it. The same
 * through a real processor: `tests/processor/logging_test.ts`. The text formatter
 * (`textFormatter`, `renderLogValue`): values unquoted, control characters escaped.
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import { processorLogger } from "../processor/logger.ts";
import {
  closeLogging,
  configureLogging,
  LogFileError,
  logFilePath,
  renderLogValue,
  textFormatter,
} from "./logging.ts";
import type { LogRecord } from "@logtape/logtape";
import { Terminal } from "./terminal.ts";

const silent = new Terminal(() => {});

Deno.test("--log-file <folder> logs to <folder>/<name>.log", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry_logdir_" });
  try {
    await configureLogging({ file: dir, name: "checksum", terminal: silent });
    processorLogger("checksum").info("in {dir}", { dir: "the folder" });
    await closeLogging();
    const text = await Deno.readTextFile(`${dir}/checksum.log`);
    assert(text.includes("ferry.processor.checksum: in the folder\n"), text);
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

/** A record as LogTape makes it from a template and its values. */
function record(parts: unknown[], level: LogRecord["level"] = "info"): LogRecord {
  return {
    category: ["ferry", "file-processor"],
    level,
    message: parts,
    rawMessage: "",
    properties: {},
    timestamp: Date.UTC(2026, 11, 5, 8, 0, 29, 506),
  };
}

Deno.test("the text formatter shows values unquoted: numbers as numbers, strings as they are", () => {
  const format = textFormatter("none");
  assertEquals(
    format(record(["Summary: ", 10, " processed, ", "3.7 MB", " in ", 5.7, " s."])),
    "[INF] ferry.file-processor: Summary: 10 processed, 3.7 MB in 5.7 s.\n",
  );
  assertEquals(
    format(record(["Partitions ", "0, 1, 2, 3", " of ", "lab-csv", " ", "revoked", "."])),
    "[INF] ferry.file-processor: Partitions 0, 1, 2, 3 of lab-csv revoked.\n",
  );
  assertEquals(
    format(record(["Processed ", "run1/sub 1/scan.csv", " (", 73121, " bytes)."])),
    "[INF] ferry.file-processor: Processed run1/sub 1/scan.csv (73121 bytes).\n",
  );
  // A value cannot break the line, move the cursor or vanish.
  assertEquals(
    format(
      record(["Skipping ", "a\n[ERR] forged\u001b[2J", ": ", "", " and ", " padded "], "warning"),
    ),
    '[WRN] ferry.file-processor: Skipping a\\n[ERR] forged\\u001b[2J: "" and " padded "\n',
  );
  // The timestamped form the console and log files use.
  assert(
    /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[INF\] ferry\.file-processor: 3\.7 s\n$/.test(
      textFormatter()(record(["", 3.7, " s"])),
    ),
  );
});

Deno.test("renderLogValue: other values as Deno.inspect shows them", () => {
  assertEquals(renderLogValue(12n), "12");
  assertEquals(renderLogValue(undefined), "undefined");
  assertEquals(renderLogValue(null), "null");
  assertEquals(renderLogValue([1, "a"]), '[ 1, "a" ]');
  assertEquals(renderLogValue({ temp: 21.5 }), "{ temp: 21.5 }");
  assertEquals(renderLogValue(-0), "0");
});
