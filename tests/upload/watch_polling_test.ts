/**
 * `ferry upload --watch --poll` (the fallback for filesystems without change events), against
 * the real broker: the same scenario as the event test, the same result (see
 * `tests/support/watch.ts`).
 */
import { runWatchScenario } from "../support/watch.ts";

Deno.test("--watch --poll gives the same result as change events", async () => {
  await runWatchScenario({ flags: ["--poll"] });
});
