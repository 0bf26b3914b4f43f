// deno-lint-ignore-file no-console
/**
 * Handover (issue 19): three file processors in one group (each with its own output folder, as
 * on three machines), 6 partitions, small files uploaded with `ferry upload`'s path partitioner,
 * a processor taking about 200 ms a file. Once work is under way, one member is killed with
 * `kill -9` and not started again; measured:
 *
 * - **handover**: seconds from the kill to the first `process` call, in a survivor, of a file
 *   from a partition the dead member held (from the processors' start logs);
 * - **files run twice**: the share of files `process` saw more than once over the whole run
 *   (only the files in flight at the kill should be).
 *
 * Target: handover within the failover time plus 2 s; no settled file run twice. Rows per group
 * protocol: the classic protocol (cooperative-sticky), and KIP-848's consumer protocol when the
 * loaded librdkafka (2.10.0+, `FERRY_RDKAFKA_PATH`) and the broker (Kafka 4) offer it; with it
 * the broker sets the failover time (`group.consumer.session.timeout.ms`, 6 s on the dev
 * broker of `scripts/kafka/broker.sh`). The log line of each run also gives the time from the
 * kill to a survivor's assignment of the dead member's partitions (the rest is the wait for the
 * files the survivor already had).
 *
 *     deno task bench --only handover [--runs 3]
 *     deno run -A bench/handover_bench.ts [--runs N] [--bootstrap HOST:PORT]
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  type BenchOptions,
  type BenchRow,
  benchTable,
  createTopics,
  defaultBootstrap,
  deleteTopics,
  median,
  requireBroker,
  uniqueTopicName,
} from "./support/mod.ts";
import { upload } from "../src/upload/uploader.ts";
import { partitionForPath } from "../src/upload/partition.ts";
import { Member, waitForAssignment } from "../tests/support/members.ts";
import {
  checkBrokerGroupProtocol,
  hasLibraryFeature,
  KafkaConfigError,
  LIBRARY_FEATURES,
  librdkafkaVersion,
} from "../src/kafka/mod.ts";
import { waitUntil } from "../tests/support/wait.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";
const PARTITIONS = 6;
const FILES = 300;
const FAILOVER_SECONDS = 10;

/** A group protocol to measure: its row name and the processor arguments that choose it. */
interface Protocol {
  name: string;
  args: string[];
  /** The failover time in effect (s). */
  failoverSeconds: number;
  /** Why it cannot be measured against `bootstrap` here, if it cannot. */
  unavailable?: (bootstrap: string) => Promise<string | undefined>;
}

/** The protocols measured. */
const PROTOCOLS: readonly Protocol[] = [
  {
    name: "classic, cooperative-sticky",
    args: ["--failover-seconds", String(FAILOVER_SECONDS)],
    failoverSeconds: FAILOVER_SECONDS,
  },
  {
    name: "consumer (KIP-848)",
    args: ["--group-protocol", "consumer"],
    // The broker's group.consumer.session.timeout.ms, as scripts/kafka/broker.sh sets it.
    failoverSeconds: 6,
    unavailable: async (bootstrap) => {
      if (!hasLibraryFeature("consumerGroupProtocol")) {
        return `librdkafka ${librdkafkaVersion()} is older than ` +
          `${LIBRARY_FEATURES.consumerGroupProtocol} (set FERRY_RDKAFKA_PATH)`;
      }
      try {
        await checkBrokerGroupProtocol({
          "bootstrap.servers": bootstrap,
          "group.protocol": "consumer",
        });
      } catch (error) {
        if (error instanceof KafkaConfigError) return "the broker does not serve it (Kafka 4+)";
        throw error;
      }
      return undefined;
    },
  },
];

interface Call {
  runId: string;
  path: string;
  at: number;
}

async function calls(members: readonly Member[]): Promise<Call[]> {
  const out: Call[] = [];
  for (const member of members) {
    for (const { runId } of member.incarnations) {
      let text = "";
      try {
        text = await Deno.readTextFile(join(member.dir, `starts-${runId}.log`));
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      for (const line of text.split("\n").filter((l) => l.trim())) {
        const [path, at] = line.split("\t");
        out.push({ runId, path, at: Number(at) });
      }
    }
  }
  return out.sort((a, b) => a.at - b.at);
}

/** What one measurement found. */
interface Measured {
  /** Seconds from the kill to the survivors' first file from the dead member's partitions. */
  seconds: number;
  /** Seconds from the kill to a survivor's assignment of one of those partitions (its log). */
  assignedSeconds: number;
  /** Files `process` saw more than once. */
  twice: number;
  /** Of those, files the killed member had started (in flight at the kill). */
  atKill: number;
}

/** One measurement: seconds to hand over, and files run twice. */
async function measure(
  bootstrap: string,
  protocol: Protocol,
  log: (line: string) => void,
): Promise<Measured> {
  const root = await Deno.makeTempDir({ prefix: "ferry-bench-handover-" });
  const topic = uniqueTopicName("ferry-bench-handover");
  await createTopics(bootstrap, [topic], PARTITIONS);
  try {
    const data = join(root, "data");
    await Deno.mkdir(data);
    for (let i = 0; i < FILES; i++) {
      await Deno.writeFile(join(data, `f-${i}.dat`), crypto.getRandomValues(new Uint8Array(2000)));
    }
    await upload(data, { kafka: { "bootstrap.servers": bootstrap }, topic, uploadLogDir: false });
    const group = `handover-${crypto.randomUUID().slice(0, 8)}`;
    const members = ["a", "b", "c"].map((name) => {
      const dir = join(root, name);
      Deno.mkdirSync(dir);
      return new Member(name, dir, {
        script: SCRIPT,
        timeoutMs: 300_000,
        bootstrap: false,
        args: (runId) => [
          ...["--bootstrap-servers", bootstrap, "--topic", topic, "--group", group],
          ...["--output-dir", join(dir, "out"), "--workers", "1", "--sleep-ms", "200"],
          ...["--starts-log", join(dir, `starts-${runId}.log`)],
          ...protocol.args,
        ],
      });
    });
    for (const m of members) m.start();
    try {
      const result = await handOver(members, log);
      log(
        `  ${protocol.name}: handover ${result.seconds.toFixed(1)} s (assigned after ` +
          `${result.assignedSeconds.toFixed(1)} s), ${result.twice} of ${FILES} run twice ` +
          `(${result.atKill} in flight at the kill)`,
      );
      return result;
    } catch (error) {
      // What each member said last, to tell a slow hand-over from a stuck one; the whole logs
      // and the start logs are kept for a closer look.
      const kept = await Deno.makeTempDir({ prefix: "ferry-bench-handover-failed-" });
      for (const m of members) {
        for (const inc of m.incarnations) {
          log(`--- ${inc.runId}\n${inc.stderr.split("\n").slice(-40).join("\n")}`);
          await Deno.writeTextFile(join(kept, `${inc.runId}.log`), inc.stderr);
          await Deno.copyFile(
            join(m.dir, `starts-${inc.runId}.log`),
            join(kept, `starts-${inc.runId}.log`),
          )
            .catch((e) => {
              if (!(e instanceof Deno.errors.NotFound)) throw e;
            });
        }
      }
      log(`  (the members' logs are in ${kept})`);
      throw error;
    } finally {
      for (const m of members) {
        if (m.current) {
          m.current.child.kill("SIGTERM");
          await m.current.result;
        }
      }
    }
  } finally {
    await deleteTopics(bootstrap, [topic]);
    await Deno.remove(root, { recursive: true });
  }
}

/** Kills one member once work is under way and waits until every file ran. */
async function handOver(
  members: Member[],
  log: (line: string) => void,
): Promise<Measured> {
  await waitUntil(async () => (await calls(members)).length >= 40, "40 files started", 120_000);
  // A member holding partitions (one may have none yet: with the consumer protocol a member
  // can wait for others to give partitions up).
  let holding: Member[] = [];
  await waitUntil(
    async () => {
      holding = [];
      for (const m of members) if ((await m.held(m.current!)).size > 0) holding.push(m);
      return holding.length > 0;
    },
    "a member holding partitions",
    60_000,
  );
  const victim = holding[Math.floor(Math.random() * holding.length)];
  const held = await victim.held(victim.current!);
  const idle = members.filter((m) => !holding.includes(m)).map((m) => m.name);
  if (idle.length > 0) log(`  (members without partitions at the kill: ${idle.join(", ")})`);
  const dead = await victim.kill();
  let first: Call | undefined;
  await waitUntil(
    async () => {
      first = (await calls(members)).find((c) =>
        c.at > dead.killedAt! && c.runId !== dead.runId &&
        held.has(partitionForPath(c.path, PARTITIONS))
      );
      return first !== undefined;
    },
    "a survivor's first file from the dead member's partitions",
    120_000,
  );
  await waitUntil(
    async () => new Set((await calls(members)).map((c) => c.path)).size === FILES,
    "every file started",
    120_000,
  );
  const perPath = new Map<string, Call[]>();
  for (const c of await calls(members)) perPath.set(c.path, [...perPath.get(c.path) ?? [], c]);
  const again = [...perPath.values()].filter((runs) => runs.length > 1);
  // In flight at the kill: first started by the member that was killed, before the kill.
  const atKill = again.filter((runs) => runs[0].runId === dead.runId).length;
  const assigned = await waitForAssignment(members, held, dead.killedAt!);
  return {
    seconds: (first!.at - dead.killedAt!) / 1000,
    assignedSeconds: (assigned - dead.killedAt!) / 1000,
    twice: again.length,
    atKill,
  };
}

/** The handover section: one row per group protocol. */
export async function run(options: BenchOptions): Promise<BenchRow[]> {
  await requireBroker(options.bootstrap);
  const runs = options.runs ?? 3;
  const rows: BenchRow[] = [];
  for (const protocol of PROTOCOLS) {
    const unavailable = await protocol.unavailable?.(options.bootstrap);
    if (unavailable !== undefined) {
      options.log(`  ${protocol.name}: not measured: ${unavailable}.`);
      continue;
    }
    const samples: number[] = [];
    let twice = 0;
    let atKill = 0;
    for (let i = 0; i < runs; i++) {
      const result = await measure(options.bootstrap, protocol, options.log);
      samples.push(result.seconds);
      twice += result.twice;
      atKill += result.atKill;
    }
    const seconds = median(samples);
    const target = protocol.failoverSeconds + 2;
    rows.push({
      group: `handover after kill -9`,
      name: protocol.name,
      bytes: 0,
      seconds,
      samples,
      note: `${protocol.name}: handover ${seconds.toFixed(1)} s (median of ${runs}; failover ` +
        `${protocol.failoverSeconds} s, target ${target} s: ` +
        `${seconds <= target ? "met" : "missed"}); files run twice: ` +
        `${(100 * twice / (FILES * runs)).toFixed(1)}% (${twice} of ${FILES * runs}: ` +
        `${atKill} in flight at the kill, ${twice - atKill} settled or running in a survivor ` +
        "whose partitions librdkafka dropped; target: none of those)",
    });
  }
  return rows;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { runs: { type: "string" }, bootstrap: { type: "string" } },
  });
  const rows = await run({
    bootstrap: values.bootstrap ?? defaultBootstrap(),
    runs: values.runs === undefined ? undefined : Number(values.runs),
    log: (line) => console.error(line),
  });
  console.log(benchTable(rows));
  for (const row of rows) console.log(row.note);
}
