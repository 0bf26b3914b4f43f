/**
 * The built-in command line of every processor: broker and config, topic, group, workers,
 * mode, output directory, download regex, status interval, logging, idle exit, plus the
 * processor's own typed options. OpenMSIStream's snake_case flag names are accepted.
 *
 * @module
 */

import {
  Command,
  CommanderError,
  InvalidArgumentError,
  Option,
  type OptionValues,
} from "commander";
import type { LogLevel } from "@logtape/logtape";
import { BOOTSTRAP_ENV, resolveKafkaConfig } from "../config/resolve.ts";
import type { ReassemblyMode } from "../files/downloaded_file.ts";
import { DEFAULT_MAX_PARTIAL_BYTES, DEFAULT_MAX_PARTIAL_FILES } from "../files/reassembly.ts";
import { type KafkaConfig, KafkaConfigError } from "../kafka/mod.ts";
import { validateKafkaConfig } from "../kafka/config.ts";
import { GROUP_PROTOCOLS, groupProtocolConfig } from "../kafka/group_protocol.ts";
import { ConfigError } from "../config/config_error.ts";
import { optionsFromSection } from "../config/processor_section.ts";
import {
  DEFAULT_FAILOVER_SECONDS,
  FAILOVER_KEY,
  FailoverSecondsError,
  parseFailoverSeconds,
  takeFailoverKey,
} from "../processor/membership.ts";
import { setDebugContexts } from "../kafka/log.ts";
import type { OptionSpecs } from "../processor/definition.ts";
import { UsageError } from "./exit_codes.ts";
import { parseLogLevel } from "./logging.ts";
import { pythonMatch } from "../openmsistream/upload_filter.ts";
import {
  addReportingOptions,
  readReportingSettings,
  REPORTING_ALIASES,
  type ReportingSettings,
} from "./reporting.ts";
import { addResultsOptions, readResultsOptions } from "./results_options.ts";
import type { ResultsSettings } from "../file_processor/results.ts";

/** OpenMSIStream's flag names (and their kebab-case spellings) and Ferry's names for them. */
export const OPENMSISTREAM_ALIASES: Readonly<Record<string, string>> = {
  "--topic_name": "--topic",
  "--topic-name": "--topic",
  "--consumer_group_id": "--group",
  "--consumer-group-id": "--group",
  "--n_threads": "--workers",
  "--n-threads": "--workers",
  "--output_dir": "--output-dir",
  "--download_regex": "--download-match",
  "--update_seconds": "--status-interval",
  "--update-seconds": "--status-interval",
  "--logger_stream_level": "--log-level",
  "--logger-stream-level": "--log-level",
  "--logger_file_path": "--log-file",
  "--logger-file-path": "--log-file",
  "--logger_file_level": "--log-file-level",
  "--logger-file-level": "--log-file-level",
  ...REPORTING_ALIASES,
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
  logLevel: LogLevel;
  logFile: string | undefined;
  logFileLevel: LogLevel | undefined;
  exitWhenIdleMs: number | undefined;
  /** How long a stop (signal, revoke) waits for running calls before giving up on them (ms). */
  stopGraceMs: number;
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
  /** File processors: exit with an error once the broker is unreachable this long (ms); 0 waits. */
  brokerTimeoutMs: number;
  /** File processors: the most incomplete files at once. */
  maxPartialFiles: number;
  /** File processors: the most bytes of incomplete files held in memory. */
  maxPartialBytes: number;
  /** File processors: check every chunk's SHA-512 on arrival, not only the whole file's. */
  checkChunks: boolean;
  /** Serve Prometheus metrics on this port of 127.0.0.1. */
  metricsPort: number | undefined;
  /** Heartbeats and logs to Kafka topics (`--heartbeat-topic`, `--log-topic`), if any. */
  reporting: ReportingSettings | undefined;
  /** The failover time in seconds (`--failover-seconds`, or the config key); default 10. */
  failoverSeconds: number | undefined;
  /** The processor's own options, by their camelCase names. */
  options: Record<string, string | number | boolean | undefined>;
  /** Where results go (`--output-topic`, `--exactly-once`); undefined without an output topic. */
  results?: ResultsSettings;
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

/** Parses `--metrics-port`: a TCP port from 0 (any free one) to 65535. */
export function tcpPort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new InvalidArgumentError(
      `"${value}" is not a TCP port from 0 to 65535 (--metrics-port).`,
    );
  }
  return n;
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

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function logLevel(value: string): LogLevel {
  try {
    return parseLogLevel(value);
  } catch (error) {
    throw new InvalidArgumentError(errorMessage(error));
  }
}

const DOWNLOAD_MATCH_HELP = "only files whose relative path this regex matches from its start " +
  "(Python's re.match, as OpenMSIStream's --download_regex, its alias; --download-regex " +
  "searches anywhere in the path)";

/** Environment variables a processor reads, for `--help`. */
export const PROCESSOR_ENVIRONMENT: Readonly<Record<string, string>> = {
  FERRY_CONFIG: "config file (--config wins)",
  FERRY_CONFIG_DIR: "where --config NAME finds NAME.config (default ~/.config/ferry; " +
    "OPENMSISTREAM_CONFIG_FILE_DIR is read too)",
  FERRY_TOPIC: "topic (--topic wins)",
  [BOOTSTRAP_ENV]: "Kafka bootstrap servers (wins over --config; --bootstrap-servers wins)",
  FERRY_LOG_LEVEL: "console log level (--log-level wins)",
  FERRY_RDKAFKA_PATH: "full path of librdkafka (default: the system library)",
};

/**
 * Which kind of processor a command line is for: `files` (defineProcessor), `records`
 * (defineRecordProcessor), or `download` (`ferry download`: files rebuilt in disk mode by the
 * built-in processor, so no `--mode`, `--max-attempts` or `--process-timeout`, and no default
 * output directory).
 */
export type ProcessorKind = "files" | "records" | "download";

/** Builds the commander program for a processor. */
export function processorProgram(
  name: string,
  description: string | undefined,
  extra: OptionSpecs,
  kind: ProcessorKind = "files",
): Command {
  const files = kind !== "records";
  const program = new Command(name)
    .description(
      description ??
        (files
          ? `Runs the "${name}" processor on files rebuilt from a topic.`
          : `Runs the "${name}" record processor on each partition of a topic.`),
    )
    .addOption(
      new Option(
        "-c, --config <file>",
        Object.keys(extra).length === 0
          ? "OpenMSIStream-style INI config file ([broker], [consumer])"
          : `OpenMSIStream-style INI config file ([broker], [consumer]; [${name}]: this ` +
            `processor's own options, as in ${
              kebab(Object.keys(extra)[0]).replace(/-/g, "_")
            } = ..., which their flags override)`,
      )
        .env("FERRY_CONFIG"),
    )
    .option("-b, --bootstrap-servers <list>", `Kafka brokers, such as host:9092`)
    .addOption(
      new Option("-t, --topic <name>", files ? "topic to read file chunks from" : "topic")
        .env("FERRY_TOPIC").makeOptionMandatory(),
    )
    .option(
      "-g, --group <id>",
      `consumer group (default: "ferry-${name}-<topic>${
        kind === "download" ? "-<hash of the output directory>" : ""
      }")`,
    )
    .option(
      "-w, --workers <n>",
      kind === "download"
        ? "number of worker threads checking rebuilt files"
        : "number of worker threads running your code",
      positiveInt("--workers"),
      2,
    )
    .option("--status-interval <seconds>", "seconds between status lines", seconds, 30)
    .addOption(
      new Option(
        "--log-level <level>",
        "console log level: trace, debug, info, warning, error, fatal",
      )
        .argParser(logLevel).default("info").env("FERRY_LOG_LEVEL"),
    )
    .option(
      "--log-file <path>",
      "also log to this file (rotated at 10 MiB, 5 kept); an existing folder (or a path " +
        `ending in /) means <folder>/${name}.log`,
    )
    .option("--log-file-level <level>", "log file level (default: --log-level)", logLevel)
    .option(
      "--exit-when-idle [seconds]",
      "exit 0 once caught up and idle for this long (default 5 s)",
      seconds,
    )
    .option(
      "--stop-grace <seconds>",
      files
        ? "on SIGINT/SIGTERM, how long running process() calls may finish; past it the " +
          "process exits and their files are read again on the next start"
        : "on SIGINT/SIGTERM or a revoke, how long a running processRecords() call may finish; " +
          "past it nothing more is committed for its partition and its records come again",
      seconds,
      30,
    )
    .addOption(
      new Option(
        "--group-protocol <protocol>",
        "consumer group protocol: classic, or consumer (KIP-848; Kafka 4.0+ brokers and " +
          "librdkafka 2.10+; the broker then sets the session timeout and heartbeat interval). " +
          "Default: group.protocol of the config file's [consumer] section, else classic",
      ).choices(GROUP_PROTOCOLS),
    )
    .option(
      "--failover-seconds <seconds>",
      "how long the group waits for a member that stopped answering before its partitions " +
        `go to the others (session.timeout.ms; default ${DEFAULT_FAILOVER_SECONDS}; also ` +
        `"${FAILOVER_KEY}" in the config file)`,
      (value: string) => {
        try {
          return parseFailoverSeconds(value, "--failover-seconds");
        } catch (error) {
          throw new InvalidArgumentError(errorMessage(error));
        }
      },
    )
    .option(
      "-X, --property <key=value>",
      "librdkafka consumer property (repeatable)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    );
  if (files) {
    program
      .option(
        "--max-partial-files <n>",
        "most incomplete files at once; beyond, the least recently active is abandoned",
        positiveInt("--max-partial-files"),
        DEFAULT_MAX_PARTIAL_FILES,
      )
      .option(
        "--max-partial-mb <n>",
        "most MiB of incomplete files held in memory; beyond, they continue on disk",
        positiveInt("--max-partial-mb"),
        DEFAULT_MAX_PARTIAL_BYTES / (1024 * 1024),
      )
      .option(
        "--check-chunks",
        "also check each chunk's SHA-512 as it arrives (a bad chunk is skipped as malformed). " +
          "Without it each byte is hashed once: the whole file's SHA-512 covers every byte " +
          "and is always checked before the file reaches process() or its place in the " +
          "output directory; the chunks' hashes are checked only when it fails, to name the " +
          "damaged chunks",
        false,
      );
  }
  if (kind !== "download") addResultsOptions(program);
  program.option(
    "--metrics-port <port>",
    "serve Prometheus metrics on http://127.0.0.1:<port>/metrics",
    tcpPort,
  );
  addReportingOptions(program);
  if (kind === "download") {
    program
      .option("-o, --output-dir <dir>", "output directory (rebuilt files, logs)")
      .option("--download-regex <regex>", "only download files whose relative path matches")
      .option("--download-match <regex>", DOWNLOAD_MATCH_HELP)
      .option(
        "--broker-timeout <seconds>",
        "exit with an error once the broker is unreachable this long, 0 to wait for it",
        seconds,
        0,
      );
  } else if (files) {
    program
      .addOption(
        new Option("-m, --mode <mode>", "how files are rebuilt").choices(["memory", "disk", "both"])
          .default("memory"),
      )
      .option("-o, --output-dir <dir>", "output directory (rebuilt files, logs)", `${name}-output`)
      .option("--download-regex <regex>", "only process files whose relative path matches")
      .option("--download-match <regex>", DOWNLOAD_MATCH_HELP)
      .option(
        "--max-attempts <n>",
        "attempts per file before it stays failed",
        positiveInt("--max-attempts"),
        3,
      )
      .option(
        "--process-timeout <seconds>",
        "time limit of one process() call (the file fails, the worker is replaced), 0 for none",
        seconds,
        3600,
      )
      .option(
        "--broker-timeout <seconds>",
        "exit with an error once the broker is unreachable this long, 0 to wait for it",
        seconds,
        0,
      );
  } else {
    program
      .addOption(
        new Option(
          "--error-policy <policy>",
          "when a batch keeps failing (default: stop-partition; the definition's errorPolicy " +
            "wins over the default, this flag over both)",
        )
          .choices(["stop-partition", "skip", "exit"]),
      )
      .option(
        "--retries <n>",
        "attempts of a failing batch before the error policy applies (default: 3; the " +
          "definition's retries wins over the default, this flag over both)",
        positiveInt("--retries"),
      )
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
    // A required option may come from the config file too: readProcessorArguments checks it.
    program.addOption(option);
  }
  const env = Object.entries(PROCESSOR_ENVIRONMENT)
    .map(([variable, text]) => `  ${variable.padEnd(26)}${text}`)
    .join("\n");
  program.addHelpText(
    "after",
    `\nEnvironment variables:\n${env}\n\nOpenMSIStream flag names (--topic_name, ` +
      `--consumer_group_id, --n_threads, ${files ? "--output_dir, --download_regex, " : ""}` +
      `--update_seconds, --logger_*) are accepted.`,
  );
  program.exitOverride();
  program.configureOutput({
    writeErr: (text) => Deno.stderr.writeSync(new TextEncoder().encode(text)),
    writeOut: (text) => Deno.stdout.writeSync(new TextEncoder().encode(text)),
  });
  return program;
}

/**
 * File processors' flags that a record processor has not (`--output-dir`, `-o` and
 * OpenMSIStream's `--output_dir`; `--download-regex`, `--download_regex`): a usage error that
 * says so, rather than commander's "unknown option" for a name the user may not have typed. A
 * processor's own option of the same name is left alone.
 */
function refuseFileFlags(args: readonly string[], extra: OptionSpecs): void {
  const refused: [flags: string[], key: string, text: string][] = [
    [
      ["--output-dir", "--output_dir", "-o"],
      "outputDir",
      "record processors have no output directory: records go to processRecords, and one " +
      "that writes files says where with an option of its own (declared in options)",
    ],
    [
      ["--download-regex", "--download_regex", "--download-match"],
      "downloadRegex",
      "record processors have no download regex: every record goes to processRecords",
    ],
  ];
  for (const arg of args) {
    if (arg === "--") return;
    const flag = arg.startsWith("--") ? arg.split("=")[0] : arg;
    for (const [flags, key, text] of refused) {
      if (flags.includes(flag) && !Object.hasOwn(extra, key)) {
        throw new UsageError(`${flag}: ${text}.`);
      }
    }
  }
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
  // Parse errors become a UsageError, reported once by the command runner.
  program.configureOutput({ outputError: () => {} });
  if (kind === "records") refuseFileFlags(args, extra);
  try {
    program.parse(normalizeAliases(args, OPENMSISTREAM_ALIASES), { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode !== 0) {
      throw new UsageError(error.message.replace(/^error: /, ""));
    }
    throw error;
  }
  return await readProcessorArguments(program.opts(), extra, {
    name,
    given: (key) => {
      const source = program.getOptionValueSource(key);
      return source !== undefined && source !== "default" && source !== "implied";
    },
  });
}

/**
 * Where a processor's own options may come from besides the command line: the section of the
 * config file named after it, for the options not given as flags.
 */
export interface OwnOptionSources {
  /** The processor's name, which is its config file section's. */
  name: string;
  /** Whether an option (by commander's attribute name) was given on the command line. */
  given(key: string): boolean;
}

/**
 * Turns the option values of a parsed {@linkcode processorProgram} into a processor's arguments:
 * checks the download regex, reads the config file and resolves the Kafka configuration, and,
 * given `own`, takes the processor's own options not given as flags from the config file's
 * section named after it (`[checksum]`; `src/config/processor_section.ts`).
 *
 * @throws {UsageError} for a bad regex or a missing required option; {@linkcode ConfigError} for
 *   a bad config.
 */
export async function readProcessorArguments(
  o: OptionValues,
  extra: OptionSpecs,
  own?: OwnOptionSources,
): Promise<ProcessorArguments> {
  if (o.downloadRegex !== undefined && o.downloadMatch !== undefined) {
    throw new UsageError(
      'Options "--download-regex" and "--download-match" (OpenMSIStream\'s --download_regex) ' +
        "were both given: give one.",
    );
  }
  let downloadRegex: RegExp | undefined;
  const source: string | undefined = o.downloadMatch ?? o.downloadRegex;
  if (source !== undefined) {
    const flag = o.downloadMatch !== undefined ? "--download-match" : "--download-regex";
    try {
      downloadRegex = o.downloadMatch !== undefined ? pythonMatch(source) : new RegExp(source);
    } catch (error) {
      throw new UsageError(
        `Option "${flag}" value "${source}" is not a valid regular ` +
          `expression: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  const { config, section } = await resolveKafkaConfig("consumer", {
    configFile: o.config,
    bootstrapServers: o.bootstrapServers,
    overrides: o.property,
    section: own?.name,
  });
  // --group-protocol wins over the config file and -X (groupProtocolOf() reads it back).
  if (o.groupProtocol !== undefined) config["group.protocol"] = o.groupProtocol;
  // Ferry's failover key is no librdkafka property: taken out before the config is checked.
  let failoverFromFile: number | undefined;
  try {
    failoverFromFile = takeFailoverKey(config);
  } catch (error) {
    if (!(error instanceof FailoverSecondsError)) throw error;
    throw new ConfigError(error.message, { cause: error });
  }
  // --log-level debug (or trace) also shows librdkafka's own lines, unless `debug` is set.
  setDebugContexts(config, o.logLevel, "consumer");
  // Unknown or invalid librdkafka properties are configuration errors: report them before
  // anything starts. The group protocol is checked against the library too (and "classic"
  // left out, for librdkafka versions without the property).
  try {
    validateKafkaConfig(groupProtocolConfig(config));
  } catch (error) {
    if (!(error instanceof KafkaConfigError)) throw error;
    throw new ConfigError(error.message, { cause: error });
  }
  // The processor's own options: flags, then its config file section, then defaults.
  const fromFile = section === undefined ? new Map() : optionsFromSection(section, extra);
  const options: Record<string, string | number | boolean | undefined> = {};
  for (const [key, spec] of Object.entries(extra)) {
    // commander reads a flag "--no-x" as the negation of "x" (true unless given).
    const negated = spec.type === "boolean" && /^no[A-Z]/.test(key);
    const attribute = negated ? key[2].toLowerCase() + key.slice(3) : key;
    const file = fromFile.get(key);
    if (file !== undefined && !(own?.given(attribute) ?? false)) {
      options[key] = file.value;
    } else {
      options[key] = negated ? o[attribute] === false : o[attribute];
    }
    if (options[key] === undefined && spec.required && spec.default === undefined) {
      const flag = `--${kebab(key)}`;
      throw new UsageError(
        `Option "${flag}" is required: give it` +
          (own === undefined
            ? "."
            : `, or "${kebab(key).replace(/-/g, "_")}" in the "[${own.name}]" section of the ` +
              "config file."),
      );
    }
  }
  const idle = o.exitWhenIdle;
  const results = await readResultsOptions(o, config);
  return {
    kafka: config,
    topic: o.topic,
    group: o.group,
    workers: o.workers,
    mode: o.mode ?? "disk", // `ferry download` has no --mode: always disk
    outputDir: o.outputDir,
    downloadRegex,
    statusIntervalMs: o.statusInterval * 1000,
    logLevel: o.logLevel,
    logFile: o.logFile,
    logFileLevel: o.logFileLevel,
    exitWhenIdleMs: idle === undefined ? undefined : idle === true ? 5000 : idle * 1000,
    stopGraceMs: (o.stopGrace ?? 30) * 1000,
    maxAttempts: o.maxAttempts ?? 3,
    processTimeoutMs: (o.processTimeout ?? 3600) * 1000,
    brokerTimeoutMs: (o.brokerTimeout ?? 0) * 1000,
    maxPartialFiles: o.maxPartialFiles ?? DEFAULT_MAX_PARTIAL_FILES,
    maxPartialBytes: (o.maxPartialMb ?? DEFAULT_MAX_PARTIAL_BYTES / (1024 * 1024)) * 1024 * 1024,
    checkChunks: o.checkChunks === true,
    metricsPort: o.metricsPort,
    reporting: await readReportingSettings(o, {
      configFile: o.config,
      bootstrapServers: o.bootstrapServers,
      overrides: o.property,
      section: own?.name,
    }),
    failoverSeconds: o.failoverSeconds ?? failoverFromFile,
    errorPolicy: o.errorPolicy,
    retries: o.retries,
    maxBatch: o.maxBatch ?? 500,
    deadLetterTopic: o.deadLetterTopic,
    checkpointEveryRecords: o.checkpointEveryRecords,
    checkpointEveryMs: o.checkpointEverySeconds === undefined
      ? undefined
      : o.checkpointEverySeconds * 1000,
    options,
    ...(results === undefined ? {} : { results }),
  };
}
