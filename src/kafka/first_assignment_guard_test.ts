/**
 * The first-assignment guard (`first_assignment_guard.ts`): needed only for the cooperative-sticky
 * assignor on librdkafka before 2.3.0; the wait handles events until the first rebalance came.
 */

import { assertEquals } from "../../tests/support/assert.ts";
import { awaitFirstRebalance, needsFirstAssignmentGuard } from "./first_assignment_guard.ts";
import { hasLibraryFeature } from "./library_features.ts";

Deno.test("the guard is for the cooperative-sticky assignor on librdkafka before 2.3.0", () => {
  const old = !hasLibraryFeature("earlyCloseSafe");
  const cooperative = { "partition.assignment.strategy": "cooperative-sticky" };
  assertEquals(needsFirstAssignmentGuard(cooperative), old);
  assertEquals(needsFirstAssignmentGuard({ "partition.assignment.strategy": "range" }), false);
  assertEquals(needsFirstAssignmentGuard({}), false);
});

Deno.test("the wait handles events until the first rebalance came", async () => {
  let handled = 0;
  await awaitFirstRebalance(() => Promise.resolve(void handled++), () => handled < 3);
  assertEquals(handled, 3);
});
