/**
 * The processor's logger (`processorLogger`): braces print as written, placeholders only for the
 * properties given, nothing made below the configured level. Its lines from a real processor's
 * workers: `tests/processor/logging_test.ts`.
 */

import { assertEquals } from "../../tests/support/assert.ts";
import { captureLogs, formatLines } from "../../tests/support/logs.ts";
import { processorLogger } from "./logger.ts";

Deno.test("processorLogger: braces print as written, placeholders only for given properties", async () => {
  const records = await captureLogs(() => {
    const logger = processorLogger("demo");
    logger.info("value was " + JSON.stringify({ temp: 21.5 }));
    logger.info("Partition {p}", { p: 3 });
    logger.warn("{p} of {q} {{p}} {{q}} { p } {} {{p}", { p: 1 });
    logger.error('{"p":{"p":2}}', { p: 9 });
    logger.debug("{p}", { p: undefined });
  });
  assertEquals(formatLines(records), [
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
  const records = await captureLogs(() => {
    const logger = processorLogger("demo");
    logger.info("{a}", { a: 1 });
    logger.debug("x");
    logger.warn("{a}", { a: 2 });
  }, "warning");
  assertEquals(formatLines(records), ["[WRN] ferry.processor.demo: 2"]);
});
