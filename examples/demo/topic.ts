/**
 * The demo's topic helper (used by `scripts/demo.sh`): creates a topic and waits until every
 * partition has a leader, or deletes one.
 *
 *     deno run -A examples/demo/topic.ts create <bootstrap-servers> <topic> [partitions]
 *     deno run -A examples/demo/topic.ts delete <bootstrap-servers> <topic>
 *
 * Exit status 0 done, 1 the broker refused or did not answer, 2 bad arguments.
 *
 * @module
 */

import { Admin } from "../../mod.ts";

/** Creates `topic` with `partitions` partitions and waits until each has a leader. */
export async function createTopic(
  bootstrap: string,
  topic: string,
  partitions: number,
): Promise<void> {
  await using admin = new Admin({ "bootstrap.servers": bootstrap });
  await admin.createTopics([{ topic, partitions }], { ifNotExists: true });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const metadata = await admin.metadata({ topics: [topic], timeoutMs: 5_000 });
    const found = metadata.topics[0];
    if (
      found && found.partitions.length === partitions &&
      found.partitions.every((p) => p.leader >= 0)
    ) return;
    if (Date.now() > deadline) {
      throw new Error(`Topic "${topic}" has no leader for every partition after 30 s.`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Deletes `topic` (a topic that does not exist is fine). */
export async function deleteTopic(bootstrap: string, topic: string): Promise<void> {
  await using admin = new Admin({ "bootstrap.servers": bootstrap });
  await admin.deleteTopics([topic]);
}

if (import.meta.main) {
  const [command, bootstrap, topic, partitionsText = "4"] = Deno.args;
  const partitions = Number(partitionsText);
  if (
    !["create", "delete"].includes(command) || !bootstrap || !topic ||
    !Number.isInteger(partitions) || partitions < 1
  ) {
    // deno-lint-ignore no-console
    console.error("Usage: topic.ts create|delete <bootstrap-servers> <topic> [partitions]");
    Deno.exit(2);
  }
  try {
    if (command === "create") await createTopic(bootstrap, topic, partitions);
    else await deleteTopic(bootstrap, topic);
  } catch (error) {
    // deno-lint-ignore no-console
    console.error(
      `Could not ${command} topic "${topic}" on "${bootstrap}": ` +
        (error instanceof Error ? error.message : String(error)),
    );
    Deno.exit(1);
  }
}
