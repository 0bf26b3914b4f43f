/**
 * Log records from workers (`workerLog`, `emitWorkerLog`): re-emitted on the coordinator as they
 * were logged, through `postMessage`'s copy, and values it cannot copy sent as text.
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import { captureLogs, formatLines } from "../../tests/support/logs.ts";
import { processorLogger } from "../processor/logger.ts";
import { emitWorkerLog, isCloneError, workerLog } from "./log.ts";

Deno.test("worker records are re-emitted on the coordinator as they were logged", async () => {
  const logged = await captureLogs(() =>
    processorLogger("demo").warn("{n} {x} " + JSON.stringify({ a: { b: 1 } }), {
      n: 5,
      error: new Error("bad {thing}"),
    })
  );
  assertEquals(logged.length, 1);
  // Through postMessage's copy, then emitted again.
  const sent = structuredClone(workerLog(logged[0]));
  const again = await captureLogs(() => emitWorkerLog(sent, 2));
  assertEquals(again.length, 1);
  const [record] = again;
  assertEquals(formatLines(again), ['[WRN] ferry.processor.demo: 5 {x} {"a":{"b":1}}']);
  assertEquals(record.level, "warning");
  assertEquals(record.timestamp, logged[0].timestamp);
  assertEquals(record.rawMessage, logged[0].rawMessage);
  assertEquals(record.properties.n, 5);
  assertEquals(record.properties.worker, 2);
  assertEquals((record.properties.error as Error).message, "bad {thing}");
});

Deno.test("worker records with values postMessage cannot copy go as text", async () => {
  const logged = await captureLogs(() =>
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
  const again = await captureLogs(() => emitWorkerLog(sent, 0));
  assertEquals(formatLines(again), ["[INF] ferry.processor.demo: [Function: f] and {{braces}}"]);
  assertEquals(again[0].properties.f, "[Function: f]");
  assertEquals(again[0].properties.ok, 1);
});
