/**
 * `ferry repartition`: copies a topic written by OpenMSIStream (a file's chunks spread over
 * every partition) to a topic partitioned by file path, exactly once, so that any number of
 * processes in one group can then split the files between them
 * (`src/repartition/repartition.ts`).
 *
 * @module
 */

import { Command, Option } from "commander";
import { resolveKafkaConfig } from "../../config/resolve.ts";
import { configForRole } from "../../kafka/config.ts";
import { setDebugContexts } from "../../kafka/log.ts";
import { configureLogging, parseLogLevel } from "../../command/logging.ts";
import { UsageError } from "../../command/exit_codes.ts";
import { repartition } from "../../repartition/repartition.ts";
import type { CliContext } from "../context.ts";
import { addKafkaOptions } from "../kafka_options.ts";
import { checkTopicName } from "./topic.ts";

interface RepartitionFlags {
  topic: string;
  to: string;
  group?: string;
  transactionalId?: string;
  exitWhenIdle?: number | true;
  bootstrapServers?: string;
  config?: string;
  property: string[];
  logLevel: string;
}

function seconds(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) {
    throw new UsageError(`Option "--exit-when-idle" is ${JSON.stringify(text)}, expected seconds.`);
  }
  return value;
}

/**
 * The default consumer group of a repartition: one per pair of topics.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { repartitionGroup } from "./repartition.ts";
 * assert.equal(repartitionGroup("oms-raw", "raw"), "ferry-repartition-oms-raw-raw");
 * ```
 */
export function repartitionGroup(from: string, to: string): string {
  return `ferry-repartition-${from}-${to}`;
}

/**
 * Builds the `repartition` subcommand.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRepartitionCommand } from "./repartition.ts";
 *
 * const context = { exitCode: 0, signal: new AbortController().signal, print: () => {} };
 * assert.equal(createRepartitionCommand(context).name(), "repartition");
 * ```
 */
export function createRepartitionCommand(context: CliContext): Command {
  const command = new Command("repartition")
    .summary("copy an OpenMSIStream topic to one partitioned by file path, exactly once")
    .description(
      "Copy the chunk messages of a topic written by OpenMSIStream (a file's chunks spread " +
        "over every partition) byte for byte to a topic partitioned by file path, as `ferry " +
        "upload` writes it: every chunk of a file in one partition, so that several processes " +
        "of one group can split the files. Each batch of copies is committed in one Kafka " +
        "transaction with the offsets it read up to: a crash or a kill copies nothing twice " +
        "and loses nothing. The target topic must exist.",
    )
    .addOption(new Option("-t, --topic <name>", "the topic to read").makeOptionMandatory())
    .addOption(
      new Option("--to <name>", "the topic to write (partitioned by file path)")
        .makeOptionMandatory(),
    )
    .option("-g, --group <id>", 'consumer group (default "ferry-repartition-<topic>-<to>")')
    .option(
      "--transactional-id <id>",
      "the producer's transactional.id (default: the group); keep it the same across " +
        "restarts, so that a restart fences a process left behind",
    )
    .option(
      "--exit-when-idle [seconds]",
      "exit 0 once everything is copied and nothing came for this long (default 5 s)",
      seconds,
    );
  addKafkaOptions(command, "librdkafka consumer or producer property")
    .addOption(
      new Option("--log-level <level>", "console log level: debug, info, warning, error")
        .default("info").env("FERRY_LOG_LEVEL"),
    )
    .addHelpText(
      "after",
      `
Exit status: 0 stopped (SIGINT/SIGTERM) or idle with --exit-when-idle; 1 a runtime error (a
missing topic, a fenced or failed transaction: nothing half-committed); 2 usage error.

Example:
  ferry repartition -b 127.0.0.1:9092 --topic oms-raw --to raw --exit-when-idle`,
    )
    .action(async (flags: RepartitionFlags) => {
      context.exitCode = await run(flags, context);
    });
  return command;
}

async function run(flags: RepartitionFlags, context: CliContext): Promise<number> {
  const from = checkTopicName(flags.topic);
  const to = checkTopicName(flags.to);
  if (from === to) {
    throw new UsageError(`Options "--topic" and "--to" are both ${JSON.stringify(from)}.`);
  }
  const level = parseLogLevel(flags.logLevel);
  const sources = {
    configFile: flags.config,
    bootstrapServers: flags.bootstrapServers,
    overrides: flags.property,
  };
  const consumer = (await resolveKafkaConfig("consumer", sources)).config;
  const producer = (await resolveKafkaConfig("producer", sources)).config;
  setDebugContexts(consumer, level, "consumer");
  await configureLogging({ level });
  const group = flags.group ?? repartitionGroup(from, to);
  const idle = flags.exitWhenIdle;
  const summary = await repartition({
    from,
    to,
    group,
    transactionalId: flags.transactionalId ?? group,
    consumer: configForRole(consumer, "consumer"),
    producer: configForRole(producer, "producer"),
    signal: context.signal,
    ...(idle === undefined ? {} : { exitWhenIdleMs: idle === true ? 5000 : idle * 1000 }),
  });
  context.print(
    `Copied ${summary.messages} messages from ${JSON.stringify(from)} to ${JSON.stringify(to)} ` +
      `in ${summary.transactions} transactions` +
      (summary.notChunks > 0 ? ` (${summary.notChunks} not chunk messages).` : "."),
  );
  return 0;
}
