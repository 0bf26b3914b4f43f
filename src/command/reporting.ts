/**
 * Heartbeats and logs to Kafka topics for every run type (file and record processors,
 * `ferry download`, `ferry upload`): the flags (`--heartbeat-topic`, `--log-topic` and their
 * program ids and intervals, OpenMSIStream's spellings accepted), their producers' configuration
 * (the config file's `[broker]` section, then its `[heartbeat]` or `[log]` section, as
 * OpenMSIStream builds them), and the run's side of it: a producer per topic, a timer per topic,
 * a last heartbeat and the last log lines when the run ends. A topic that cannot be written is
 * warned about once (until it works again) and never stops the run.
 *
 * @module
 */

import { type Command, InvalidArgumentError } from "commander";
import { getLogger, type LogLevel, type Sink } from "@logtape/logtape";
import { resolveKafkaConfig } from "../config/resolve.ts";
import { readIniFile } from "../config/ini.ts";
import { ConfigError } from "../config/config_error.ts";
import { type KafkaConfig, KafkaConfigError, Producer } from "../kafka/mod.ts";
import { validateKafkaConfig } from "../kafka/config.ts";
import { HeartbeatCounter, type HeartbeatRole, type HeartbeatTotals } from "./heartbeat.ts";
import { DEFAULT_MAX_LOGS_PER_MESSAGE, LogTopicBuffer } from "./log_topic.ts";
import { parseLogLevel } from "./logging.ts";

const logger = getLogger(["ferry", "reporting"]);

/** OpenMSIStream's heartbeat and log flag names (and kebab-case spellings) and Ferry's. */
export const REPORTING_ALIASES: Readonly<Record<string, string>> = {
  "--heartbeat_topic_name": "--heartbeat-topic",
  "--heartbeat-topic-name": "--heartbeat-topic",
  "--heartbeat_program_id": "--heartbeat-program-id",
  "--heartbeat_interval_secs": "--heartbeat-interval",
  "--heartbeat-interval-secs": "--heartbeat-interval",
  "--log_topic_name": "--log-topic",
  "--log-topic-name": "--log-topic",
  "--log_program_id": "--log-program-id",
  "--log_interval_secs": "--log-interval",
  "--log-interval-secs": "--log-interval",
};

/** Seconds between heartbeats by default (OpenMSIStream's default: 15 minutes). */
export const DEFAULT_HEARTBEAT_SECONDS = 900;
/** Seconds between log messages by default (OpenMSIStream's default). */
export const DEFAULT_LOG_SECONDS = 60;

/** Keys of `[heartbeat]` and `[log]` that are OpenMSIStream's, not librdkafka properties. */
const NOT_KAFKA_KEYS = new Set([
  "prefer.separate.producer",
  "max.logs.per.message",
  "log.level",
  "key.serializer",
  "value.serializer",
  "node_id",
]);

/** librdkafka properties of the connection itself, which a consumer's `-X` also gives here. */
const CONNECTION_PROPERTY =
  /^(bootstrap\.servers|metadata\.broker\.list|security\.protocol|sasl\.|ssl\.|client\.dns\.lookup|broker\.address\.family)/;

function positiveSeconds(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) {
      throw new InvalidArgumentError(`"${value}" is not a positive number of seconds (${flag}).`);
    }
    return n;
  };
}

/**
 * Adds the heartbeat and log topic flags to a command.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Command } from "commander";
 * import { addReportingOptions } from "./reporting.ts";
 *
 * const command = addReportingOptions(new Command("x"));
 * assert.ok(command.options.some((o) => o.long === "--heartbeat-topic"));
 * ```
 */
export function addReportingOptions(command: Command): Command {
  return command
    .option(
      "--heartbeat-topic <name>",
      "send a JSON heartbeat (counts since the last one, lag) to this topic every " +
        "--heartbeat-interval seconds and at the end (alias --heartbeat_topic_name; producer " +
        "settings from the config file's [broker] and [heartbeat] sections)",
    )
    .option(
      "--heartbeat-program-id <id>",
      "id in the heartbeats' key <id>_heartbeat (default: <name>@<host name>)",
    )
    .option(
      "--heartbeat-interval <seconds>",
      "seconds between heartbeats (alias --heartbeat_interval_secs)",
      positiveSeconds("--heartbeat-interval"),
      DEFAULT_HEARTBEAT_SECONDS,
    )
    .option(
      "--log-topic <name>",
      "send warnings and errors as JSON to this topic every --log-interval seconds and at the " +
        "end (alias --log_topic_name; [broker] and [log] sections; log.level in [log] changes " +
        "the level)",
    )
    .option(
      "--log-program-id <id>",
      "id in the log messages' key <id>_log (default: <name>@<host name>)",
    )
    .option(
      "--log-interval <seconds>",
      "seconds between log messages (alias --log_interval_secs)",
      positiveSeconds("--log-interval"),
      DEFAULT_LOG_SECONDS,
    );
}

/** One topic a run reports to. */
export interface ReportTopic {
  /** The topic. */
  topic: string;
  /** The program id given, if any. */
  programId: string | undefined;
  /** Milliseconds between messages. */
  intervalMs: number;
  /** The producer's librdkafka properties. */
  kafka: KafkaConfig;
}

/** Where a run sends its heartbeats and logs (each optional). */
export interface ReportingSettings {
  /** Heartbeats. */
  heartbeat?: ReportTopic;
  /** Logs, with the lowest level sent and the most lines per message. */
  log?: ReportTopic & { level: LogLevel; maxLines: number };
}

/** The values of the flags {@linkcode addReportingOptions} adds, as commander parses them. */
export interface ReportingFlags {
  /** `--heartbeat-topic`. */
  heartbeatTopic?: string;
  /** `--heartbeat-program-id`. */
  heartbeatProgramId?: string;
  /** `--heartbeat-interval`, seconds. */
  heartbeatInterval?: number;
  /** `--log-topic`. */
  logTopic?: string;
  /** `--log-program-id`. */
  logProgramId?: string;
  /** `--log-interval`, seconds. */
  logInterval?: number;
}

/** The Kafka configuration sources of the run, for the reporting producers. */
export interface ReportingSources {
  /** `--config`. */
  configFile?: string;
  /** `--bootstrap-servers`. */
  bootstrapServers?: string;
  /** `-X` overrides; only connection properties are used unless `producer`. */
  overrides?: readonly string[];
  /** Whether the `-X` overrides are producer properties (`ferry upload`): then all apply. */
  producer?: boolean;
  /** A processor's own config file section, allowed in the file. */
  section?: string;
}

/**
 * Reads the heartbeat and log flags of a parsed command line and builds their producers'
 * configuration: `[broker]` (and `[producer]`), `FERRY_BOOTSTRAP_SERVERS`,
 * `--bootstrap-servers`, the connection's `-X` properties, then the `[heartbeat]` or `[log]`
 * section (whose OpenMSIStream-only keys are read or left out).
 *
 * @param o The parsed option values.
 * @param sources Where the run's Kafka configuration comes from.
 * @returns The settings, or `undefined` when neither topic is given.
 * @throws {ConfigError} for a bad section or property.
 */
export async function readReportingSettings(
  o: ReportingFlags,
  sources: ReportingSources,
): Promise<ReportingSettings | undefined> {
  if (o.heartbeatTopic === undefined && o.logTopic === undefined) return undefined;
  const settings: ReportingSettings = {};
  if (o.heartbeatTopic !== undefined) {
    settings.heartbeat = {
      topic: nonEmpty(o.heartbeatTopic, "--heartbeat-topic"),
      programId: o.heartbeatProgramId,
      intervalMs: (o.heartbeatInterval ?? DEFAULT_HEARTBEAT_SECONDS) * 1000,
      kafka: (await producerConfig("heartbeat", sources)).config,
    };
  }
  if (o.logTopic !== undefined) {
    const { config, section } = await producerConfig("log", sources);
    const level = section.get("log.level");
    const max = section.get("max.logs.per.message");
    const maxLines = max === undefined ? DEFAULT_MAX_LOGS_PER_MESSAGE : Number(max);
    if (!Number.isInteger(maxLines) || maxLines < 1) {
      throw new ConfigError(
        `"max.logs.per.message" in [log] is ${JSON.stringify(max)}, not a whole number of at ` +
          "least 1.",
      );
    }
    settings.log = {
      topic: nonEmpty(o.logTopic, "--log-topic"),
      programId: o.logProgramId,
      intervalMs: (o.logInterval ?? DEFAULT_LOG_SECONDS) * 1000,
      kafka: config,
      level: level === undefined ? "warning" : parseLogLevel(level),
      maxLines,
    };
  }
  return settings;
}

function nonEmpty(value: string, flag: string): string {
  if (value.trim() === "") throw new ConfigError(`Option "${flag}" is empty.`);
  return value.trim();
}

async function producerConfig(
  name: "heartbeat" | "log",
  sources: ReportingSources,
): Promise<{ config: KafkaConfig; section: Map<string, string> }> {
  const overrides = (sources.overrides ?? []).filter((text) =>
    sources.producer || CONNECTION_PROPERTY.test(text.trim())
  );
  const { config } = await resolveKafkaConfig("producer", {
    configFile: sources.configFile,
    bootstrapServers: sources.bootstrapServers,
    overrides,
    section: sources.section,
  });
  const section = new Map<string, string>();
  if (sources.configFile !== undefined) {
    const ini = await readIniFile(sources.configFile);
    const entries = [...ini.sections].find(([key]) => key.toLowerCase() === name)?.[1];
    for (const [key, entry] of entries ?? []) {
      section.set(key, entry.value);
      if (!NOT_KAFKA_KEYS.has(key)) config[key] = entry.value;
    }
  }
  try {
    validateKafkaConfig(config);
  } catch (error) {
    if (!(error instanceof KafkaConfigError)) throw error;
    throw new ConfigError(`The ${name} producer: ${error.message}`, { cause: error });
  }
  return { config, section };
}

/** Who is reporting: the program's name, what it counts, and whether it consumes or produces. */
export interface ReportingRun {
  /** The processor's name, `download` or `upload`. */
  program: string;
  /** `files` or `records`. */
  noun: string;
  /** Processors consume, `ferry upload` produces. */
  role: HeartbeatRole;
}

const encoder = new TextEncoder();

/** One producer writing JSON messages to one topic, warning once per streak of failures. */
class TopicWriter {
  readonly #producer: Producer;
  readonly #topic: string;
  readonly #what: string;
  #failing = false;

  constructor(kafka: KafkaConfig, topic: string, what: string) {
    this.#producer = new Producer(kafka, { closeTimeoutMs: 5000 });
    this.#topic = topic;
    this.#what = what;
  }

  async write(key: string, value: unknown): Promise<void> {
    try {
      const pending = await this.#producer.send({
        topic: this.#topic,
        key,
        value: encoder.encode(JSON.stringify(value)),
      });
      pending.delivered.then(() => this.#failing = false, (error) => this.#failed(error));
    } catch (error) {
      this.#failed(error);
    }
  }

  #failed(error: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    logger.warn("Could not send {what} to {topic}: {error}", {
      what: this.#what,
      topic: this.#topic,
      error: error instanceof Error ? error.message : String(error),
    });
  }

  async close(): Promise<void> {
    try {
      await this.#producer.flush(5000);
    } catch (error) {
      this.#failed(error);
    }
    await this.#producer.close();
  }
}

/**
 * A run's heartbeats and log messages. Create it before logging is configured (its log sink goes
 * into the configuration), start it once the run's totals exist, close it when the run ends
 * (a last heartbeat, marked `final`, and the last log lines), before the log sinks are disposed.
 *
 * @example
 * ```ts ignore
 * import { Reporting } from "./reporting.ts";
 * const reporting = new Reporting(settings, { program: "checksum", noun: "files", role: "consumer" });
 * await configureLogging({ level: "info", extraSinks: reporting.sinks });
 * reporting.start(() => progress.state);
 * // ... the run
 * await reporting.close();
 * ```
 */
export class Reporting {
  readonly #settings: ReportingSettings;
  readonly #run: ReportingRun;
  readonly #logs: LogTopicBuffer | undefined;
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  #heartbeats: HeartbeatCounter | undefined;
  #heartbeatWriter: TopicWriter | undefined;
  #logWriter: TopicWriter | undefined;
  #totals: (() => HeartbeatTotals) | undefined;
  #closing: Promise<void> | undefined;

  /**
   * Creates the reporting of a run (nothing is sent before {@linkcode Reporting.start}).
   *
   * @param settings The topics; `undefined` for none (every method then does nothing).
   * @param run The program's name, what it counts, its role.
   */
  constructor(settings: ReportingSettings | undefined, run: ReportingRun) {
    this.#settings = settings ?? {};
    this.#run = run;
    const log = this.#settings.log;
    if (log !== undefined) {
      this.#logs = new LogTopicBuffer({
        programId: log.programId ?? defaultProgramId(run.program),
        program: run.program,
        level: log.level,
        maxLines: log.maxLines,
      });
    }
  }

  /** The log sink to add to the logging configuration, with its level (none without a log topic). */
  get sinks(): { name: string; sink: Sink; level: LogLevel }[] {
    const log = this.#settings.log;
    return this.#logs === undefined || log === undefined
      ? []
      : [{ name: "logTopic", sink: this.#logs.sink, level: log.level }];
  }

  /**
   * Starts the producers and timers; the first heartbeat goes at once.
   *
   * @param totals The run's totals now (read at each heartbeat).
   */
  start(totals: () => HeartbeatTotals): void {
    this.#totals = totals;
    const { heartbeat, log } = this.#settings;
    if (heartbeat !== undefined) {
      const programId = heartbeat.programId ?? defaultProgramId(this.#run.program);
      this.#heartbeats = new HeartbeatCounter({ programId, ...this.#run });
      this.#heartbeatWriter = new TopicWriter(heartbeat.kafka, heartbeat.topic, "a heartbeat");
      logger.info("Heartbeats to {topic} every {seconds} s as {programId}.", {
        topic: heartbeat.topic,
        seconds: heartbeat.intervalMs / 1000,
        programId,
      });
      this.#beat(false);
      this.#every(heartbeat.intervalMs, () => this.#beat(false));
    }
    if (log !== undefined && this.#logs !== undefined) {
      this.#logWriter = new TopicWriter(log.kafka, log.topic, "log lines");
      logger.info("Log lines at {level} and above to {topic} every {seconds} s.", {
        level: log.level,
        topic: log.topic,
        seconds: log.intervalMs / 1000,
      });
      this.#every(log.intervalMs, () => this.#sendLogs());
    }
  }

  #every(ms: number, action: () => Promise<void>): void {
    const timer = setInterval(() => void action(), ms);
    Deno.unrefTimer(timer);
    this.#timers.push(timer);
  }

  async #beat(final: boolean): Promise<void> {
    if (!this.#heartbeats || !this.#heartbeatWriter || !this.#totals) return;
    const value = this.#heartbeats.next(this.#totals(), new Date(), final);
    await this.#heartbeatWriter.write(this.#heartbeats.key, value);
  }

  async #sendLogs(): Promise<void> {
    if (!this.#logs || !this.#logWriter) return;
    const value = this.#logs.take();
    if (value !== undefined) await this.#logWriter.write(this.#logs.key, value);
  }

  /** Sends the last heartbeat and log lines, waits up to 5 s for them, closes the producers. */
  close(): Promise<void> {
    return this.#closing ??= this.#close();
  }

  async #close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    await this.#beat(true);
    await this.#sendLogs();
    await this.#heartbeatWriter?.close();
    await this.#logWriter?.close();
  }
}

/** The program id when none is given: `<program>@<host name>`. */
export function defaultProgramId(program: string): string {
  let host = "localhost";
  try {
    host = Deno.hostname();
  } catch (error) {
    logger.warn(
      "Cannot read the host name for the program id ({error}): using {programId}. Give " +
        "--heartbeat-program-id / --log-program-id, or Deno's --allow-sys=hostname.",
      {
        error: error instanceof Error ? error.message : String(error),
        programId: `${program}@${host}`,
      },
    );
  }
  return `${program}@${host}`;
}
