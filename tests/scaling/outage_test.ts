/**
 * The broker killed for about ten seconds in the middle of a run, on a broker of the test's own
 * (on free ports, or `FERRY_TEST_SCALING_OUTAGE_PORT`), while a second `ferry upload` starts during
 * the outage: the upload finishes once the broker is back, every file is processed, and the
 * processor's outage lines are true: one line when it went away (after the broker stopped), one
 * when it came back (after the broker answered again) with the time away printed right, and
 * none of librdkafka's per-connection failures on the console.
 */

import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { OwnBroker, ownBrokerPort, uniqueName } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { ferry, startFerry } from "../support/cli.ts";
import { logLineTime, Member } from "../support/members.ts";
import { processorArgs, readCalls, stopProcessor } from "../support/processor.ts";
import { sleep, waitUntil } from "../support/wait.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";
const PARTITIONS = 3;
const OUTAGE_MS = 10_000;

async function writeFiles(dir: string, prefix: string, count: number): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    names.push(`${prefix}-${i}.bin`);
    await Deno.writeFile(join(dir, names[i]), testBytes(3_000 + i * 211, i + prefix.length));
  }
  return names;
}

function lineTime(line: string): number {
  const at = logLineTime(line);
  assert(at !== undefined, `a log line with a time: ${line}`);
  return at;
}

Deno.test("the broker away for 10 s while a second upload starts: all processed, true log", async () => {
  await using broker = await OwnBroker.start(ownBrokerPort("FERRY_TEST_SCALING_OUTAGE_PORT"));
  const root = await Deno.makeTempDir({ prefix: "ferry-scale-outage-" });
  const topic = uniqueName("ferry-outage");
  await broker.createTopic(topic, PARTITIONS);
  const stateHome = join(root, "state");
  const uploadArgs = (dir: string) => [
    "upload",
    dir,
    "--topic",
    topic,
    "--bootstrap-servers",
    broker.bootstrap,
    "--chunk-size",
    "2048",
    "--quiet",
  ];
  const env = { XDG_STATE_HOME: stateHome };
  const first = await writeFiles(join(root, "first"), "first", 40);
  const up1 = await ferry(uploadArgs(join(root, "first")), { env });
  assertEquals(up1.code, 0, up1.stderr);

  const member = new Member("p", join(root, "p"), {
    script: SCRIPT,
    timeoutMs: 150_000,
    bootstrap: false,
    args: () => [
      "--bootstrap-servers",
      broker.bootstrap,
      ...processorArgs(topic, join(root, "p", "out"), "outage"),
      "--sleep-ms",
      "100",
      // Longer than the outage: a session that outlasts it keeps its static member id (one
      // that does not is fenced by its own rejoin and starts again: librdkafka#3437, covered
      // by tests/fault/broker_outage_test.ts).
      "--failover-seconds",
      "40",
    ],
  });
  await Deno.mkdir(member.dir, { recursive: true });
  const run = member.start();
  const out = join(member.dir, "out");
  let second: string[] = [];
  let stoppedAt = 0;
  let restartedAt = 0;
  let upload2: Deno.ChildProcess | undefined;
  try {
    await waitUntil(async () => (await readCalls(out)).length >= 10, "10 files processed");
    stoppedAt = Date.now();
    await broker.stop(); // TERM, the broker's way of going away; it takes a moment
    second = await writeFiles(join(root, "second"), "second", 20);
    await sleep(2000);
    upload2 = startFerry(uploadArgs(join(root, "second")), { env, timeoutMs: 120_000 });
    await sleep(Math.max(0, stoppedAt + OUTAGE_MS - Date.now()));
    restartedAt = Date.now();
    await broker.start();
    const up2 = await upload2.output();
    assertEquals(up2.code, 0, new TextDecoder().decode(up2.stderr));
    await waitUntil(
      async () => new Set((await readCalls(out)).map((c) => c.path)).size === 60,
      "every file processed",
      60_000,
    );
  } finally {
    if (member.current) await stopProcessor(member.current);
    upload2?.stderr.cancel().catch(() => undefined);
  }
  const paths = new Set((await readCalls(out)).map((c) => c.path));
  assertEquals(paths, new Set([...first, ...second]));

  const lines = run.stderr.split("\n");
  const down = lines.filter((l) => l.includes("is unreachable ("));
  const back = lines.filter((l) => l.includes("is reachable again after"));
  assertEquals(down.length, 1, `one line for the outage:\n${run.stderr}`);
  assertEquals(back.length, 1, `one line for the return:\n${run.stderr}`);
  const downAt = lineTime(down[0]);
  const backAt = lineTime(back[0]);
  assert(downAt >= stoppedAt, `"unreachable" after the broker was stopped:\n${down[0]}`);
  assert(backAt >= restartedAt, `"reachable again" after the broker was started:\n${back[0]}`);
  const away = Number(/reachable again after ([\d.]+) s/.exec(back[0])![1]);
  assert(
    Math.abs(away - (backAt - downAt) / 1000) < 1,
    `the time away printed (${away} s) is the time between the two lines:\n${back[0]}`,
  );
  assert(away * 1000 >= restartedAt - stoppedAt - 3000, `away ${away} s: about the outage`);
  // librdkafka's line for each failed connection is folded into the count.
  const repeats = lines.filter((l) => /\[(ERR|WRN)\].*(Connect to|Connection refused)/.test(l));
  assertEquals(repeats, [], "no line per failed connection");
  // Nothing else is said at warning or error level while the broker is away, but librdkafka's
  // one line when the group session ends (a change of state of its own).
  const during = lines.filter((l) =>
    /\[(ERR|WRN)\]/.test(l) && !/SESSTMOUT/.test(l) && lineTime(l) > downAt &&
    lineTime(l) < backAt
  );
  assertEquals(during, [], "no other warnings while the broker is away");
  // deno-lint-ignore no-console
  console.log(`outage lines:\n${down[0]}\n${back[0]}`);
  await Deno.remove(root, { recursive: true });
});
