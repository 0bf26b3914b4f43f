/**
 * The offset watermark rule (`OffsetTracker`): the committable offset of a partition is the next
 * one to read after everything settled, so it never passes an unsettled message, however the
 * messages settle; partitions are independent; a revoked partition is forgotten; what was
 * committed is not handed out again.
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import { OffsetTracker } from "./offsets.ts";

const p0 = { topic: "raw", partition: 0 };
const p1 = { topic: "raw", partition: 1 };
const other = { topic: "other", partition: 0 };

/** The committable offset of each partition, as `topic/partition` to offset. */
function committable(tracker: OffsetTracker, only?: { topic: string; partition: number }[]) {
  return Object.fromEntries(
    tracker.committable(only).map((tp) => [`${tp.topic}/${tp.partition}`, tp.offset]),
  );
}

Deno.test("offsets: nothing received, nothing committable", () => {
  const tracker = new OffsetTracker();
  assertEquals(tracker.committable(), []);
  tracker.settle(p0, 5); // a partition never seen: ignored
  assertEquals(tracker.committable(), []);
  assertEquals(tracker.unsettled, 0);
});

Deno.test("offsets: an unsettled message holds the watermark, whatever settles after it", () => {
  const tracker = new OffsetTracker();
  for (let offset = 10; offset < 15; offset++) tracker.add(p0, offset);
  assertEquals(committable(tracker), { "raw/0": 10 }, "nothing settled: the first offset");
  // Settled out of order: 14, 12, 11, but not 10.
  for (const offset of [14, 12, 11]) tracker.settle(p0, offset);
  assertEquals(committable(tracker), { "raw/0": 10 }, "10 is not settled");
  tracker.settle(p0, 10);
  assertEquals(committable(tracker), { "raw/0": 13 }, "10, 11 and 12 settled; 13 not");
  tracker.settle(p0, 13);
  assertEquals(committable(tracker), { "raw/0": 15 }, "everything settled: the next offset");
  assertEquals(tracker.unsettled, 0);
});

Deno.test("offsets: gaps in the offsets (compaction, transaction markers) are stepped over", () => {
  const tracker = new OffsetTracker();
  for (const offset of [3, 7, 8, 20]) tracker.add(p0, offset);
  tracker.settle(p0, 3);
  assertEquals(committable(tracker), { "raw/0": 7 }, "the first unsettled offset, not 4");
  tracker.settle(p0, 8);
  tracker.settle(p0, 7);
  assertEquals(committable(tracker), { "raw/0": 20 });
  tracker.settle(p0, 20);
  assertEquals(committable(tracker), { "raw/0": 21 });
});

Deno.test("offsets: a redelivered message is not tracked twice", () => {
  const tracker = new OffsetTracker();
  tracker.add(p0, 0);
  tracker.add(p0, 1);
  tracker.settle(p0, 0);
  tracker.add(p0, 0); // delivered again (a seek back): already settled
  tracker.add(p0, 1); // delivered again, not yet settled
  assertEquals(tracker.unsettled, 1);
  assertEquals(committable(tracker), { "raw/0": 1 });
  tracker.settle(p0, 1);
  assertEquals(committable(tracker), { "raw/0": 2 });
});

Deno.test("offsets: partitions and topics are independent; committable can ask for some", () => {
  const tracker = new OffsetTracker();
  for (let offset = 0; offset < 3; offset++) {
    tracker.add(p0, offset);
    tracker.add(p1, 100 + offset);
    tracker.add(other, offset);
  }
  tracker.settle(p0, 0);
  tracker.settle(p0, 1);
  tracker.settle(p1, 101); // 100 is not settled: p1 stays at 100
  tracker.settle(other, 0);
  assertEquals(committable(tracker), { "raw/0": 2, "raw/1": 100, "other/0": 1 });
  assertEquals(committable(tracker, [p1]), { "raw/1": 100 });
  assertEquals(committable(tracker, [p0, other]), { "raw/0": 2, "other/0": 1 });
  // The same offset number settled in another partition does not count for this one.
  tracker.settle(p0, 100);
  assertEquals(committable(tracker, [p1]), { "raw/1": 100 });
});

Deno.test("offsets: committed marks — handed out again until marked, never again after", () => {
  const tracker = new OffsetTracker();
  for (let offset = 0; offset < 4; offset++) tracker.add(p0, offset);
  tracker.add(p1, 0);
  tracker.settle(p0, 0);
  tracker.settle(p0, 1);
  tracker.settle(p1, 0);
  // Not marked (a commit that failed is retried): the same offsets again.
  assertEquals(committable(tracker), { "raw/0": 2, "raw/1": 1 });
  assertEquals(committable(tracker), { "raw/0": 2, "raw/1": 1 });
  tracker.markCommitted([{ ...p0, offset: 2 }]);
  assertEquals(committable(tracker), { "raw/1": 1 }, "raw/0 at 2 is committed already");
  tracker.markCommitted([{ ...p1, offset: 1 }]);
  assertEquals(tracker.committable(), [], "nothing new settled");
  // A lower mark does not lower it; a mark for an unknown partition is ignored.
  tracker.markCommitted([{ ...p0, offset: 1 }, { ...other, offset: 9 }]);
  assertEquals(tracker.committable(), []);
  tracker.settle(p0, 2);
  assertEquals(committable(tracker), { "raw/0": 3 }, "a new watermark is handed out");
  tracker.markCommitted([{ ...p0, offset: 3 }]);
  tracker.settle(p0, 3);
  assertEquals(committable(tracker), { "raw/0": 4 });
});

Deno.test("offsets: a forgotten (revoked) partition is neither committable nor counted", () => {
  const tracker = new OffsetTracker();
  for (let offset = 0; offset < 5; offset++) {
    tracker.add(p0, offset);
    tracker.add(p1, offset);
  }
  tracker.settle(p0, 0);
  tracker.settle(p1, 0);
  tracker.markCommitted([{ ...p1, offset: 1 }]);
  tracker.forget([p1]);
  assertEquals(committable(tracker), { "raw/0": 1 });
  assertEquals(tracker.unsettled, 4, "only raw/0's unsettled messages");
  // Late settlements of its messages (files finishing after the revoke) change nothing.
  tracker.settle(p1, 1);
  tracker.settle(p1, 2);
  assertEquals(committable(tracker), { "raw/0": 1 });
  // Assigned again later: tracked afresh from what arrives, with no committed mark left over.
  tracker.add(p1, 1);
  assertEquals(committable(tracker), { "raw/0": 1, "raw/1": 1 });
  assertEquals(tracker.unsettled, 5);
  // Forgetting a partition never seen, or one twice, is harmless.
  tracker.forget([other, p1, p1]);
  assertEquals(committable(tracker), { "raw/0": 1 });
});

Deno.test("offsets: one slow message holds the watermark while thousands after it settle", () => {
  // A long file among many small ones: the messages after it settle in order, it does not.
  const tracker = new OffsetTracker();
  for (let offset = 0; offset < 5000; offset++) tracker.add(p0, offset);
  for (let offset = 0; offset < 5000; offset++) {
    if (offset === 1500) continue;
    tracker.settle(p0, offset);
    if (offset % 250 === 0 || offset === 4999) {
      assertEquals(committable(tracker), { "raw/0": Math.min(offset + 1, 1500) }, `at ${offset}`);
    }
  }
  tracker.add(p0, 5000);
  tracker.settle(p0, 1500);
  assertEquals(committable(tracker), { "raw/0": 5000 }, "5000 is not settled");
  tracker.settle(p0, 5000);
  assertEquals(committable(tracker), { "raw/0": 5001 });
  assertEquals(tracker.unsettled, 0);
});

Deno.test("offsets: thousands of messages settled in random order, over several partitions", () => {
  // A deterministic shuffle, so a failure can be reproduced.
  let seed = 12345;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const partitions = [p0, p1, other];
  const count = 3000; // more than the tracker keeps before compacting its queue
  const tracker = new OffsetTracker();
  const pending: { tp: typeof p0; offset: number }[] = [];
  const unsettled = partitions.map(() => new Set<number>());
  for (let offset = 0; offset < count; offset++) {
    for (const [i, tp] of partitions.entries()) {
      tracker.add(tp, offset * 2); // even offsets only: gaps everywhere
      pending.push({ tp, offset: offset * 2 });
      unsettled[i].add(offset * 2);
    }
  }
  let checks = 0;
  while (pending.length > 0) {
    const [{ tp, offset }] = pending.splice(random(pending.length), 1);
    tracker.settle(tp, offset);
    const i = partitions.indexOf(tp);
    unsettled[i].delete(offset);
    if (pending.length % 97 !== 0) continue;
    // The watermark of every partition is its lowest unsettled offset (or past the last one).
    const expected: Record<string, number> = {};
    for (const [j, partition] of partitions.entries()) {
      const lowest = unsettled[j].size > 0 ? Math.min(...unsettled[j]) : count * 2 - 1;
      expected[`${partition.topic}/${partition.partition}`] = lowest;
    }
    const got = committable(tracker);
    for (const [key, offset] of Object.entries(expected)) {
      assertEquals(got[key], offset, `${key} after ${3 * count - pending.length} settled`);
    }
    checks++;
  }
  assert(checks > 50, `only ${checks} checks`);
  assertEquals(tracker.unsettled, 0);
  assertEquals(committable(tracker), {
    "raw/0": count * 2 - 1,
    "raw/1": count * 2 - 1,
    "other/0": count * 2 - 1,
  });
});
