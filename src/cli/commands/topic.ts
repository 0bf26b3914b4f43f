/**
 * `ferry topic create|list|describe|delete`: manage topics through the librdkafka admin client,
 * with the same broker settings as the other commands (`--bootstrap-servers`, `--config`,
 * `-X`). Usage mistakes exit 2; what the broker refuses (a topic that exists already, one that
 * does not exist) exits 1 naming the topic.
 *
 * @module
 */

import { Command, Option } from "commander";
import { BOOTSTRAP_ENV, resolveKafkaConfig } from "../../config/resolve.ts";
import { ConfigError } from "../../config/config_error.ts";
import { Admin, ErrorCode, KafkaError } from "../../kafka/mod.ts";
import { createTopic } from "../../kafka/topics.ts";
import { configureLogging, parseLogLevel } from "../../command/logging.ts";
import { UsageError } from "../../command/exit_codes.ts";
import type { CliContext } from "../context.ts";
import { addKafkaOptions, collect } from "../kafka_options.ts";

/** Kafka's rule for topic names: 1 to 249 of letters, digits, `.`, `_`, `-`; not `.` or `..`. */
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

interface ConnectionFlags {
  bootstrapServers?: string;
  config?: string;
  property: string[];
  timeout: number;
  logLevel: string;
}

interface CreateFlags extends ConnectionFlags {
  partitions?: number;
  replicationFactor?: number;
  topicConfig: string[];
  ifNotExists?: boolean;
}

interface ListFlags extends ConnectionFlags {
  all?: boolean;
  json?: boolean;
}

interface DescribeFlags extends ConnectionFlags {
  json?: boolean;
}

interface DeleteFlags extends ConnectionFlags {
  ifExists?: boolean;
}

/**
 * Checks a topic name against Kafka's rule.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkTopicName } from "./topic.ts";
 *
 * assert.equal(checkTopicName("raw-data"), "raw-data");
 * assert.throws(() => checkTopicName("raw data"), /"raw data"/);
 * assert.throws(() => checkTopicName(".."), /"\.\."/);
 * ```
 *
 * @param name The name given.
 * @returns The name.
 * @throws {UsageError} when Kafka would refuse it.
 */
export function checkTopicName(name: string): string {
  if (!TOPIC_NAME.test(name) || name === "." || name === "..") {
    throw new UsageError(
      `Topic name ${JSON.stringify(name)} is not valid: use 1 to 249 letters, digits, ".", "_" ` +
        `or "-" (not "." or ".." alone).`,
    );
  }
  return name;
}

function positiveInteger(name: string) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) {
      throw new ConfigError(
        `Option "${name}" is ${JSON.stringify(text)}, expected a positive integer.`,
      );
    }
    return value;
  };
}

function positiveSeconds(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`Option "--timeout" is ${JSON.stringify(text)}, expected seconds > 0.`);
  }
  return value;
}

/** Parses `--topic-config key=value` pairs. */
function topicConfig(pairs: readonly string[]): Record<string, string> {
  const config: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0) {
      throw new UsageError(
        `Option "--topic-config" is ${JSON.stringify(pair)}, expected key=value (such as ` +
          `retention.ms=-1).`,
      );
    }
    config[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return config;
}

/** Adds the broker options every `ferry topic` action takes. */
function withConnection(command: Command): Command {
  return addKafkaOptions(command, "librdkafka property")
    .option("--timeout <s>", "how long to wait for the broker", positiveSeconds, 30)
    .addOption(
      new Option("--log-level <level>", "console log level: debug, info, warning, error")
        .default("warning").env("FERRY_LOG_LEVEL"),
    );
}

/** Opens an admin client on the configured brokers (logging set up first). */
async function openAdmin(flags: ConnectionFlags): Promise<{ admin: Admin; bootstrap: string }> {
  const level = parseLogLevel(flags.logLevel);
  const kafka = await resolveKafkaConfig("producer", {
    configFile: flags.config,
    bootstrapServers: flags.bootstrapServers,
    overrides: flags.property,
  });
  await configureLogging({ level });
  const bootstrap = String(
    kafka.config["bootstrap.servers"] ?? kafka.config["metadata.broker.list"] ?? "",
  );
  return { admin: new Admin(kafka.config), bootstrap };
}

const timeoutMs = (flags: ConnectionFlags) => Math.round(flags.timeout * 1000);

/** Whether `topic` exists, from the cluster's metadata. */
async function topicExists(admin: Admin, topic: string, flags: ConnectionFlags) {
  const metadata = await admin.metadata({ topics: [topic], timeoutMs: timeoutMs(flags) });
  const found = metadata.topics[0];
  return found !== undefined && found.error !== ErrorCode.UNKNOWN_TOPIC_OR_PART ? found : undefined;
}

function notFound(topic: string, bootstrap: string): Error {
  return new Error(
    `Topic ${JSON.stringify(topic)} does not exist on ${JSON.stringify(bootstrap)}; the list ` +
      "action shows those that do.",
  );
}

async function create(topic: string, flags: CreateFlags, context: CliContext): Promise<void> {
  checkTopicName(topic);
  const config = topicConfig(flags.topicConfig);
  const { admin, bootstrap } = await openAdmin(flags);
  await using _ = admin;
  let result;
  try {
    result = await createTopic(admin, {
      topic,
      partitions: flags.partitions,
      replicationFactor: flags.replicationFactor,
      config,
    }, { ifNotExists: flags.ifNotExists, timeoutMs: timeoutMs(flags) });
  } catch (error) {
    if (error instanceof KafkaError && error.code === ErrorCode.TOPIC_ALREADY_EXISTS) {
      throw new Error(
        `Topic ${JSON.stringify(topic)} exists already on ${JSON.stringify(bootstrap)}; ` +
          "--if-not-exists accepts it as it is.",
      );
    }
    throw error;
  }
  context.print(
    result.created
      ? `Created topic ${JSON.stringify(topic)} with ${result.partitions} partition(s).`
      : `Topic ${JSON.stringify(topic)} exists already, with ${result.partitions} partition(s); ` +
        "left as it is.",
  );
}

async function list(flags: ListFlags, context: CliContext): Promise<void> {
  const { admin } = await openAdmin(flags);
  await using _ = admin;
  const metadata = await admin.metadata({ timeoutMs: timeoutMs(flags) });
  const topics = metadata.topics
    .filter((t) => flags.all || !t.name.startsWith("__"))
    .sort((a, b) => a.name.localeCompare(b.name));
  if (flags.json) {
    const rows = topics.map((t) => ({ name: t.name, partitions: t.partitions.length }));
    context.print(JSON.stringify(rows, null, 2));
    return;
  }
  for (const topic of topics) context.print(topic.name);
}

async function describe(topic: string, flags: DescribeFlags, context: CliContext): Promise<void> {
  checkTopicName(topic);
  const { admin, bootstrap } = await openAdmin(flags);
  await using _ = admin;
  const metadata = await admin.metadata({ topics: [topic], timeoutMs: timeoutMs(flags) });
  const found = metadata.topics[0];
  if (found === undefined || found.error === ErrorCode.UNKNOWN_TOPIC_OR_PART) {
    throw notFound(topic, bootstrap);
  }
  const brokers = new Map(metadata.brokers.map((b) => [b.id, `${b.host}:${b.port}`]));
  const partitions = [...found.partitions].sort((a, b) => a.id - b.id);
  if (flags.json) {
    context.print(JSON.stringify(
      {
        name: found.name,
        partitions: partitions.map((p) => ({
          id: p.id,
          leader: p.leader,
          leaderAddress: brokers.get(p.leader) ?? null,
          error: p.error,
        })),
      },
      null,
      2,
    ));
    return;
  }
  context.print(`Topic ${JSON.stringify(found.name)}: ${partitions.length} partition(s)`);
  const rows = partitions.map((p) => [
    String(p.id),
    p.leader < 0 ? "none" : `${p.leader} (${brokers.get(p.leader) ?? "?"})`,
  ]);
  const width = Math.max("PARTITION".length, ...rows.map((r) => r[0].length));
  context.print(`  ${"PARTITION".padEnd(width)}  LEADER`);
  for (const [id, leader] of rows) context.print(`  ${id.padEnd(width)}  ${leader}`);
}

async function remove(topic: string, flags: DeleteFlags, context: CliContext): Promise<void> {
  checkTopicName(topic);
  const { admin, bootstrap } = await openAdmin(flags);
  await using _ = admin;
  if (await topicExists(admin, topic, flags) === undefined) {
    if (flags.ifExists) {
      context.print(`Topic ${JSON.stringify(topic)} does not exist; nothing to delete.`);
      return;
    }
    throw notFound(topic, bootstrap);
  }
  await admin.deleteTopics([topic], timeoutMs(flags));
  // Deletion finishes in the background: wait until the metadata no longer shows the topic, so
  // that a create right after does not find it.
  const deadline = Date.now() + timeoutMs(flags);
  while (await topicExists(admin, topic, flags) !== undefined && Date.now() < deadline) {
    await new Promise((wake) => setTimeout(wake, 100));
  }
  context.print(`Deleted topic ${JSON.stringify(topic)}.`);
}

/**
 * Builds the `topic` subcommand and its actions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createTopicCommand } from "./topic.ts";
 *
 * const context = { exitCode: 0, signal: new AbortController().signal, print: () => {} };
 * const command = createTopicCommand(context);
 * const names = command.commands.map((c) => c.name());
 * assert.deepEqual(names, ["create", "list", "describe", "delete"]);
 * ```
 *
 * @param context Where the actions print.
 * @returns The command.
 */
export function createTopicCommand(context: CliContext): Command {
  const topic = new Command("topic")
    .summary("create, list, describe or delete topics")
    .description(
      "Create, list, describe or delete Kafka topics, on the brokers --bootstrap-servers, " +
        `${BOOTSTRAP_ENV} or the --config file name (as for the other commands).`,
    )
    .addHelpText(
      "after",
      `
Exit status: 0 done; 1 the broker refused or did not answer (a topic that exists already, or
does not exist, is named); 2 usage or configuration error.

Examples:
  ferry topic create raw-data --partitions 4 -b 127.0.0.1:19092
  ferry topic list -b 127.0.0.1:19092
  ferry topic describe raw-data --config ferry.config
  ferry topic delete raw-data -b 127.0.0.1:19092`,
    );
  topic.addCommand(
    withConnection(
      new Command("create")
        .summary("create a topic; waits until every partition has a leader")
        .description(
          "Create a topic and wait until every partition has a leader. A topic that exists " +
            "already is an error (exit 1) unless --if-not-exists.",
        )
        .argument("<topic>", "the topic's name")
        .option(
          "-p, --partitions <n>",
          "number of partitions (default: the broker's num.partitions)",
          positiveInteger("--partitions"),
        )
        .option(
          "-r, --replication-factor <n>",
          "copies of each partition (default: the broker's default.replication.factor)",
          positiveInteger("--replication-factor"),
        )
        .option(
          "--topic-config <key=value>",
          "topic configuration, such as retention.ms=-1 (repeatable)",
          collect,
          [],
        )
        .option("--if-not-exists", "a topic that exists already is fine (left as it is)"),
    ).action((name: string, flags: CreateFlags) => create(name, flags, context)),
  );
  topic.addCommand(
    withConnection(
      new Command("list")
        .summary("list the topics, one name per line")
        .option("-a, --all", "also list Kafka's internal topics (__consumer_offsets, ...)")
        .option("--json", "print [{ name, partitions }] as JSON"),
    ).action((flags: ListFlags) => list(flags, context)),
  );
  topic.addCommand(
    withConnection(
      new Command("describe")
        .summary("show a topic's partitions and their leaders")
        .argument("<topic>", "the topic's name")
        .option("--json", "print { name, partitions: [{ id, leader, leaderAddress, error }] }"),
    ).action((name: string, flags: DescribeFlags) => describe(name, flags, context)),
  );
  topic.addCommand(
    withConnection(
      new Command("delete")
        .summary("delete a topic and every message in it")
        .argument("<topic>", "the topic's name")
        .option("--if-exists", "a topic that does not exist is fine"),
    ).action((name: string, flags: DeleteFlags) => remove(name, flags, context)),
  );
  return topic;
}
