/**
 * librdkafka's log lines (`emitLogLine`) as LogTape records: their braces kept as written; the
 * start-up noise of an idempotent producer at debug.
 */

import { assertEquals } from "../../tests/support/assert.ts";
import { captureLogs, formatLines } from "../../tests/support/logs.ts";
import { emitLogLine } from "./log.ts";

Deno.test("librdkafka lines keep their braces", async () => {
  const records = await captureLogs(() => {
    emitLogLine(3, "rdkafka#consumer-1", "FAIL", "boom {client} {{x}} }{");
    emitLogLine(7, "rdkafka#consumer-1", "CGRP", '{"state":"up"}');
  });
  assertEquals(formatLines(records), [
    "[ERR] ferry.rdkafka: rdkafka#consumer-1 FAIL: boom {client} {{x}} }{",
    '[DBG] ferry.rdkafka: rdkafka#consumer-1 CGRP: {"state":"up"}',
  ]);
});

Deno.test("a producer's first PID request during the broker's start-up is logged at debug", async () => {
  const starting = "Failed to acquire idempotence PID from broker 127.0.0.1:19092/1: " +
    "Broker: Coordinator load in progress: retrying";
  const refused = "Failed to acquire idempotence PID from broker 127.0.0.1:19092/1: " +
    "Broker: Cluster authorization failed";
  const records = await captureLogs(() => {
    emitLogLine(4, "rdkafka#producer-1", "GETPID", starting);
    emitLogLine(4, "rdkafka#producer-1", "GETPID", refused);
  });
  assertEquals(formatLines(records), [
    `[DBG] ferry.rdkafka: rdkafka#producer-1 GETPID: ${starting}`,
    `[WRN] ferry.rdkafka: rdkafka#producer-1 GETPID: ${refused}`,
  ]);
  // At the default level nothing of it shows.
  const shown = await captureLogs(() => {
    emitLogLine(4, "rdkafka#producer-1", "GETPID", starting);
  }, "info");
  assertEquals(shown, []);
});
