/**
 * A static member killed between the two rounds of a cooperative rebalance and started again at
 * once takes its old place with the first round's assignment and never rejoins: the partitions it
 * was giving up went to nobody, and the two members that had just joined stayed empty until the
 * next rebalance (`src/processor/stranded_partitions.ts`). Here member a holds all six partitions,
 * b and c join, a is killed while it waits (3 s a file) to give four of them up, and started
 * again: within the failover time and 20 s every partition has an owner again, through an empty
 * member rejoining the group.
 */

import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { putFiles } from "../support/chunks.ts";
import { Member } from "../support/members.ts";
import { processorArgs, stopProcessor } from "../support/processor.ts";
import { waitUntil } from "../support/wait.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";
const PARTITIONS = 6;
const FAILOVER_SECONDS = 6;

Deno.test("a static restart between the rounds of a rebalance leaves no partition ownerless", async () => {
  await withTopic(PARTITIONS, async (topic) => {
    const root = await Deno.makeTempDir({ prefix: "ferry-stranded-" });
    const group = `stranded-${crypto.randomUUID().slice(0, 8)}`;
    const files = [...Array(120).keys()].map((i) => ({
      path: `f-${i}.dat`,
      bytes: testBytes(800, i + 1),
    }));
    await putFiles(topic, files, { partitions: PARTITIONS });
    const members = ["a", "b", "c"].map((name) => {
      const dir = join(root, name);
      Deno.mkdirSync(dir);
      return new Member(name, dir, {
        script: SCRIPT,
        timeoutMs: 120_000,
        args: () => [
          ...processorArgs(topic, join(dir, "out"), group),
          ...["--workers", "1", "--sleep-ms", "3000"],
          ...["--failover-seconds", String(FAILOVER_SECONDS)],
        ],
      });
    });
    const [a, b, c] = members;
    try {
      const a0 = a.start();
      await waitUntil(() => (a.held(a0).then((h) => h.size === PARTITIONS)), "a alone", 30_000);
      const b0 = b.start();
      c.start();
      // The first round: b gets nothing yet; a sees its revoke once its worker is free again and
      // gives four partitions up once their running files are done (3 s a file); a dies
      // meanwhile and comes back at once.
      await waitUntil(() => /No partitions of \S+ assigned yet/.test(b0.stderr), "round 1", 30_000);
      await a.kill();
      a.start();
      const owned = async () => {
        const held = await Promise.all(members.map((m) => m.held(m.current!)));
        return new Set(held.flatMap((h) => [...h]));
      };
      await waitUntil(
        async () => (await owned()).size === PARTITIONS,
        "every partition owned again",
        (FAILOVER_SECONDS + 30) * 1000,
      );
      const rejoined = members.filter((m) => /to no member for/.test(m.current!.stderr));
      // deno-lint-ignore no-console
      console.log(`rejoined to hand out ownerless partitions: ${rejoined.map((m) => m.name)}`);
      assertEquals(rejoined.length, 1, "one empty member rejoined (the case happened)");
      assert(rejoined[0] !== a, "an empty member rejoined");
    } catch (error) {
      for (const m of members) {
        for (const inc of m.incarnations) {
          // deno-lint-ignore no-console
          console.log(`--- ${inc.runId}\n${inc.stderr.split("\n").slice(-15).join("\n")}`);
        }
      }
      throw error;
    } finally {
      for (const m of members) if (m.current) await stopProcessor(m.current);
    }
    await Deno.remove(root, { recursive: true });
  });
});
