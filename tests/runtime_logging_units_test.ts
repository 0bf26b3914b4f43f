/**
 * Logging without a broker: the processor's logger printing braces as written, worker records
 * re-emitted unchanged on the coordinator, librdkafka lines with braces, and `--log-file` given
 * a folder or a path that cannot be written.
 */

import { configure, getTextFormatter, type LogRecord, reset } from "@logtape/logtape";
import { assert, assertEquals } from "./support/assert.ts";
import { processorLogger } from "../src/processor/logger.ts";
import { emitWorkerLog, isCloneError, workerLog } from "../src/workers/log.ts";
import { emitLogLine } from "../src/kafka/log.ts";
import {
  closeLogging,
  configureLogging,
  LogFileError,
  logFilePath,
} from "../src/command/logging.ts";
import { Terminal } from "../src/command/terminal.ts";

const format = getTextFormatter({ timestamp: "none", category: "." });

/** Runs `fn` with every record under `["ferry"]` captured. */
async function capture(fn: () => void | Promise<void>): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { test: (record) => records.push(record) },
    loggers: [
      { category: ["ferry"], lowestLevel: "trace", sinks: ["test"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["test"] },
    ],
  });
  try {
    await fn();
  } finally {
    await reset();
  }
  return records;
}

function lines(records: LogRecord[]): string[] {
  return records.map((record) => format(record).trimEnd());
}

Deno.test("processorLogger: braces print as written, placeholders only for given properties", async () => {
  const records = await capture(() => {
    const logger = processorLogger("demo");
    logger.info("value was " + JSON.stringify({ temp: 21.5 }));
    logger.info("Partition {p}", { p: 3 });
    logger.warn("{p} of {q} {{p}} {{q}} { p } {} {{p}", { p: 1 });
    logger.error('{"p":{"p":2}}', { p: 9 });
    logger.debug("{p}", { p: undefined });
  });
  assertEquals(lines(records), [
    '[INF] ferry.processor.demo: value was {"temp":21.5}',
    "[INF] ferry.processor.demo: Partition 3",
    "[WRN] ferry.processor.demo: 1 of {q} {p} {{q}} 1 {} {1",
    '[ERR] ferry.processor.demo: {"p":{"p":2}}',
    "[DBG] ferry.processor.demo: undefined",
  ]);
  assertEquals(records[1].rawMessage, "Partition {p}");
  assertEquals(records[1].properties, { p: 3 });
  assertEquals(records[1].category, ["ferry", "processor", "demo"]);
});

Deno.test("processorLogger: nothing is made below the configured level", async () => {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { test: (record) => records.push(record) },
    loggers: [
      { category: ["ferry"], lowestLevel: "warning", sinks: ["test"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["test"] },
    ],
  });
  try {
    const logger = processorLogger("demo");
    logger.info("{a}", { a: 1 });
    logger.debug("x");
    logger.warn("{a}", { a: 2 });
  } finally {
    await reset();
  }
  assertEquals(lines(records), ["[WRN] ferry.processor.demo: 2"]);
});

Deno.test("worker records are re-emitted on the coordinator as they were logged", async () => {
  const logged = await capture(() =>
    processorLogger("demo").warn("{n} {x} " + JSON.stringify({ a: { b: 1 } }), {
      n: 5,
      error: new Error("bad {thing}"),
    })
  );
  assertEquals(logged.length, 1);
  // Through postMessage's copy, then emitted again.
  const sent = structuredClone(workerLog(logged[0]));
  const again = await capture(() => emitWorkerLog(sent, 2));
  assertEquals(again.length, 1);
  const [record] = again;
  assertEquals(lines(again), ['[WRN] ferry.processor.demo: 5 {x} {"a":{"b":1}}']);
  assertEquals(record.level, "warning");
  assertEquals(record.timestamp, logged[0].timestamp);
  assertEquals(record.rawMessage, logged[0].rawMessage);
  assertEquals(record.properties.n, 5);
  assertEquals(record.properties.worker, 2);
  assertEquals((record.properties.error as Error).message, "bad {thing}");
});

Deno.test("worker records with values postMessage cannot copy go as text", async () => {
  const logged = await capture(() =>
    processorLogger("demo").info("{f} and {{braces}}", { f: () => 1, ok: 1 })
  );
  let error: unknown;
  try {
    structuredClone(workerLog(logged[0]));
  } catch (e) {
    error = e;
  }
  assert(isCloneError(error), String(error));
  const sent = structuredClone(workerLog(logged[0], true));
  const again = await capture(() => emitWorkerLog(sent, 0));
  assertEquals(lines(again), ["[INF] ferry.processor.demo: [Function: f] and {{braces}}"]);
  assertEquals(again[0].properties.f, "[Function: f]");
  assertEquals(again[0].properties.ok, 1);
});

Deno.test("librdkafka lines keep their braces", async () => {
  const records = await capture(() => {
    emitLogLine(3, "rdkafka#consumer-1", "FAIL", "boom {client} {{x}} }{");
    emitLogLine(7, "rdkafka#consumer-1", "CGRP", '{"state":"up"}');
  });
  assertEquals(lines(records), [
    '[ERR] ferry.rdkafka: "rdkafka#consumer-1" "FAIL": boom {client} {{x}} }{',
    '[DBG] ferry.rdkafka: "rdkafka#consumer-1" "CGRP": {"state":"up"}',
  ]);
});

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
