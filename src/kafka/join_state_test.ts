import { assert, assertEquals } from "../../tests/support/assert.ts";
import { CommitGate } from "../processor/commit_gate.ts";
import { emitLogLine } from "./log.ts";
import { JoinStateWatch } from "./join_state.ts";

function joinState(group: string, from: string, to: string): void {
  emitLogLine(
    7,
    "rdkafka#consumer-1",
    "CGRPJOINSTATE",
    `[thrd:main]: Group "${group}" changed join state ${from} -> ${to} (state up)`,
  );
}

Deno.test("the join state of its own group only, and the commit gate closed while rejoining", () => {
  using watch = new JoinStateWatch("g1");
  const gate = new CommitGate({
    heartbeatMs: 10,
    failoverMs: 100,
    rejoiningMs: () => watch.rejoiningMs,
  });
  assert(!watch.joining && gate.open);
  joinState("g2", "steady", "init");
  assert(!watch.joining && gate.open, "another group's lines are not this one's");
  joinState("g1", "steady", "init");
  joinState("g1", "init", "wait-join");
  assertEquals(watch.state, "wait-join");
  assert(!gate.open, "closed while librdkafka rejoins");
  joinState("g1", "wait-join", "wait-sync");
  assert(!gate.open);
  joinState("g1", "wait-sync", "wait-assign-call");
  assert(gate.open, "open in the assign handler");
  joinState("g1", "wait-assign-call", "steady");
  assert(gate.open);
  joinState("g1", "steady", "wait-unassign-call");
  assert(gate.open, "open in a revoke handler: a revoked partition's last commit goes through");
  joinState("g1", "wait-unassign-to-complete", "init");
  assert(!gate.open);
});

Deno.test("the commit gate opens after the longest hold, even if the join state never settles", async () => {
  using watch = new JoinStateWatch("g3");
  const gate = new CommitGate({
    heartbeatMs: 10,
    failoverMs: 0,
    rejoiningMs: () => watch.rejoiningMs,
  });
  joinState("g3", "steady", "init");
  assert(!gate.open);
  await new Promise((resolve) => setTimeout(resolve, 5100));
  assert(gate.open, "a join state line missed must not hold commits for good");
});

Deno.test("with the consumer protocol the gate ignores the join state", () => {
  const gate = new CommitGate({
    heartbeatMs: 10,
    failoverMs: 100,
    protocol: "consumer",
    rejoiningMs: () => 50,
  });
  assert(gate.open);
});
