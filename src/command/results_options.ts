/**
 * The flags of processors that produce results: `--output-topic` and `--exactly-once`, and the
 * producer's settings (the config file's `[broker]` and `[producer]` sections, with the
 * connection settings of the command line).
 *
 * @module
 */

import type { Command, OptionValues } from "commander";
import { resolveKafkaConfig } from "../config/resolve.ts";
import { configForRole, type KafkaConfig } from "../kafka/config.ts";
import type { ResultsSettings } from "../file_processor/results.ts";
import { UsageError } from "./exit_codes.ts";

/** Adds `--output-topic` and `--exactly-once` to a processor's command line. */
export function addResultsOptions(program: Command): void {
  program
    .option(
      "--output-topic <name>",
      "produce what process() (or processRecords()) returns to this topic (producer " +
        "settings: the config file's " +
        "[producer] section)",
    )
    .option(
      "--exactly-once",
      "with --output-topic: commit the results and the offsets they come from in one Kafka " +
        "transaction (a read_committed reader sees each result once, whatever crashes happen)",
      false,
    );
}

/**
 * The results settings of a parsed command line: `undefined` without `--output-topic`.
 *
 * @param o The parsed option values.
 * @param consumer The resolved consumer configuration (its connection settings, `-X`
 *   included, are the producer's too).
 * @throws {UsageError} for `--exactly-once` without `--output-topic`.
 */
export async function readResultsOptions(
  o: OptionValues,
  consumer: KafkaConfig,
): Promise<ResultsSettings | undefined> {
  if (o.outputTopic === undefined) {
    if (o.exactlyOnce === true) {
      throw new UsageError(
        'Option "--exactly-once" needs "--output-topic": exactly once is about the results ' +
          "a processor produces.",
      );
    }
    return undefined;
  }
  if (String(o.outputTopic).trim() === "") {
    throw new UsageError('Option "--output-topic" is empty.');
  }
  const { config } = await resolveKafkaConfig("producer", {
    configFile: o.config,
    bootstrapServers: o.bootstrapServers,
  });
  return {
    topic: o.outputTopic,
    exactlyOnce: o.exactlyOnce === true,
    producer: { ...configForRole(consumer, "producer"), ...config },
  };
}
