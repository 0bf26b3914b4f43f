/**
 * `ferry upload`: upload a file or a directory tree (once, or watching it) to a Kafka topic in
 * OpenMSIStream's chunk format.
 *
 * @module
 */

import { Command, Option } from "commander";
import { getLogger } from "@logtape/logtape";
import { DEFAULT_CHUNK_SIZE } from "../../chunks/chunk.ts";
import { BOOTSTRAP_ENV, describeKafkaConfig, resolveKafkaConfig } from "../../config/resolve.ts";
import { ConfigError } from "../../config/config_error.ts";
import { setDebugContexts } from "../../kafka/log.ts";
import type { FileOutcome } from "../../upload/file_uploader.ts";
import { type PartitionerChoice, upload, type UploadSummary } from "../../upload/uploader.ts";
import { backlogText, UploadWatch, type WatchOptions } from "../../upload/watcher.ts";
import { ExitCode } from "../../command/exit_codes.ts";
import type { CliContext, FlagAliases } from "../context.ts";
import { addKafkaOptions, collect } from "../kafka_options.ts";
import { configureLogging, parseLogLevel } from "../../command/logging.ts";
import { formatBytes, Progress } from "../../command/progress.ts";
import { openmsistreamDefaultFilter, pythonMatch } from "../../openmsistream/upload_filter.ts";
import { serveMetrics, uploadRunMetrics } from "../../command/metrics.ts";
import { tcpPort } from "../../command/processor_options.ts";
import {
  addReportingOptions,
  readReportingSettings,
  Reporting,
  REPORTING_ALIASES,
  type ReportingFlags,
} from "../../command/reporting.ts";

/** OpenMSIStream's `UploadDataFile` / `DataFileUploadDirectory` flag names Ferry accepts. */
export const UPLOAD_ALIASES: FlagAliases = {
  "--topic_name": "--topic",
  "--producer_topic_name": "--topic",
  "--chunk_size": "--chunk-size",
  "--upload_existing": "--upload-existing",
  "--upload_regex": "--upload-match",
  "--watchdog_lag_time": "--settle-seconds",
  "--n_threads": "--concurrency",
  "--logger_stream_level": "--log-level",
  "--logger_file_level": "--log-file-level",
  "--logger_file_path": "--log-file",
  "--bootstrap_servers": "--bootstrap-servers",
  ...REPORTING_ALIASES,
};

/** Added to the arguments when an OpenMSIStream flag spelling is used: its default filter. */
export const UPLOAD_ALIAS_MARKER = "--openmsistream-filter";

const logger = getLogger(["ferry", "cli", "upload"]);

interface UploadFlags extends ReportingFlags {
  topic?: string;
  bootstrapServers?: string;
  config?: string;
  property: string[];
  chunkSize: number;
  partitioner: PartitionerChoice;
  watch?: boolean;
  uploadExisting?: boolean;
  settleSeconds: number;
  poll?: boolean;
  rescanSeconds?: number;
  include: string[];
  exclude: string[];
  uploadRegex?: string;
  uploadMatch?: string;
  openmsistreamFilter?: boolean;
  uploadLog: boolean;
  uploadLogDir?: string;
  createTopic?: boolean;
  partitions?: number;
  replicationFactor?: number;
  deliveryTimeout: number;
  concurrency: number;
  maxInFlightMb: number;
  logLevel: string;
  logFile?: string;
  logFileLevel?: string;
  quiet?: boolean;
  metricsPort?: number;
}

/**
 * Parses a byte size: a whole number of bytes, or with a `K`/`KiB`/`M`/`MiB` suffix.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseByteSize } from "./upload.ts";
 *
 * assert.equal(parseByteSize("512KiB"), 524288);
 * assert.equal(parseByteSize("1M"), 1048576);
 * assert.equal(parseByteSize("4096"), 4096);
 * ```
 *
 * @param text What the user typed.
 * @returns The number of bytes.
 * @throws {ConfigError} for anything else.
 */
export function parseByteSize(text: string): number {
  const match = /^\s*(\d+)\s*(k|kib|kb|m|mib|mb)?\s*$/i.exec(text);
  if (!match) {
    throw new ConfigError(
      `Size ${JSON.stringify(text)} is not a number of bytes (such as 524288, 512KiB or 1MiB).`,
    );
  }
  const unit = (match[2] ?? "").toLowerCase();
  const factor = unit.startsWith("k") ? 1024 : unit.startsWith("m") ? 1024 * 1024 : 1;
  const bytes = Number(match[1]) * factor;
  if (bytes < 1 || bytes > 64 * 1024 * 1024) {
    throw new ConfigError(`Size ${JSON.stringify(text)} must be between 1 byte and 64 MiB.`);
  }
  return bytes;
}

function positiveNumber(name: string, integer: boolean) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
      throw new ConfigError(
        `Option "${name}" is ${JSON.stringify(text)}, expected a positive ${
          integer ? "integer" : "number"
        }.`,
      );
    }
    return value;
  };
}

/**
 * Builds the `upload` subcommand.
 *
 * @example
 * ```ts ignore
 * import { Command } from "commander";
 * import { createUploadCommand } from "./upload.ts";
 * const context = { exitCode: 0, signal: new AbortController().signal, print: () => {} };
 * new Command("ferry").addCommand(createUploadCommand(context));
 * ```
 *
 * @param context Where the action reports its exit code and prints its summary.
 * @returns The command.
 */
export function createUploadCommand(context: CliContext): Command {
  const command = new Command("upload");
  command
    .summary("upload a file or a folder to a Kafka topic as OpenMSIStream chunk messages")
    .description(
      "Upload a file, or every file of a folder tree (relative paths become the subdirectory " +
        "field), to a Kafka topic in OpenMSIStream's chunk format. A file counts as uploaded " +
        "only when the broker acknowledged every chunk; an upload log lets a restarted upload " +
        "skip files already uploaded and resend only what was not acknowledged (kept outside " +
        "the uploaded folder, see below). Hidden files " +
        "and folders (and Ferry's .ferry folder) are never uploaded; empty files are skipped " +
        "(OpenMSIStream sends nothing for them either).",
    )
    .argument("<path>", "a file, or a folder to upload (or watch) recursively")
    .addOption(new Option("-t, --topic <name>", "topic to upload to (alias --topic_name)").env(
      "FERRY_TOPIC",
    ));
  addKafkaOptions(command, "librdkafka producer property")
    .option(
      "--chunk-size <bytes>",
      "chunk size, such as 524288 or 512KiB",
      parseByteSize,
      DEFAULT_CHUNK_SIZE,
    )
    .addOption(
      new Option(
        "--partitioner <kind>",
        "path: all chunks of a file in the partition murmur2(relative path) picks; default: " +
          "the producer's per-key partitioner, as OpenMSIStream does",
      ).choices(["path", "default"]).default("path"),
    )
    .option("-w, --watch", "keep watching the folder; upload new and changed files once settled")
    .option("--upload-existing", "with --watch: also upload the files already there")
    .option(
      "--settle-seconds <s>",
      "with --watch: how long a file must stay unchanged before upload",
      positiveNumber("--settle-seconds", false),
      3,
    )
    .option(
      "--poll",
      "with --watch: poll the folder instead of using change events (inotify), for filesystems " +
        "without them (some network filesystems)",
    )
    .option(
      "--rescan-seconds <s>",
      "with --watch: how often the folder is rescanned for files the change events missed " +
        "(default 300); with --poll, how often it is polled (default 1, or half " +
        "--settle-seconds if shorter)",
      positiveNumber("--rescan-seconds", false),
    )
    .option(
      "--include <glob>",
      "only upload files matching (repeatable; without '/', matched against the file name)",
      collect,
      [],
    )
    .option("--exclude <glob>", "leave out files matching (repeatable)", collect, [])
    .option("--upload-regex <regex>", "only upload relative paths matching this regex")
    .option(
      "--upload-match <regex>",
      "only upload relative paths this regex matches from their start (Python's re.match, as " +
        "OpenMSIStream's --upload_regex, its alias)",
    )
    .option(
      "--openmsistream-filter",
      "leave out what OpenMSIStream's DataFileUploadDirectory leaves out: its LOGS folder, " +
        'names starting with ".", and relative paths with "log" after their first ' +
        "character (its regex ^((?!(\\.|.*.log))).*$). The default with --upload-existing or " +
        "any OpenMSIStream flag spelling (--topic_name, ...) unless --include, --exclude, " +
        "--upload-regex or --upload-match is given",
    )
    .option(
      "--create-topic",
      "create the topic when it does not exist (with --partitions, --replication-factor)",
    )
    .option(
      "--partitions <n>",
      "with --create-topic: partitions of a new topic (default: the broker's num.partitions)",
      positiveNumber("--partitions", true),
    )
    .option(
      "--replication-factor <n>",
      "with --create-topic: copies of each partition (default: the broker's default)",
      positiveNumber("--replication-factor", true),
    )
    .option(
      "--upload-log-dir <dir>",
      "folder of the upload log upload_to_<topic>.jsonl (default: outside the uploaded folder, " +
        "$XDG_STATE_HOME/ferry/uploads/<hash of the folder's path>, $XDG_STATE_HOME being " +
        "~/.local/state unless set)",
    )
    .option("--no-upload-log", "keep no upload log (a restart uploads everything again)")
    .option(
      "--delivery-timeout <s>",
      "how long to keep retrying while the broker is unreachable before a file fails",
      positiveNumber("--delivery-timeout", false),
      300,
    )
    .option(
      "--concurrency <n>",
      "files uploaded at once",
      positiveNumber("--concurrency", true),
      4,
    )
    .option(
      "--max-in-flight-mb <n>",
      "most MiB sent and not yet acknowledged (bounds memory)",
      positiveNumber("--max-in-flight-mb", false),
      32,
    )
    .addOption(
      new Option("--log-level <level>", "console log level: debug, info, warning, error")
        .default("info").env("FERRY_LOG_LEVEL"),
    )
    .option(
      "--log-file <path>",
      "also log to this file (rotated at 10 MiB, 5 kept); an existing folder (or a path ending " +
        "in /) means <folder>/upload.log",
    )
    .option("--log-file-level <level>", "log file level (default: --log-level)")
    .option("-q, --quiet", "no progress line; only warnings and errors on the console")
    .option(
      "--metrics-port <port>",
      "serve Prometheus metrics on http://127.0.0.1:<port>/metrics",
      tcpPort,
    );
  addReportingOptions(command)
    .addHelpText(
      "after",
      `
OpenMSIStream flag names are accepted too: ${Object.keys(UPLOAD_ALIASES).join(", ")}.

Environment variables: FERRY_TOPIC, ${BOOTSTRAP_ENV}, FERRY_CONFIG, FERRY_LOG_LEVEL (defaults of
the flags above), variables named as $VAR in the config file, FERRY_RDKAFKA_PATH (librdkafka),
XDG_STATE_HOME and HOME (where the upload log goes).

The upload log is kept outside the uploaded folder: nothing is written into it. A log that an
earlier Ferry kept in <folder>/.ferry/ is read once into the new place (and said so).

Exit status: 0 every file uploaded or skipped; 1 some file failed (each is named); 2 usage or
configuration error.

Examples:
  ferry upload scan.tif -t raw-data -b 127.0.0.1:9092
  ferry upload /data/run1 --config ferry.config --topic raw-data --include '*.tif'
  ferry upload /data --watch --upload-existing -t raw-data   # Ctrl-C stops
  ferry upload /mnt/nfs/data --watch --poll -t raw-data      # no change events there
  ferry upload /data/run2 -t new-topic --create-topic --partitions 4`,
    )
    .action(async (path: string, flags: UploadFlags) => {
      context.exitCode = await runUpload(path, flags, context);
    });
  return command;
}

async function runUpload(path: string, flags: UploadFlags, context: CliContext): Promise<number> {
  const level = parseLogLevel(flags.logLevel);
  const fileLevel = flags.logFileLevel === undefined
    ? undefined
    : parseLogLevel(flags.logFileLevel);
  if (flags.topic === undefined || flags.topic.trim() === "") {
    throw new ConfigError("No topic given: use --topic (or --topic_name) or set FERRY_TOPIC.");
  }
  if (!flags.createTopic && (flags.partitions ?? flags.replicationFactor) !== undefined) {
    throw new ConfigError(
      'Options "--partitions" and "--replication-factor" apply only with "--create-topic".',
    );
  }
  if ((flags.poll || flags.rescanSeconds !== undefined) && !flags.watch) {
    throw new ConfigError('Options "--poll" and "--rescan-seconds" apply only with "--watch".');
  }
  if (flags.uploadExisting && !flags.watch) {
    logger.debug("--upload-existing has no effect without --watch (every file is uploaded).");
  }
  if (flags.uploadRegex !== undefined && flags.uploadMatch !== undefined) {
    throw new ConfigError(
      'Options "--upload-regex" and "--upload-match" (OpenMSIStream\'s --upload_regex) were ' +
        "both given: give one.",
    );
  }
  let regex: RegExp | undefined;
  const source = flags.uploadMatch ?? flags.uploadRegex;
  if (source !== undefined) {
    const name = flags.uploadMatch !== undefined ? "--upload-match" : "--upload-regex";
    try {
      regex = flags.uploadMatch !== undefined ? pythonMatch(source) : new RegExp(source);
    } catch (error) {
      throw new ConfigError(
        `Option "${name}" is ${JSON.stringify(source)}, not a valid regular ` +
          `expression: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  const omsFilter = (flags.openmsistreamFilter || flags.uploadExisting) &&
    regex === undefined && flags.include.length === 0 && flags.exclude.length === 0;
  const omsDefaults = omsFilter ? openmsistreamDefaultFilter() : {};
  const kafka = await resolveKafkaConfig("producer", {
    configFile: flags.config,
    bootstrapServers: flags.bootstrapServers,
    overrides: flags.property,
  });
  // --log-level debug (or trace) also shows librdkafka's own lines, unless `debug` is set.
  setDebugContexts(kafka.config, level, "producer");
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    throw new ConfigError(
      `Path ${JSON.stringify(path)} cannot be uploaded: ${
        error instanceof Deno.errors.NotFound
          ? "it does not exist"
          : error instanceof Error
          ? error.message
          : String(error)
      }.`,
    );
  }
  if (flags.watch && !info.isDirectory) {
    throw new ConfigError(
      `Option "--watch" needs a folder, and ${JSON.stringify(path)} is not one.`,
    );
  }

  const reporting = new Reporting(
    await readReportingSettings(flags, {
      configFile: flags.config,
      bootstrapServers: flags.bootstrapServers,
      overrides: flags.property,
      producer: true,
    }),
    { program: "upload", noun: "files", role: "producer" },
  );
  await configureLogging({
    level,
    file: flags.logFile,
    name: "upload",
    fileLevel,
    quiet: flags.quiet,
    extraSinks: reporting.sinks,
  });
  logger.debug("Producer configuration:\n{config}", { config: describeKafkaConfig(kafka) });
  if (omsFilter) {
    logger.info(
      "Leaving out what OpenMSIStream's DataFileUploadDirectory leaves out: its LOGS folder, " +
        'hidden files, and paths with "log" after their first character ' +
        "(--openmsistream-filter; --include, --exclude or --upload-regex choose otherwise).",
    );
  }

  const progress = new Progress({ noun: "files", quiet: flags.quiet });
  const counts = { uploaded: 0, skipped: 0, failed: 0 };
  const started = Date.now();
  const options: WatchOptions = {
    kafka: kafka.config,
    topic: flags.topic.trim(),
    chunkSize: flags.chunkSize,
    partitioner: flags.partitioner,
    include: flags.include,
    exclude: flags.exclude,
    regex: regex ?? omsDefaults.regex,
    excludeDirs: omsDefaults.excludeDirs,
    uploadLogDir: flags.uploadLog ? flags.uploadLogDir : false,
    createTopic: flags.createTopic
      ? { partitions: flags.partitions, replicationFactor: flags.replicationFactor }
      : false,
    deliveryTimeoutMs: Math.round(flags.deliveryTimeout * 1000),
    concurrency: flags.concurrency,
    maxInFlightBytes: Math.round(flags.maxInFlightMb * 1024 * 1024),
    settleMs: Math.round(flags.settleSeconds * 1000),
    uploadExisting: flags.uploadExisting ?? false,
    poll: flags.poll ?? false,
    ...(flags.rescanSeconds === undefined
      ? {}
      : flags.poll
      ? { pollMs: Math.round(flags.rescanSeconds * 1000) }
      : { rescanMs: Math.round(flags.rescanSeconds * 1000) }),
    signal: context.signal,
    onKafkaError: (error) => logger.warn("Kafka: {message}", { message: error.message }),
    events: {
      chunkAcked: (chunk) => {
        progress.state.bytes += chunk.bytes;
      },
      fileDone: (outcome) => {
        counts[outcome.status]++;
        if (outcome.status === "failed") progress.state.failed++;
        else progress.state.done++;
      },
    },
  };
  // A watch shows its backlog (files settled and waiting for a slot, and for how long).
  const watch = flags.watch ? new UploadWatch(path, options) : undefined;
  const showBacklog = () => {
    if (!watch) return;
    const backlog = watch.backlog();
    progress.state.detail = backlogText(backlog);
    progress.state.backlog = backlog;
  };
  showBacklog();
  const backlogTimer = watch ? setInterval(showBacklog, Math.min(1000, progress.intervalMs)) : 0;
  if (watch) Deno.unrefTimer(backlogTimer);
  progress.start();
  let summary: UploadSummary;
  try {
    reporting.start(() => progress.state);
    await using _metrics = flags.metricsPort === undefined ? undefined : serveMetrics({
      port: flags.metricsPort,
      collect: () =>
        uploadRunMetrics(options.topic, {
          ...counts,
          bytes: progress.state.bytes,
          seconds: (Date.now() - started) / 1000,
          backlog: progress.state.backlog,
        }),
    });
    summary = watch ? await watch.run() : await upload(path, options);
  } finally {
    clearInterval(backlogTimer);
    progress.stop();
    await reporting.close();
  }
  for (const line of summaryLines(summary)) context.print(line);
  if (summary.failed > 0) return ExitCode.FAILURE;
  if (context.signal.aborted && !flags.watch) return ExitCode.INTERRUPTED;
  return ExitCode.OK;
}

/**
 * The summary printed at the end of an upload: counts, bytes and rate, then each failed file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { summaryLines } from "./upload.ts";
 *
 * const lines = summaryLines({
 *   outcomes: [], uploaded: 2, skipped: 1, failed: 0, bytes: 2_000_000, seconds: 1,
 * });
 * assert.match(lines[0], /^Uploaded 2 file\(s\)/);
 * ```
 *
 * @param summary The run's summary.
 * @returns The lines.
 */
export function summaryLines(summary: UploadSummary): string[] {
  const skipped = summary.outcomes.filter((o): o is Extract<FileOutcome, { status: "skipped" }> =>
    o.status === "skipped"
  );
  const empty = skipped.filter((o) => o.reason === "empty").length;
  const rate = summary.bytes / 1e6 / Math.max(0.001, summary.seconds);
  const lines = [
    `Uploaded ${summary.uploaded} file(s), ${formatBytes(summary.bytes)} in ` +
    `${summary.seconds.toFixed(1)} s (${rate.toFixed(1)} MB/s); skipped ${summary.skipped} ` +
    `(${summary.skipped - empty} already uploaded, ${empty} empty); failed ${summary.failed}.`,
  ];
  for (const outcome of summary.outcomes) {
    if (outcome.status === "failed") lines.push(`FAILED ${outcome.path}: ${outcome.error.message}`);
  }
  return lines;
}
