/**
 * A static member killed between the two rounds of a cooperative rebalance and started again at
 * once takes its old place with the first round's assignment and never rejoins: the partitions it
 * was giving up went to nobody, and the two members that had just joined stayed empty until the
 * next rebalance (`src/processor/stranded_partitions.ts`). Here member a holds all six partitions,
 * b and c join, a is killed while it waits (3 s a file, or a batch) to give four of them up, and
 * started again: within the failover time and 20 s every partition has an owner again, through
 * an empty member rejoining the group. Once with file processors, once with record processors.
 */

import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { putFiles } from "../support/chunks.ts";
import { type Incarnation, Member } from "../support/members.ts";
import { processorArgs, stopProcessor } from "../support/processor.ts";
import { putRecords } from "../support/records.ts";
import { waitUntil } from "../support/wait.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";
const RECORD_SCRIPT = "tests/fixtures/recording_record_processor.ts";
const PARTITIONS = 6;
const FAILOVER_SECONDS = 6;

/**
 * Members a, b and c in `root` (each with its own folder), running `script` with the arguments
 * `args` gives for a member's folder and run id.
 */
function threeMembers(
  root: string,
  script: string,
  args: (dir: string, runId: string) => string[],
): Member[] {
  return ["a", "b", "c"].map((name) => {
    const dir = join(root, name);
    Deno.mkdirSync(dir);
    return new Member(name, dir, {
      script,
      timeoutMs: 120_000,
      args: (runId) => [
        ...args(dir, runId),
        ...["--failover-seconds", String(FAILOVER_SECONDS)],
      ],
    });
  });
}

/**
 * Once `a` (holding every partition) is between the two rounds of the rebalance b and c started
 * (`betweenRounds` resolves then), kills it and starts it again; then waits until every
 * partition has an owner again and checks that one empty member rejoined to get there. Prints
 * the members' last log lines when it fails; stops them in the end.
 */
async function restartBetweenRounds(
  members: Member[],
  betweenRounds: (a: Incarnation, b: Incarnation) => Promise<void>,
): Promise<void> {
  const [a, b, c] = members;
  try {
    const a0 = a.start();
    await waitUntil(() => (a.held(a0).then((h) => h.size === PARTITIONS)), "a alone", 30_000);
    const b0 = b.start();
    c.start();
    await betweenRounds(a0, b0);
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
}

Deno.test("a static restart between the rounds of a rebalance leaves no partition ownerless", async () => {
  await withTopic(PARTITIONS, async (topic) => {
    const root = await Deno.makeTempDir({ prefix: "ferry-stranded-" });
    const group = `stranded-${crypto.randomUUID().slice(0, 8)}`;
    const files = [...Array(120).keys()].map((i) => ({
      path: `f-${i}.dat`,
      bytes: testBytes(800, i + 1),
    }));
    await putFiles(topic, files, { partitions: PARTITIONS });
    const members = threeMembers(root, SCRIPT, (dir) => [
      ...processorArgs(topic, join(dir, "out"), group),
      ...["--workers", "1", "--sleep-ms", "3000"],
    ]);
    // The first round: b gets nothing yet; a sees its revoke once its worker is free again and
    // gives four partitions up once their running files are done (3 s a file); a dies meanwhile
    // and comes back at once.
    await restartBetweenRounds(members, async (_a0, b0) => {
      await waitUntil(() => /No partitions of \S+ assigned yet/.test(b0.stderr), "round 1", 30_000);
    });
    await Deno.remove(root, { recursive: true });
  });
});

Deno.test("record processors: a static restart between the rounds of a rebalance leaves no partition ownerless", async () => {
  await withTopic(PARTITIONS, async (topic) => {
    const root = await Deno.makeTempDir({ prefix: "ferry-stranded-records-" });
    const group = `stranded-records-${crypto.randomUUID().slice(0, 8)}`;
    await putRecords(topic, PARTITIONS, 100);
    const members = threeMembers(root, RECORD_SCRIPT, (dir, runId) => [
      ...["--topic", topic, "--group", group, "--events-file", join(dir, `events-${runId}.log`)],
      ...["--workers", "1", "--max-batch", "5", "--sleep-ms", "3000"],
    ]);
    // The first round: a logs the revoke of four partitions, then waits for their running
    // batches (3 s each) and their shutdown before it gives them up; it dies meanwhile and
    // comes back at once.
    await restartBetweenRounds(members, async (a0) => {
      await waitUntil(() => /Partitions [\d, ]+ of \S+ revoked/.test(a0.stderr), "round 1", 30_000);
    });
    await Deno.remove(root, { recursive: true });
  });
});
