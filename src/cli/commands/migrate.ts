/**
 * `ferry migrate`: take a running OpenMSIStream lab over without losing or redoing work.
 * `ferry migrate upload <folder>` reads `DataFileUploadDirectory`'s registry into Ferry's upload
 * log; `ferry migrate processor` reads an OpenMSIStream processor's registry into Ferry's and
 * moves the consumer group back to the files it left in progress or failed. Both print what
 * they do; `--dry-run` prints it and changes nothing.
 *
 * @module
 */

import { Command, InvalidArgumentError, Option } from "commander";
import { join, resolve } from "node:path";
import { DEFAULT_CHUNK_SIZE } from "../../chunks/chunk.ts";
import { resolveKafkaConfig } from "../../config/resolve.ts";
import { ConfigError } from "../../config/config_error.ts";
import { configureLogging } from "../../command/logging.ts";
import {
  applyUploadTakeover,
  describeUploadTakeover,
  planUploadTakeover,
} from "../../openmsistream/upload_takeover.ts";
import {
  applyProcessorTakeover,
  describeProcessorTakeover,
  planProcessorTakeover,
} from "../../openmsistream/processor_takeover.ts";
import { OMS_LOGS_SUBDIR } from "../../openmsistream/upload_filter.ts";
import type { CliContext } from "../context.ts";
import { addKafkaOptions } from "../kafka_options.ts";

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`"${value}" is not a whole number of at least 1.`);
  }
  return n;
}

function topicOf(flags: { topic?: string }): string {
  const topic = flags.topic?.trim();
  if (topic === undefined || topic === "") {
    throw new ConfigError("No topic given: use --topic (or --topic_name) or set FERRY_TOPIC.");
  }
  return topic;
}

/**
 * Builds the `migrate` command and its two subcommands.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMigrateCommand } from "./migrate.ts";
 *
 * const context = { exitCode: 0, signal: new AbortController().signal, print: () => {} };
 * const command = createMigrateCommand(context);
 * assert.deepEqual(command.commands.map((c) => c.name()), ["upload", "processor"]);
 * ```
 *
 * @param context Where actions report their exit code and print.
 * @returns The command.
 */
export function createMigrateCommand(context: CliContext): Command {
  const migrate = new Command("migrate")
    .summary("take an uploader or a processor over from OpenMSIStream (reads its LOGS registries)")
    .description(
      "Take a running OpenMSIStream lab over: read the CSV registries OpenMSIStream keeps in its " +
        "LOGS folders so that Ferry neither sends nor processes again what OpenMSIStream did, " +
        "and finishes what it left half done. Stop the OpenMSIStream program first. See " +
        "docs/switching-from-openmsistream.md.",
    );
  const upload = new Command("upload")
    .description(
      "Record in Ferry's upload log what OpenMSIStream's DataFileUploadDirectory sent from " +
        "<folder> to the topic (<folder>/LOGS/uploaded_to_<topic>.csv) and what it left " +
        "half-sent (upload_to_<topic>_in_progress.csv), so that `ferry upload <folder>` skips " +
        "the first and sends only the missing chunks of the second. A file modified after " +
        "OpenMSIStream started sending it is left to be sent whole.",
    )
    .argument("<folder>", "the folder DataFileUploadDirectory watched")
    .addOption(
      new Option(
        "-t, --topic <name>",
        "topic OpenMSIStream uploaded to (alias --topic_name)",
      ).env("FERRY_TOPIC"),
    )
    .option(
      "--chunk-size <bytes>",
      "the chunk size OpenMSIStream used (its --chunk_size); give the same to ferry upload",
      positiveInt,
      DEFAULT_CHUNK_SIZE,
    )
    .option(
      "--logs-dir <dir>",
      `OpenMSIStream's LOGS folder (default: <folder>/${OMS_LOGS_SUBDIR})`,
    )
    .option("--upload-log-dir <dir>", "the --upload-log-dir ferry upload will be given, if any")
    .option("--dry-run", "print what would be recorded; change nothing")
    .action(async (folder: string, flags: Record<string, string | number | boolean>) => {
      await configureLogging({ level: "warning", name: "migrate" });
      const plan = await planUploadTakeover(folder, topicOf(flags as { topic?: string }), {
        chunkSize: flags.chunkSize as number,
        logsDir: flags.logsDir as string | undefined,
        uploadLogDir: flags.uploadLogDir as string | undefined,
      });
      for (const line of describeUploadTakeover(plan)) context.print(line);
      if (flags.dryRun) {
        context.print("Dry run: nothing written.");
        return;
      }
      const { sent, halfSent } = await applyUploadTakeover(plan);
      context.print(
        `Recorded ${sent} file(s) as sent and ${halfSent} as half-sent: run ` +
          `\`ferry upload ${folder} --topic ${plan.topic} --chunk-size ${plan.chunkSize}\` next.`,
      );
    });
  const processor = addKafkaOptions(
    new Command("processor")
      .description(
        "Take OpenMSIStream processor's consumer group over: the files its registry " +
          "(<logs-dir>/processed_from_<topic>_by_<group>.csv) lists as processed are recorded " +
          "as processed in Ferry's registry (<output-dir>/.ferry), and the group's committed " +
          "offsets move back to the first chunk of each file it left in progress or failed " +
          "(consuming_from_<topic>_in_progress_by_<group>.csv), so that a Ferry processor run " +
          "with the same --topic, --group and --output-dir processes exactly those, and what " +
          "comes next. Reads the topic once from its beginning.",
      )
      .addOption(
        new Option(
          "-t, --topic <name>",
          "topic the OpenMSIStream processor read (alias --topic_name)",
        ).env("FERRY_TOPIC"),
      )
      .requiredOption(
        "-g, --group <id>",
        "its consumer group (OpenMSIStream's --consumer_group_id); the Ferry processor joins it",
      )
      .requiredOption(
        "--logs-dir <dir>",
        "its LOGS folder (by default <its output_dir>/LOGS)",
      )
      .requiredOption(
        "-o, --output-dir <dir>",
        "the Ferry processor's --output-dir (its registry goes in <dir>/.ferry)",
      )
      .option("--dry-run", "print what would be done; change nothing"),
    "librdkafka consumer property",
  ).action(async (flags: Record<string, string | string[] | boolean>) => {
    await configureLogging({ level: "warning", name: "migrate" });
    const kafka = await resolveKafkaConfig("consumer", {
      configFile: flags.config as string | undefined,
      bootstrapServers: flags.bootstrapServers as string | undefined,
      overrides: flags.property as string[] | undefined,
    });
    const plan = await planProcessorTakeover({
      kafka: kafka.config,
      topic: topicOf(flags as { topic?: string }),
      group: flags.group as string,
      logsDir: resolve(flags.logsDir as string),
      outputDir: flags.outputDir as string,
      signal: context.signal,
    });
    for (const line of describeProcessorTakeover(plan)) context.print(line);
    if (flags.dryRun) {
      context.print("Dry run: nothing written, no offset moved.");
      return;
    }
    await applyProcessorTakeover(plan, kafka.config);
    context.print(
      `Recorded ${plan.skip.length} file(s) as processed in ${
        join(plan.outputDir, ".ferry")
      }; ${plan.rerun.length} file(s) to process again. Run your processor with --topic ` +
        `${plan.topic} --group ${plan.group} --output-dir ${plan.outputDir} next.`,
    );
  });
  const spellings = `\nOpenMSIStream flag names are accepted too: ${
    Object.keys(MIGRATE_ALIASES).join(", ")
  }.`;
  upload.addHelpText("after", spellings);
  processor.addHelpText("after", spellings);
  return migrate.addCommand(upload).addCommand(processor);
}

/** OpenMSIStream's flag names `ferry migrate` accepts. */
export const MIGRATE_ALIASES = {
  "--topic_name": "--topic",
  "--consumer_group_id": "--group",
  "--chunk_size": "--chunk-size",
  "--output_dir": "--output-dir",
  "--bootstrap_servers": "--bootstrap-servers",
};
