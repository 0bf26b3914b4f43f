/**
 * The built-in command line of every processor: broker and config, topic, group, workers,
 * mode, output directory, download regex, status interval, logging, idle exit, plus the
 * processor's own typed options. OpenMSIStream's snake_case flag names are accepted.
 *
 * @module
 */

import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { BOOTSTRAP_ENV, resolveKafkaConfig } from "../config/kafka_config.ts";
import type { ReassemblyMode } from "../files/downloaded_file.ts";
import type { KafkaConfig } from "../kafka/mod.ts";
import type { OptionSpecs } from "./define_processor.ts";

/** OpenMSIStream's flag names (and their kebab-case spellings) and Ferry's names for them. */
export const OPENMSISTREAM_ALIASES: Readonly<Record<string, string>> = {
  "--topic_name": "--topic",
  "--topic-name": "--topic",
  "--consumer_group_id": "--group",
  "--consumer-group-id": "--group",
  "--n_threads": "--workers",
  "--n-threads": "--workers",
  "--output_dir": "--output-dir",
  "--download_regex": "--download-regex",
  "--update_seconds": "--status-interval",
  "--update-seconds": "--status-interval",
  "--logger_stream_level": "--log-level",
  "--logger-stream-level": "--log-level",
  "--logger_file_path": "--log-file",
  "--logger-file-path": "--log-file",
  "--logger_file_level": "--log-file-level",
  "--logger-file-level": "--log-file-level",
};

/** Rewrites aliased flags (`--topic_name X` and `--topic_name=X`) to Ferry's names. */
export function normalizeAliases(
  args: readonly string[],
  aliases: Readonly<Record<string, string>>,
): string[] {
  return args.map((arg) => {
    const eq = arg.indexOf("=");
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const target = aliases[flag];
    if (target === undefined) return arg;
    return eq < 0 ? target : target + arg.slice(eq);
  });
}

/** Raised for a command line that cannot be used: the process exits with status 2. */
export class UsageError extends Error {
  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import { UsageError } from "./command_line.ts";
   * console.assert(new UsageError('Option "--workers" must be at least 1.').name === "UsageError");
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The parsed built-in options of a processor's command line. */
export interface ProcessorArguments {
  kafka: KafkaConfig;
  topic: string;
  group: string | undefined;
  workers: number;
  mode: ReassemblyMode;
  outputDir: string;
  downloadRegex: RegExp | undefined;
  statusIntervalMs: number;
  logLevel: string;
  logFile: string | undefined;
  logFileLevel: string | undefined;
  exitWhenIdleMs: number | undefined;
  maxAttempts: number;
  /** Record processors: the error policy given on the command line. */
  errorPolicy: "stop-partition" | "skip" | "exit" | undefined;
  /** Record processors: attempts of a failing batch. */
  retries: number | undefined;
  /** Record processors: most records per batch. */
  maxBatch: number;
  /** Record processors: where skipped records go. */
  deadLetterTopic: string | undefined;
  /** Record processors: automatic checkpoint every this many records. */
  checkpointEveryRecords: number | undefined;
  /** Record processors: automatic checkpoint every this many ms. */
  checkpointEveryMs: number | undefined;
  processTimeoutMs: number;
  /** The processor's own options, by their camelCase names. */
  options: Record<string, string | number | boolean | undefined>;
}

function positiveInt(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) {
      throw new InvalidArgumentError(`"${value}" is not a whole number of at least 1 (${name}).`);
    }
    return n;
  };
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError(`"${value}" is not a number of seconds.`);
  }
  return n;
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

const LOG_LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"];

/** Environment variables a processor reads, for `--help`. */
export const PROCESSOR_ENVIRONMENT: Readonly<Record<string, string>> = {
  [BOOTSTRAP_ENV]: "Kafka bootstrap servers (a --config file or --bootstrap-servers wins)",
  FERRY_RDKAFKA_PATH: "full path of librdkafka (default: the system library)",
};

/** Which kind of processor a command line is for. */
export type ProcessorKind = "files" | "records";

/** Builds the commander program for a processor. */
export function processorProgram(
  name: string,
  description: string | undefined,
  extra: OptionSpecs,
  kind: ProcessorKind = "files",
): Command {
  const files = kind === "files";
  const program = new Command(name)
    .description(
      description ??
        (files
          ? `Runs the "${name}" processor on files rebuilt from a topic.`
          : `Runs the "${name}" record processor on each partition of a topic.`),
    )
    .option("-c, --config <file>", "OpenMSIStream-style INI config file ([broker], [consumer])")
    .option("-b, --bootstrap-servers <list>", `Kafka brokers, such as host:9092`)
    .requiredOption("-t, --topic <name>", files ? "topic to read file chunks from" : "topic")
    .option("-g, --group <id>", `consumer group (default: "ferry-${name}-<topic>")`)
    .option(
      "-w, --workers <n>",
      "number of worker threads running your code",
      positiveInt("--workers"),
      2,
    )
    .option("--status-interval <seconds>", "seconds between status lines", seconds, 30)
    .addOption(
      new Option("--log-level <level>", "console log level").choices(LOG_LEVELS).default("info"),
    )
    .option("--log-file <path>", "also log to this file (rotated)")
    .addOption(new Option("--log-file-level <level>", "log file level").choices(LOG_LEVELS))
    .option(
      "--exit-when-idle [seconds]",
      "exit 0 once caught up and idle for this long (default 5 s)",
      seconds,
    )
    .option(
      "-X, --property <key=value>",
      "librdkafka consumer property (repeatable)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    );
  if (files) {
    program
      .addOption(
        new Option("-m, --mode <mode>", "how files are rebuilt").choices(["memory", "disk", "both"])
          .default("memory"),
      )
      .option("-o, --output-dir <dir>", "output directory (rebuilt files, logs)", `${name}-output`)
      .option("--download-regex <regex>", "only process files whose relative path matches")
      .option(
        "--max-attempts <n>",
        "attempts per file before it stays failed",
        positiveInt("--max-attempts"),
        3,
      )
      .option(
        "--process-timeout <seconds>",
        "time limit of one process() call, 0 for none",
        seconds,
        0,
      );
  } else {
    program
      .addOption(
        new Option("--error-policy <policy>", "when a batch keeps failing")
          .choices(["stop-partition", "skip", "exit"]),
      )
      .option("--retries <n>", "attempts of a failing batch", positiveInt("--retries"))
      .option(
        "--max-batch <n>",
        "most records per processRecords call",
        positiveInt("--max-batch"),
        500,
      )
      .option("--dead-letter-topic <name>", "with --error-policy skip: send skipped records here")
      .option(
        "--checkpoint-every-records <n>",
        "checkpoint automatically after this many records",
        positiveInt("--checkpoint-every-records"),
      )
      .option(
        "--checkpoint-every-seconds <seconds>",
        "checkpoint automatically after this many seconds",
        seconds,
      );
  }
  for (const [key, spec] of Object.entries(extra)) {
    const flag = `--${kebab(key)} ${spec.type === "boolean" ? "" : "<value>"}`.trim();
    const option = new Option(flag, spec.description);
    if (spec.type === "number") {
      option.argParser((value: string) => {
        const n = Number(value);
        if (!Number.isFinite(n)) throw new InvalidArgumentError(`"${value}" is not a number.`);
        return n;
      });
    }
    if (spec.default !== undefined) option.default(spec.default);
    if (spec.required && spec.default === undefined) option.makeOptionMandatory();
    program.addOption(option);
  }
  const env = Object.entries(PROCESSOR_ENVIRONMENT)
    .map(([variable, text]) => `  ${variable.padEnd(26)}${text}`)
    .join("\n");
  program.addHelpText(
    "after",
    `\nEnvironment variables:\n${env}\n\nOpenMSIStream flag names (--topic_name, ` +
      `--consumer_group_id, --n_threads, --output_dir, --download_regex, --update_seconds, ` +
      `--logger_*) are accepted.`,
  );
  program.exitOverride();
  program.configureOutput({
    writeErr: (text) => Deno.stderr.writeSync(new TextEncoder().encode(text)),
    writeOut: (text) => Deno.stdout.writeSync(new TextEncoder().encode(text)),
  });
  return program;
}

/**
 * Parses a processor's command line.
 *
 * @throws {UsageError} for bad flags or values; {@linkcode CommanderError} with exit code 0
 * for `--help`.
 */
export async function parseProcessorArguments(
  name: string,
  description: string | undefined,
  extra: OptionSpecs,
  args: readonly string[],
  kind: ProcessorKind = "files",
): Promise<ProcessorArguments> {
  const program = processorProgram(name, description, extra, kind);
  try {
    program.parse(normalizeAliases(args, OPENMSISTREAM_ALIASES), { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode !== 0) {
      throw new UsageError(error.message.replace(/^error: /, ""));
    }
    throw error;
  }
  const o = program.opts();
  let downloadRegex: RegExp | undefined;
  if (o.downloadRegex !== undefined) {
    try {
      downloadRegex = new RegExp(o.downloadRegex);
    } catch (error) {
      throw new UsageError(
        `Option "--download-regex" value "${o.downloadRegex}" is not a valid regular ` +
          `expression: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  const { config } = await resolveKafkaConfig("consumer", {
    configFile: o.config,
    bootstrapServers: o.bootstrapServers,
    overrides: o.property,
  });
  const options: Record<string, string | number | boolean | undefined> = {};
  for (const key of Object.keys(extra)) options[key] = o[key];
  const idle = o.exitWhenIdle;
  return {
    kafka: config,
    topic: o.topic,
    group: o.group,
    workers: o.workers,
    mode: o.mode,
    outputDir: o.outputDir,
    downloadRegex,
    statusIntervalMs: o.statusInterval * 1000,
    logLevel: o.logLevel,
    logFile: o.logFile,
    logFileLevel: o.logFileLevel,
    exitWhenIdleMs: idle === undefined ? undefined : idle === true ? 5000 : idle * 1000,
    maxAttempts: o.maxAttempts ?? 3,
    processTimeoutMs: (o.processTimeout ?? 0) * 1000,
    errorPolicy: o.errorPolicy,
    retries: o.retries,
    maxBatch: o.maxBatch ?? 500,
    deadLetterTopic: o.deadLetterTopic,
    checkpointEveryRecords: o.checkpointEveryRecords,
    checkpointEveryMs: o.checkpointEverySeconds === undefined
      ? undefined
      : o.checkpointEverySeconds * 1000,
    options,
  };
}
