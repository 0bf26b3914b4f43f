/**
 * The Kafka connection options `ferry` commands share: brokers, a config file, librdkafka
 * properties.
 *
 * @module
 */

import { type Command, Option } from "commander";
import { BOOTSTRAP_ENV } from "../config/resolve.ts";

/** Collects a repeatable option's values. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * Adds `-b/--bootstrap-servers`, `-c/--config` and `-X/--property` to `command`; `properties`
 * says what `-X` sets (such as "librdkafka producer property").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Command } from "commander";
 * import { addKafkaOptions } from "./kafka_options.ts";
 * const command = addKafkaOptions(new Command("x"), "librdkafka property");
 * assert.ok(command.options.some((o) => o.long === "--bootstrap-servers"));
 * ```
 */
export function addKafkaOptions(command: Command, properties: string): Command {
  return command
    .option(
      "-b, --bootstrap-servers <list>",
      `Kafka brokers, host:port[,host:port...] (env: ${BOOTSTRAP_ENV}; wins over --config)`,
    )
    .addOption(
      new Option(
        "-c, --config <file>",
        "OpenMSIStream-style config file ([broker] and [producer] sections, $VAR values)",
      ).env("FERRY_CONFIG"),
    )
    .option(
      "-X, --property <key=value>",
      `${properties} (repeatable), wins over the config file`,
      collect,
      [],
    );
}
