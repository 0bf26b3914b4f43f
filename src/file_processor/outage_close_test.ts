/**
 * Closing the consumer with the broker away (`closeConsumer`): a close that hangs is left after
 * the wait, a failed close is logged; with the broker there, the close is awaited as it is.
 */

import { assert, assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { captureLogs, formatLines } from "../../tests/support/logs.ts";
import { closeConsumer } from "./outage_close.ts";

Deno.test("with the broker away a close that hangs is left after the wait", async () => {
  let asked = 0;
  const hanging = { close: () => new Promise<void>(() => {}) };
  const lines = formatLines(
    await captureLogs(() => closeConsumer(hanging, () => (asked++, true), 20)),
  );
  assertEquals(asked, 1);
  assertEquals(lines.length, 1);
  assert(lines[0].includes("did not close within 10 s with the broker away"), lines[0]);
});

Deno.test("with the broker away a failed close is logged, not thrown", async () => {
  const failing = { close: () => Promise.reject(new Error("no coordinator")) };
  const lines = formatLines(await captureLogs(() => closeConsumer(failing, () => true, 60_000)));
  assertEquals(lines.length, 1);
  assert(lines[0].includes("Closing the Kafka consumer failed: no coordinator"), lines[0]);
});

Deno.test("with the broker there the close is awaited and its failure thrown", async () => {
  let closed = false;
  await closeConsumer(
    { close: () => Promise.resolve().then(() => void (closed = true)) },
    () => false,
  );
  assert(closed);
  const failing = { close: () => Promise.reject(new Error("no coordinator")) };
  await assertRejects(() => closeConsumer(failing, () => false), Error, "no coordinator");
});
