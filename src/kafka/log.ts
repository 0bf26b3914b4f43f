/**
 * librdkafka's log lines, delivered as `RD_KAFKA_EVENT_LOG` events, routed to LogTape under
 * `["ferry", "rdkafka"]`. No callback ever runs on librdkafka's own threads.
 *
 * @module
 */

import { getLogger, type Logger } from "@logtape/logtape";
import { pointerCell, rdkafka, readCString } from "./ffi.ts";
import { type ClientRole, type KafkaConfig, redact } from "./config.ts";

const logger: Logger = getLogger(["ferry", "rdkafka"]);

/**
 * Takes a librdkafka line before it is logged; returning true logs it at debug instead (it was
 * counted, or reported otherwise). See {@linkcode foldLogLines}.
 */
export type LogLineFold = (facility: string, text: string) => boolean;

const folds = new Set<LogLineFold>();

/**
 * Has `fold` see every librdkafka line of this process from now on, until the result is
 * disposed of: a line it takes is logged at debug only. The broker watch folds the repeated
 * connection failures of an outage into its own lines this way.
 *
 * @example
 * ```ts
 * import { emitLogLine, foldLogLines } from "./log.ts";
 * let seen = 0;
 * {
 *   using _fold = foldLogLines((facility) => facility === "FAIL" && ++seen > 0);
 *   emitLogLine(3, "rdkafka#consumer-1", "FAIL", "Connect to ipv4#127.0.0.1:9092 failed");
 * }
 * console.assert(seen === 1);
 * ```
 */
export function foldLogLines(fold: LogLineFold): Disposable {
  folds.add(fold);
  return { [Symbol.dispose]: () => folds.delete(fold) };
}

function folded(facility: string, text: string): boolean {
  let taken = false;
  for (const fold of folds) taken = fold(facility, text) || taken;
  return taken;
}

/**
 * Forwards one log event to LogTape ({@linkcode emitLogLine}), with secrets redacted.
 */
export function routeLogEvent(
  event: Deno.PointerObject,
  client: string,
  secrets: readonly string[],
): void {
  const facility = new BigUint64Array(1);
  const text = new BigUint64Array(1);
  const level = new Int32Array(1);
  if (rdkafka().rd_kafka_event_log(event, facility, text, level) !== 0) return;
  const message = redact(readCString(pointerCell(text)) ?? "", secrets);
  emitLogLine(level[0], client, readCString(pointerCell(facility)) ?? "", message);
}

/**
 * Logs one librdkafka line as `<client> <facility>: <text>`, the text as it is: it is never read
 * as a LogTape template, so braces in it print as they came.
 *
 * @example
 * ```ts
 * import { emitLogLine } from "./log.ts";
 *
 * emitLogLine(4, "rdkafka#consumer-1", "CONF", 'Unknown value {"a":1}');
 * ```
 *
 * @param syslogLevel librdkafka's (syslog) level: 0-3 error, 4 warning, 5-6 info, 7 debug (but
 *   see {@linkcode isStartUpNoise}: debug whatever its level).
 * @param client The client's name.
 * @param facility librdkafka's facility (`CGRP`, `FAIL`, …).
 * @param text The line.
 */
export function emitLogLine(
  syslogLevel: number,
  client: string,
  facility: string,
  text: string,
): void {
  const level = isStartUpNoise(facility, text) || folded(facility, text)
    ? "debug"
    : syslogLevel <= 3
    ? "error"
    : syslogLevel === 4
    ? "warning"
    : syslogLevel <= 6
    ? "info"
    : "debug";
  if (!logger.isEnabledFor(level)) return;
  logger.emit({
    level,
    timestamp: Date.now(),
    message: ["", client, " ", facility, `: ${text}`],
    // As a LogTape template, for sinks that read it: the text's braces escaped.
    rawMessage: `{client} {facility}: ${text.replaceAll("{", "{{").replaceAll("}", "}}")}`,
    properties: { client, facility },
  });
}

/**
 * Whether a librdkafka line is the normal noise of a broker that is starting, logged at debug
 * whatever librdkafka's level: a producer's `GETPID` warning `Failed to acquire idempotence PID
 * from broker ...: Broker: Coordinator load in progress: retrying` (the broker is still loading
 * its transaction state after a start; librdkafka retries until it has loaded, which takes a
 * moment, and a producer that never gets its id fails its messages with an error of its own).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isStartUpNoise } from "./log.ts";
 *
 * const text = "Failed to acquire idempotence PID from broker 127.0.0.1:19092/1: " +
 *   "Broker: Coordinator load in progress: retrying";
 * assert.equal(isStartUpNoise("GETPID", text), true);
 * const refused = "Failed to acquire idempotence PID from broker 127.0.0.1:19092/1: " +
 *   "Broker: Cluster authorization failed";
 * assert.equal(isStartUpNoise("GETPID", refused), false);
 * ```
 *
 * @param facility librdkafka's facility.
 * @param text The line.
 * @returns Whether to log it at debug.
 */
export function isStartUpNoise(facility: string, text: string): boolean {
  return facility === "GETPID" && text.includes("Coordinator load in progress");
}

/**
 * The librdkafka `debug` contexts that make its own debug lines appear at a Ferry log level:
 * `debug` turns on the consumer-group, consumer and topic contexts for a consumer (broker and
 * topic for a producer), `trace` all of them; other levels none (librdkafka then logs only
 * notices, warnings and errors).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { librdkafkaDebugContexts } from "./log.ts";
 *
 * assert.equal(librdkafkaDebugContexts("debug"), "cgrp,consumer,topic");
 * assert.equal(librdkafkaDebugContexts("debug", "producer"), "broker,topic");
 * assert.equal(librdkafkaDebugContexts("info"), undefined);
 * ```
 *
 * @param level The Ferry (LogTape) log level.
 * @param role Which client the contexts are for; default `consumer`.
 * @returns The value for librdkafka's `debug` property, or undefined for none.
 */
export function librdkafkaDebugContexts(
  level: string,
  role: ClientRole = "consumer",
): string | undefined {
  if (level === "trace") return "all";
  if (level === "debug") return role === "consumer" ? "cgrp,consumer,topic" : "broker,topic";
  return undefined;
}

/**
 * Sets librdkafka's `debug` property to the {@linkcode librdkafkaDebugContexts} of a Ferry log
 * level, unless the configuration sets `debug` itself (then it is left as it is).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { setDebugContexts } from "./log.ts";
 *
 * const config: Record<string, string> = { "bootstrap.servers": "h:9092" };
 * setDebugContexts(config, "debug", "producer");
 * assert.equal(config.debug, "broker,topic");
 * const own: Record<string, string> = { debug: "fetch" };
 * setDebugContexts(own, "trace");
 * assert.equal(own.debug, "fetch");
 * ```
 *
 * @param config The configuration, changed in place.
 * @param level The Ferry (LogTape) log level.
 * @param role Which client the configuration is for; default `consumer`.
 */
export function setDebugContexts(
  config: KafkaConfig,
  level: string,
  role: ClientRole = "consumer",
): void {
  const contexts = librdkafkaDebugContexts(level, role);
  if (contexts !== undefined && config.debug === undefined) config.debug = contexts;
}
