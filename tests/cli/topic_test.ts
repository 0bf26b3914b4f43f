/**
 * `ferry topic create|list|describe|delete` against the test broker, its errors (a topic that
 * exists already or does not exist: exit 1 naming it; usage mistakes: exit 2), its output into
 * a closed pipe, and `ferry upload --create-topic`.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, requireBroker, uniqueName } from "../support/broker.ts";
import { CLI, ferry } from "../support/cli.ts";
import { withTempDir, writeTree } from "../support/files.ts";
import { shell } from "../support/shell.ts";
import { readTopic, rebuild } from "../support/upload.ts";
import { Admin } from "../../src/kafka/mod.ts";

const B = ["--bootstrap-servers", BOOTSTRAP];

/** Deletes `topic` whatever happened to it. */
async function cleanUp(topic: string): Promise<void> {
  await using admin = new Admin({ "bootstrap.servers": BOOTSTRAP });
  await admin.deleteTopics([topic]);
}

Deno.test("ferry topic creates, lists, describes and deletes a topic; exists already and does not exist exit 1", async () => {
  await requireBroker();
  const topic = uniqueName("ferry-topic-cli");
  try {
    const created = await ferry(["topic", "create", topic, "--partitions", "3", ...B]);
    assertEquals(created.code, 0, created.stderr);
    assertEquals(created.stdout, `Created topic "${topic}" with 3 partition(s).\n`);

    const again = await ferry(["topic", "create", topic, ...B]);
    assertEquals(again.code, 1, again.stderr);
    assertEquals(again.stdout, "");
    assert(
      again.stderr.includes(`Topic "${topic}" exists already on "${BOOTSTRAP}"`),
      again.stderr,
    );
    const accepted = await ferry(["topic", "create", topic, "--if-not-exists", ...B]);
    assertEquals(accepted.code, 0, accepted.stderr);
    assert(accepted.stdout.includes("exists already, with 3 partition(s)"), accepted.stdout);

    const list = await ferry(["topic", "list", ...B]);
    assertEquals(list.code, 0, list.stderr);
    const names = list.stdout.trim().split("\n");
    assert(names.includes(topic), list.stdout);
    assert(!names.some((n) => n.startsWith("__")), "internal topics only with --all");
    const json = await ferry(["topic", "list", "--json", ...B]);
    const rows = JSON.parse(json.stdout) as { name: string; partitions: number }[];
    assertEquals(rows.find((r) => r.name === topic), { name: topic, partitions: 3 });

    const described = await ferry(["topic", "describe", topic, ...B]);
    assertEquals(described.code, 0, described.stderr);
    const lines = described.stdout.trim().split("\n");
    assertEquals(lines[0], `Topic "${topic}": 3 partition(s)`);
    assertEquals(lines.length, 5, described.stdout);
    for (const [i, line] of lines.slice(2).entries()) {
      assert(new RegExp(`^  ${i}\\s+\\d+ \\(`).test(line), line);
    }
    const describedJson = JSON.parse(
      (await ferry(["topic", "describe", topic, "--json", ...B])).stdout,
    );
    assertEquals(describedJson.partitions.map((p: { id: number }) => p.id), [0, 1, 2]);

    const deleted = await ferry(["topic", "delete", topic, ...B]);
    assertEquals(deleted.code, 0, deleted.stderr);
    assertEquals(deleted.stdout, `Deleted topic "${topic}".\n`);
    for (const args of [["delete", topic], ["describe", topic]]) {
      const gone = await ferry(["topic", ...args, ...B]);
      assertEquals(gone.code, 1, gone.stderr);
      assert(
        gone.stderr.includes(`Topic "${topic}" does not exist on "${BOOTSTRAP}"`),
        gone.stderr,
      );
    }
    const ifExists = await ferry(["topic", "delete", topic, "--if-exists", ...B]);
    assertEquals(ifExists.code, 0, ifExists.stderr);
  } finally {
    await cleanUp(topic);
  }
});

Deno.test("ferry topic: usage mistakes exit 2 with one line naming the mistake", async () => {
  const cases: [string[], RegExp][] = [
    [["topic", "create", "bad name", ...B], /Topic name "bad name" is not valid/],
    [["topic", "create", "t", "--partitions", "0", ...B], /"--partitions" is "0"/],
    [["topic", "create", "t", "--partitions", "many", ...B], /"--partitions" is "many"/],
    [["topic", "create", "t", "--topic-config", "retention.ms", ...B], /key=value/],
    [["topic", "create", ...B], /missing required argument/],
    [["topic", "create", "t"], /No Kafka broker given/],
    [["topic", "frobnicate", ...B], /unknown command/],
    [["topic", "list", "--bogus", ...B], /unknown option '--bogus'/],
  ];
  for (const [args, message] of cases) {
    const run = await ferry(args);
    assertEquals(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
    assert(message.test(run.stderr), `${args.join(" ")}: ${run.stderr}`);
    assert(!/^\s+at /m.test(run.stderr), run.stderr);
  }
  const bare = await ferry(["topic"]);
  assertEquals(bare.code, 2, "no action: the help, exit 2");
  assert(bare.stderr.includes("create [options] <topic>"), bare.stderr);
});

Deno.test("ferry topic list into a closed pipe ends quietly with status 0", async () => {
  await requireBroker();
  const deno = `deno run -A ${CLI}`;
  for (const line of [`${deno} topic list -b ${BOOTSTRAP} | true`, `${deno} topic --help | true`]) {
    const run = await shell(line, { cwd: Deno.cwd() });
    assertEquals([run.code, run.stderr], [0, ""], line);
  }
});

Deno.test("ferry upload --create-topic creates a missing topic with --partitions, and uses an existing one", async () => {
  await requireBroker();
  const topic = uniqueName("ferry-upload-create");
  try {
    await withTempDir(async (dir) => {
      await writeTree(`${dir}/data`, { "a.txt": "alpha", "b/c.txt": "gamma" });
      const env = { XDG_STATE_HOME: `${dir}/state` };
      const noTopic = await ferry(["upload", `${dir}/data`, "-t", topic, ...B], { env });
      assertEquals(noTopic.code, 1, "without --create-topic a missing topic fails");
      assert(noTopic.stderr.includes(`Topic "${topic}" is not available`), noTopic.stderr);

      const usage = await ferry(["upload", `${dir}/data`, "-t", topic, "--partitions", "3", ...B], {
        env,
      });
      assertEquals(usage.code, 2, usage.stderr);
      assert(usage.stderr.includes('apply only with "--create-topic"'), usage.stderr);

      const run = await ferry([
        ...["upload", `${dir}/data`, "-t", topic, "--create-topic", "--partitions", "3", ...B],
      ], { env });
      assertEquals(run.code, 0, run.stderr);
      assert(run.stderr.includes(`Created topic ${topic} with 3 partition(s).`), run.stderr);
      assert(run.stdout.startsWith("Uploaded 2 file(s)"), run.stdout);
      const described = await ferry(["topic", "describe", topic, ...B]);
      assert(described.stdout.startsWith(`Topic "${topic}": 3 partition(s)`), described.stdout);
      const files = rebuild(await readTopic(topic, 2));
      assertEquals([...files.keys()].sort(), ["a.txt", "b/c.txt"]);

      // The topic exists now: --create-topic uses it as it is.
      await writeTree(`${dir}/data`, { "d.txt": "delta" });
      const second = await ferry([
        ...["upload", `${dir}/data`, "-t", topic, "--create-topic", "--partitions", "5", ...B],
      ], { env });
      assertEquals(second.code, 0, second.stderr);
      assert(!second.stderr.includes("Created topic"), second.stderr);
      assert(second.stdout.startsWith("Uploaded 1 file(s)"), second.stdout);
    }, "ferry-topic-");
  } finally {
    await cleanUp(topic);
  }
});
