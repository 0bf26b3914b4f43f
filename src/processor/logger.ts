/**
 * The logger handed to processors' code (`context.logger`): LogTape underneath, but a message
 * prints as written. `{name}` is replaced only where a property `name` is given (and `{{name}}`
 * then prints `{name}`); any other text, braces included (`JSON.stringify` output, `{{`), is
 * kept. LogTape's own `logger.info(text)` takes every `{...}` for a placeholder and prints nothing
 * for it.
 *
 * @module
 */

import { getLogger, type Logger, type LogLevel } from "@logtape/logtape";
import type { ProcessorLogger } from "./definition.ts";

/**
 * The logger a processor's code gets: under `["ferry", "processor", <name>]`, its messages
 * printed as written (see {@linkcode literalLogger}).
 *
 * @example
 * ```ts
 * import { processorLogger } from "./logger.ts";
 *
 * const logger = processorLogger("checksum");
 * logger.info("Partition {p}: " + JSON.stringify({ temp: 21.5 }), { p: 3 });
 * // → Partition 3: {"temp":21.5}
 * ```
 *
 * @param name The processor's name.
 * @returns The logger.
 */
export function processorLogger(name: string): ProcessorLogger {
  return literalLogger(getLogger(["ferry", "processor", name]));
}

/**
 * Wraps a LogTape logger so that messages print as written: `{name}` is replaced by the
 * property `name` when `properties` has one (`{{name}}` then prints `{name}`), every other
 * character (other braces too) is kept.
 * Records keep the logger's category, the properties and the original message as `rawMessage`.
 *
 * @example
 * ```ts
 * import { getLogger } from "@logtape/logtape";
 * import { literalLogger } from "./logger.ts";
 *
 * literalLogger(getLogger(["ferry", "processor", "demo"])).warn("Odd value {x} in {}", { x: 1 });
 * ```
 *
 * @param logger The LogTape logger to log through.
 * @returns The processor logger.
 */
export function literalLogger(logger: Logger): ProcessorLogger {
  const at = (level: LogLevel) => (message: string, properties?: Record<string, unknown>) => {
    if (!logger.isEnabledFor(level)) return;
    const text = String(message);
    const values = properties ?? {};
    logger.emit({
      level,
      timestamp: Date.now(),
      rawMessage: text,
      message: messageParts(text, values),
      properties: values,
    });
  };
  const warn = at("warning");
  // The typed four, plus LogTape's other level names for scripts that used them untyped.
  const methods = {
    trace: at("trace"),
    debug: at("debug"),
    info: at("info"),
    warn,
    warning: warn,
    error: at("error"),
    fatal: at("fatal"),
  };
  return methods;
}

/**
 * Splits a message into LogTape's record form (text, value, text, …, text): each `{name}`
 * whose `name` is an own property of `properties` becomes that property's value, and
 * `{{name}}` the text `{name}`; everything else stays text, exactly as written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { messageParts } from "./logger.ts";
 *
 * assert.deepEqual(messageParts("Partition {p} of {t}", { p: 3 }), ["Partition ", 3, " of {t}"]);
 * assert.deepEqual(messageParts('{"a":{"p":1}}', { p: 2 }), ['{"a":{"p":1}}']);
 * assert.deepEqual(messageParts("{{p}} {{q}}", { p: 2 }), ["{p} {{q}}"]);
 * ```
 *
 * @param message The message as written.
 * @param properties The properties that may fill placeholders.
 * @returns The parts, an odd number of them, text first and last.
 */
export function messageParts(message: string, properties: Record<string, unknown>): unknown[] {
  const parts: unknown[] = [];
  let text = "";
  let i = 0;
  while (i < message.length) {
    const open = message.indexOf("{", i);
    if (open < 0) break;
    const close = message.indexOf("}", open + 1);
    if (close < 0) break;
    if (message[open + 1] === "{" && message[close + 1] === "}") {
      // `{{name}}` for a given property: the escape that prints `{name}` itself.
      const name = message.slice(open + 2, close);
      if (!name.includes("{") && Object.hasOwn(properties, name.trim())) {
        text += message.slice(i, open) + `{${name}}`;
        i = close + 2;
        continue;
      }
    }
    // `{ name }` as LogTape allows; a key with a brace inside (`{"a":{"p":1}}`) is none.
    const key = message.slice(open + 1, close).trim();
    if (!key.includes("{") && Object.hasOwn(properties, key)) {
      parts.push(text + message.slice(i, open), properties[key]);
      text = "";
      i = close + 1;
    } else {
      text += message.slice(i, open + 1);
      i = open + 1;
    }
  }
  parts.push(text + message.slice(i));
  return parts;
}
