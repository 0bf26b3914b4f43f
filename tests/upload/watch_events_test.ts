/**
 * `ferry upload --watch` on change events (inotify), against the real broker: files appearing at
 * 50 a second for 20 s in folders made after the watch began, some renamed into place, some
 * deleted before they settled, one growing slowly (see `tests/support/watch.ts`).
 */
import { runWatchScenario } from "../support/watch.ts";

Deno.test("--watch on change events uploads every settled file once, deleted ones never, a grown file again", async () => {
  // A short safety rescan runs a few times during the scenario: it must not upload anything twice.
  await runWatchScenario({ flags: ["--rescan-seconds", "3"] });
});
