// deno-lint-ignore-file no-console
/**
 * How long a consumer group takes to rebalance with each group protocol (issue 16): a record
 * processor (`bench/fixtures/noop_record_processor.ts`) holds all 4 partitions of a topic; a
 * second one joins the group, then leaves it again (SIGTERM). Measured:
 *
 * - **join**: from the second process's "reading <topic> as group" line (it has just
 *   subscribed; Deno's start-up left out) to its first "Partitions ... assigned" line;
 * - **leave**: from the SIGTERM to the second process to the first process's next
 *   "Partitions ... assigned" line (it owns the partitions of the one that left).
 *
 * The times come from the processes' own log lines (millisecond timestamps, one clock). Rows:
 *
 * - `classic, heartbeat 0.5 s`: cooperative-sticky, `heartbeat.interval.ms=500`,
 *   `session.timeout.ms=6000` (the tests' settings);
 * - `classic, librdkafka defaults`: cooperative-sticky, heartbeat 3 s, session 45 s;
 * - `consumer (KIP-848), heartbeat 0.5 s`: `--group-protocol consumer`; the broker's heartbeat
 *   interval rules, and the dev broker's Kafka 4.x sets `group.consumer.heartbeat.interval.ms=500`;
 * - `consumer (KIP-848), Kafka's defaults`: the same with the group's own configs set to Kafka's
 *   defaults first (`consumer.heartbeat.interval.ms=5000`, `consumer.session.timeout.ms=45000`,
 *   with Kafka's ConfigCommand from the jars in `FERRY_KAFKA_LIBS`, default
 *   `~/.cache/ferry/kafka-4.4.0/libs`).
 *
 * The consumer rows need librdkafka 2.10+ and a Kafka 4.x broker: otherwise they are left out
 * with a note.
 *
 *     deno task bench --only rebalance [--runs 3]
 *     deno run -A bench/rebalance_bench.ts [--runs N]
 *
 * With the dev scripts' engines: `FERRY_RDKAFKA_PATH=~/.cache/ferry/librdkafka-2.15.1/lib/
 * librdkafka.so.1` and a broker started with `--kafka-version 4`.
 *
 * @module
 */

import { join } from "node:path";
import {
  type BenchOptions,
  type BenchRow,
  benchTable,
  createTopics,
  defaultBootstrap,
  deleteTopics,
  formatRatios,
  median,
  ratioLines,
  requireBroker,
  uniqueTopicName,
} from "./support/mod.ts";
import { ApiKey, brokerApiVersions } from "../src/kafka/api_versions.ts";
import { hasLibraryFeature, librdkafkaVersion } from "../src/kafka/mod.ts";

/** Partitions of the topic the group reads. */
export const PARTITIONS = 4;
/** Default measurements per protocol. */
export const DEFAULT_RUNS = 3;
/** The longest any step may take before the run fails (ms). */
const STEP_TIMEOUT_MS = 90_000;

const ROOT = new URL("..", import.meta.url).pathname;
const FIXTURE = join(ROOT, "bench/fixtures/noop_record_processor.ts");
const CONFIG = join(ROOT, "deno.json");

/** A protocol and settings measured. */
interface Contender {
  name: string;
  flags: string[];
  /** Group configs set on the broker before the group starts (KIP-848 groups, Kafka 4.0+). */
  groupConfig?: string;
}

const CONTENDERS: readonly Contender[] = [
  {
    name: "classic, heartbeat 0.5 s",
    flags: ["-X", "heartbeat.interval.ms=500", "-X", "session.timeout.ms=6000"],
  },
  { name: "classic, librdkafka defaults", flags: [] },
  { name: "consumer (KIP-848), heartbeat 0.5 s", flags: ["--group-protocol", "consumer"] },
  {
    name: "consumer (KIP-848), Kafka's defaults",
    flags: ["--group-protocol", "consumer"],
    groupConfig: "consumer.heartbeat.interval.ms=5000,consumer.session.timeout.ms=45000",
  },
];

/** The Kafka 4.x jars, for its ConfigCommand: `FERRY_KAFKA_LIBS`, else the dev scripts' cache. */
function kafkaLibs(): string {
  const cache = Deno.env.get("FERRY_CACHE") ?? `${Deno.env.get("HOME")}/.cache/ferry`;
  return Deno.env.get("FERRY_KAFKA_LIBS") ?? `${cache}/kafka-4.4.0/libs`;
}

/** Sets a consumer group's configs with Kafka's own ConfigCommand (Java). */
async function setGroupConfig(bootstrap: string, group: string, config: string): Promise<void> {
  const out = await new Deno.Command("java", {
    args: [
      ...["-cp", `${kafkaLibs()}/*`, "org.apache.kafka.tools.ConfigCommand"],
      ...["--bootstrap-server", bootstrap, "--alter", "--entity-type", "groups"],
      ...["--entity-name", group, "--add-config", config],
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `Could not set ${config} on group ${group} (${kafkaLibs()}):\n` +
        new TextDecoder().decode(out.stderr).slice(-2000),
    );
  }
}

/** A line a process logged, with its timestamp (ms since the epoch). */
interface LogLine {
  at: number;
  text: string;
}

/** A running fixture and the lines it has logged so far. */
class Member {
  readonly lines: LogLine[] = [];
  readonly #child: Deno.ChildProcess;
  #exited = false;
  readonly done: Promise<Deno.CommandStatus>;

  constructor(args: readonly string[]) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--config", CONFIG, FIXTURE, ...args],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    const reading = (async () => {
      let rest = "";
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
        const lines = (rest + text).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) this.#note(line);
      }
      if (rest !== "") this.#note(rest);
    })();
    this.done = reading.then(() => child.status).then((status) => {
      this.#exited = true;
      return status;
    });
  }

  /** Keeps a line with its timestamp ("2026-12-05 10:29:43.540 [INF] ...", local time). */
  #note(text: string): void {
    const at = new Date(text.slice(0, 23).replace(" ", "T")).getTime();
    this.lines.push({ at: Number.isNaN(at) ? Date.now() : at, text });
  }

  /** Waits for the first line after `after` (ms) matching `pattern`. */
  async waitFor(pattern: RegExp, after = 0): Promise<LogLine> {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const line = this.lines.find((l) => l.at >= after && pattern.test(l.text));
      if (line) return line;
      if (Date.now() > deadline) {
        throw new Error(
          `No line matching ${pattern} within ${STEP_TIMEOUT_MS} ms:\n` +
            this.lines.slice(-20).map((l) => l.text).join("\n"),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Sends SIGTERM unless it has exited; returns when (ms since the epoch). */
  stop(): number {
    const at = Date.now();
    if (this.#exited) return at;
    try {
      this.#child.kill("SIGTERM");
    } catch (error) {
      // It exited between the check and the signal: nothing left to stop.
      if (!(error instanceof TypeError)) throw error;
    }
    return at;
  }
}

const ASSIGNED = / Partitions [\d, ]+ of \S+ assigned/;
const READING = / reading \S+ as group /;

/** One join and one leave with `contender`'s settings: their seconds. */
async function measureOnce(
  options: BenchOptions,
  topic: string,
  contender: Contender,
): Promise<{ join: number; leave: number }> {
  const notes = await Deno.makeTempDir({ prefix: "ferry-bench-rebalance-" });
  const group = uniqueTopicName("bench-rebalance");
  const args = [
    ...["-t", topic, "-b", options.bootstrap, "-g", group, "--notes-dir", notes],
    ...["--log-level", "info", "--workers", "1", "--stop-grace", "5", ...contender.flags],
  ];
  if (contender.groupConfig) {
    await setGroupConfig(options.bootstrap, group, contender.groupConfig);
  }
  const a = new Member(args);
  let b: Member | undefined;
  try {
    await a.waitFor(ASSIGNED);
    b = new Member(args);
    const subscribed = await b.waitFor(READING);
    const joined = await b.waitFor(ASSIGNED);
    const stoppedAt = b.stop();
    const taken = await a.waitFor(ASSIGNED, stoppedAt);
    await b.done;
    return { join: (joined.at - subscribed.at) / 1000, leave: (taken.at - stoppedAt) / 1000 };
  } finally {
    b?.stop();
    a.stop();
    await Promise.all([a.done, b?.done]);
    await Deno.remove(notes, { recursive: true });
  }
}

/** Whether the broker and the library can run the consumer protocol, or why not. */
async function consumerProtocolMissing(bootstrap: string): Promise<string | undefined> {
  if (!hasLibraryFeature("consumerGroupProtocol")) {
    return `librdkafka ${librdkafkaVersion()} has no consumer protocol (2.10+)`;
  }
  const apis = await brokerApiVersions({ "bootstrap.servers": bootstrap });
  if ((apis?.get(ApiKey.CONSUMER_GROUP_HEARTBEAT)?.max ?? -1) < 1) {
    return "the broker has no consumer protocol (Kafka 4.0+)";
  }
  return undefined;
}

/** The section's entry point (see `bench/support/types.ts`). */
export async function run(options: BenchOptions): Promise<BenchRow[]> {
  await requireBroker(options.bootstrap);
  const runs = options.runs ?? DEFAULT_RUNS;
  const missing = await consumerProtocolMissing(options.bootstrap);
  const contenders = CONTENDERS.filter((c) => !missing || !c.flags.includes("consumer"));
  const topic = uniqueTopicName("bench-rebalance");
  await createTopics(options.bootstrap, [topic], PARTITIONS);
  const samples = new Map(contenders.map((c) => [c.name, { join: [0], leave: [0] }]));
  for (const c of contenders) samples.set(c.name, { join: [], leave: [] });
  try {
    for (let i = 0; i < runs; i++) {
      // Rotate the order between runs.
      for (
        const c of [...contenders.slice(i % contenders.length), ...contenders].slice(
          0,
          contenders.length,
        )
      ) {
        const { join, leave } = await measureOnce(options, topic, c);
        options.log(`rebalance ${c.name}, run ${i + 1}: join ${join} s, leave ${leave} s`);
        samples.get(c.name)!.join.push(join);
        samples.get(c.name)!.leave.push(leave);
      }
    }
  } finally {
    await deleteTopics(options.bootstrap, [topic]);
  }
  const engines = `librdkafka ${librdkafkaVersion()}`;
  const rows: BenchRow[] = [];
  for (const kind of ["join", "leave"] as const) {
    for (const c of contenders) {
      const s = samples.get(c.name)![kind];
      rows.push({
        group: kind === "join"
          ? "join: a second process, until it has its partitions"
          : "leave: SIGTERM to it, until the first has them back",
        name: c.name,
        bytes: 0,
        seconds: median(s),
        ...(s.length > 1 ? { samples: s } : {}),
      });
    }
  }
  rows[0].note = `${engines}, ${PARTITIONS} partitions, one worker per process; times only ` +
    `(no MB/s)` + (missing ? `; consumer protocol left out: ${missing}` : "");
  return rows;
}

if (import.meta.main) {
  const args = [...Deno.args];
  const i = args.indexOf("--runs");
  const rows = await run({
    bootstrap: Deno.env.get("FERRY_BENCH_BOOTSTRAP") ?? defaultBootstrap(),
    runs: i < 0 ? undefined : Number(args[i + 1]),
    log: (line) => console.error(line),
  });
  console.log(benchTable(rows));
  for (const row of rows) if (row.note) console.log(`- ${row.note}`);
  for (const line of formatRatios(ratioLines(rows), "- ")) console.log(line);
}
