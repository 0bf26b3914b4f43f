/** librdkafka's log lines (`emitLogLine`) as LogTape records: their braces kept as written. */

import { assertEquals } from "../../tests/support/assert.ts";
import { captureLogs, formatLines } from "../../tests/support/logs.ts";
import { emitLogLine } from "./log.ts";

Deno.test("librdkafka lines keep their braces", async () => {
  const records = await captureLogs(() => {
    emitLogLine(3, "rdkafka#consumer-1", "FAIL", "boom {client} {{x}} }{");
    emitLogLine(7, "rdkafka#consumer-1", "CGRP", '{"state":"up"}');
  });
  assertEquals(formatLines(records), [
    '[ERR] ferry.rdkafka: "rdkafka#consumer-1" "FAIL": boom {client} {{x}} }{',
    '[DBG] ferry.rdkafka: "rdkafka#consumer-1" "CGRP": {"state":"up"}',
  ]);
});
