/**
 * `takeMessage` and `giveBackMessage` (`spare_messages.ts`): new buffers are rounded up to
 * 64 KiB, a buffer given back is handed out again for a message it can hold, and at most eight
 * are kept.
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import { giveBackMessage, takeMessage } from "./spare_messages.ts";

Deno.test("a message buffer given back is taken again for a message it holds", () => {
  const first = takeMessage(100_000);
  assertEquals(first.length, 131_072);
  giveBackMessage(first);
  assert(takeMessage(200_000) !== first, "too small for 200 000 bytes");
  const again = takeMessage(70_000);
  assert(again === first);
});

Deno.test("at most eight message buffers are kept for reuse", () => {
  // Sizes no other buffer kept from the test above can serve.
  const buffers = Array.from({ length: 10 }, () => takeMessage(1_000_000));
  for (const buffer of buffers) giveBackMessage(buffer);
  const taken = new Set(Array.from({ length: 10 }, () => takeMessage(1_000_000)));
  assertEquals(buffers.filter((b) => taken.has(b)).length, 8);
});
