/**
 * librdkafka's log lines, delivered as `RD_KAFKA_EVENT_LOG` events, routed to LogTape under
 * `["ferry", "rdkafka"]`. No callback ever runs on librdkafka's own threads.
 *
 * @module
 */

import { getLogger, type Logger } from "@logtape/logtape";
import { pointerCell, rdkafka, readCString } from "./ffi.ts";
import { redact } from "./config.ts";

const logger: Logger = getLogger(["ferry", "rdkafka"]);

/**
 * Forwards one log event to LogTape, with secrets redacted. Syslog levels map to LogTape's:
 * 0-3 error, 4 warning, 5-6 info, 7 debug.
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
  const properties = { client, facility: readCString(pointerCell(facility)) ?? "" };
  const syslogLevel = level[0];
  if (syslogLevel <= 3) logger.error("{client} {facility}: " + escapeBraces(message), properties);
  else if (syslogLevel === 4) {
    logger.warn("{client} {facility}: " + escapeBraces(message), properties);
  } else if (syslogLevel <= 6) {
    logger.info("{client} {facility}: " + escapeBraces(message), properties);
  } else logger.debug("{client} {facility}: " + escapeBraces(message), properties);
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
  role: "consumer" | "producer" = "consumer",
): string | undefined {
  if (level === "trace") return "all";
  if (level === "debug") return role === "consumer" ? "cgrp,consumer,topic" : "broker,topic";
  return undefined;
}

/** LogTape treats `{name}` as a placeholder: librdkafka's text is literal. */
function escapeBraces(text: string): string {
  return text.replaceAll("{", "{{").replaceAll("}", "}}");
}
