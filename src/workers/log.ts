/**
 * Log records crossing from a worker to the coordinator: the worker sends the record itself
 * (category, level, message parts, properties, timestamp) and the coordinator emits it again
 * unchanged, so its text is never parsed as a message template a second time.
 *
 * @module
 */

import { getLogger, type LogRecord } from "@logtape/logtape";
import type { WorkerLog } from "./protocol.ts";

/**
 * A worker's log record as a message for the coordinator. With `clonable`, values that cannot
 * be posted (functions, class instances with methods, …) are replaced by their inspected text:
 * a message value merges into the text around it, a property becomes a string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { workerLog } from "./log.ts";
 *
 * const log = workerLog({
 *   category: ["ferry", "processor", "demo"],
 *   level: "info",
 *   message: ["Saw ", () => 1, " {x}"],
 *   rawMessage: "Saw {f} {x}",
 *   timestamp: 0,
 *   properties: { f: () => 1 },
 * }, true);
 * assert.deepEqual(log.message, ["Saw [Function (anonymous)] {x}"]);
 * assert.equal(log.properties.f, "[Function: f]");
 * ```
 *
 * @param record The record.
 * @param clonable Whether to replace the values `postMessage` cannot copy.
 * @returns The message.
 */
export function workerLog(record: LogRecord, clonable = false): WorkerLog {
  let message = [...record.message];
  let properties: Record<string, unknown> = { ...record.properties };
  if (clonable) {
    message = [String(message[0] ?? "")];
    for (let i = 1; i < record.message.length; i += 2) {
      const value = record.message[i];
      const after = String(record.message[i + 1] ?? "");
      if (canClone(value)) message.push(value, after);
      else message[message.length - 1] += inspect(value) + after;
    }
    properties = Object.fromEntries(
      Object.entries(properties).map(([key, value]) => [
        key,
        canClone(value) ? value : inspect(value),
      ]),
    );
  }
  return {
    type: "log",
    category: [...record.category],
    level: record.level,
    message,
    rawMessage: typeof record.rawMessage === "string" ? record.rawMessage : [...record.rawMessage],
    timestamp: record.timestamp,
    properties,
  };
}

/**
 * Whether `error`, thrown by `postMessage`, says the message could not be copied (then send it
 * again made {@linkcode workerLog}`(record, true)`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isCloneError } from "./log.ts";
 *
 * assert.ok(isCloneError(new DOMException("no", "DataCloneError")));
 * assert.ok(!isCloneError(new Error("no")));
 * ```
 *
 * @param error What was thrown.
 * @returns Whether it is a `DataCloneError`.
 */
export function isCloneError(error: unknown): boolean {
  return error instanceof DOMException && error.name === "DataCloneError";
}

/**
 * Emits a record forwarded by worker `worker` on the coordinator, as it was logged: same
 * category, level, timestamp, message and properties (plus `worker`, the worker's index,
 * unless the record has a property of that name).
 *
 * @example
 * ```ts ignore
 * import { emitWorkerLog } from "./log.ts";
 *
 * worker.onmessage = (event) => {
 *   if (event.data.type === "log") emitWorkerLog(event.data, 0);
 * };
 * ```
 *
 * @param log The forwarded record.
 * @param worker The worker's index.
 */
export function emitWorkerLog(log: WorkerLog, worker: number): void {
  const raw = log.rawMessage;
  getLogger(log.category).emit({
    level: log.level,
    timestamp: log.timestamp,
    message: log.message,
    rawMessage: typeof raw === "string"
      ? raw
      : Object.assign([...raw], { raw: [...raw] }) as unknown as TemplateStringsArray,
    properties: { worker, ...log.properties },
  });
}

function canClone(value: unknown): boolean {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) {
    return typeof value !== "symbol";
  }
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

function inspect(value: unknown): string {
  return Deno.inspect(value, { colors: false });
}
