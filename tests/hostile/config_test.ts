/**
 * Bad configuration for a processor script and for `ferry upload`, against the real broker:
 * unknown keys, a missing `$VAR`, a config file that does not parse, a topic that does not
 * exist. Each gives a clear error and exit status 2 (configuration) or 1 (runtime), and nothing
 * is half-started: no output or upload log folder is created and no consumer group is joined.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, requireBroker, withTopic } from "../support/broker.ts";
import { ferry } from "../support/cli.ts";
import { listTree } from "../support/files.ts";
import { processorArgs, runProcessor } from "../support/processor.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";
const decoder = new TextDecoder();

interface Case {
  /** What is wrong. */
  label: string;
  /** The config file's text, or undefined for a file that does not exist. */
  config: string | undefined;
  /** Extra flags. */
  flags?: string[];
  /** Use this topic instead of the test's. */
  topic?: string;
  /** The exit status. */
  code: number;
  /** What the error message must say. */
  message: RegExp;
}

function cases(): Case[] {
  const broker = `[broker]\nbootstrap.servers = ${BOOTSTRAP}\n`;
  return [
    {
      label: "unknown key in [consumer] and [producer]",
      config: `${broker}[consumer]\nfetch.bogus.key = 1\n[producer]\nlinger.bogus = 3\n`,
      code: 2,
      message: /property "(fetch|linger)\.bogus(\.key)?" was rejected: No such configuration/,
    },
    {
      label: "unknown key in [broker]",
      config: `${broker}bogus.setting = yes\n`,
      code: 2,
      message: /property "bogus\.setting" was rejected/,
    },
    {
      label: "unknown -X property",
      config: broker,
      flags: ["-X", "no.such.property=1"],
      code: 2,
      message: /property "no\.such\.property" was rejected/,
    },
    {
      label: "unknown section",
      config: `${broker}[consumers]\ngroup.id = x\n`,
      code: 2,
      message: /:3: Section "\[consumers\]" is not one Ferry knows/,
    },
    {
      label: "missing $VAR",
      config: "[broker]\nbootstrap.servers = $FERRY_TEST_SURELY_UNSET\n",
      code: 2,
      message: /Environment variable "FERRY_TEST_SURELY_UNSET" is not set/,
    },
    {
      label: "a file that does not parse",
      config: "[broker\nbootstrap.servers 127.0.0.1\n",
      code: 2,
      message: /:1: Line "\[broker"/,
    },
    {
      label: "binary garbage",
      config: "\u0000\u0001\u00ff\u00fe[[[===\n",
      code: 2,
      message: /:1:/,
    },
    { label: "no such config file", config: undefined, code: 2, message: /config|No such file/i },
    {
      label: "a topic that does not exist",
      config: broker,
      topic: "ferry-test-no-such-topic",
      code: 1,
      message: /Topic "ferry-test-no-such-topic" is not available/,
    },
  ];
}

async function groupsOnBroker(): Promise<string[]> {
  const home = Deno.env.get("HOME") ?? "";
  const cache = Deno.env.get("FERRY_CACHE") ?? `${home}/.cache/ferry`;
  const out = await new Deno.Command("java", {
    args: [
      "-cp",
      `${cache}/kafka-3.9.1/libs/*`,
      "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
      "--bootstrap-server",
      BOOTSTRAP,
      "--list",
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  assert(out.success, "listing consumer groups failed");
  return decoder.decode(out.stdout).split("\n").map((l) => l.trim()).filter(Boolean);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test("bad config fails clearly and starts nothing: processor script and ferry upload", async () => {
  await requireBroker();
  await withTopic(1, async (topic) => {
    const dir = await Deno.makeTempDir({ prefix: "ferry-config-" });
    const data = `${dir}/data`;
    await Deno.mkdir(data);
    await Deno.writeTextFile(`${data}/a.txt`, "hello\n");
    const groups: string[] = [];
    try {
      for (const [i, c] of cases().entries()) {
        const configFile = `${dir}/config-${i}.ini`;
        if (c.config !== undefined) await Deno.writeTextFile(configFile, c.config);
        const useTopic = c.topic ?? topic;
        const env = { FERRY_BOOTSTRAP_SERVERS: "", NO_COLOR: "1" };

        // A processor script.
        const out = `${dir}/out-${i}`;
        const group = `config-${i}-${crypto.randomUUID().slice(0, 8)}`;
        groups.push(group);
        const run = await runProcessor(
          SCRIPT,
          [
            "--config",
            configFile,
            ...c.flags ?? [],
            ...processorArgs(useTopic, out, group),
            "--exit-when-idle",
            "1",
          ],
          60_000,
          { bootstrap: false, env },
        );
        assertEquals(run.code, c.code, `processor, ${c.label}: ${run.stderr}`);
        assert(c.message.test(run.stderr), `processor, ${c.label}: ${run.stderr}`);
        assert(!/^\s+at /m.test(run.stderr), `processor, ${c.label}: a stack trace\n${run.stderr}`);
        // At most the run's own log (`.ferry/recording.log`, which holds the error) is there: no
        // registry, no partial files, nothing processed.
        const left = await listTree(out);
        assert(
          left.every((p) => p === ".ferry" || p === ".ferry/recording.log"),
          `processor, ${c.label}: the run left ${left.join(", ")}`,
        );
        if (c.code === 2) assertEquals(left, [], `processor, ${c.label}: ${left.join(", ")}`);

        // ferry upload.
        const logDir = `${dir}/upload-log-${i}`;
        const upload = await ferry([
          "upload",
          data,
          "--config",
          configFile,
          ...c.flags ?? [],
          "--topic",
          useTopic,
          "--upload-log-dir",
          logDir,
        ], { timeoutMs: 60_000 });
        const stderr = upload.stderr;
        assertEquals(upload.code, c.code, `upload, ${c.label}: ${stderr}`);
        assert(c.message.test(stderr), `upload, ${c.label}: ${stderr}`);
        assert(!/^\s+at /m.test(stderr), `upload, ${c.label}: a stack trace\n${stderr}`);
        assert(!(await exists(logDir)), `upload, ${c.label}: the upload log folder was created`);
        assert(!(await exists(`${data}/.ferry`)), `upload, ${c.label}: ${data}/.ferry created`);
      }
      const joined = (await groupsOnBroker()).filter((g) => groups.includes(g));
      assertEquals(joined, [], "no consumer group was joined");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
