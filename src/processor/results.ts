/**
 * Results that processors produce ({@linkcode ProcessorResult}): checked and turned into
 * bytes in the worker (the form they cross to the coordinator in), stored in the registry
 * (base64), and made into messages for the output topic with the headers naming their source.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { KafkaHeader, ProducerMessage } from "../kafka/mod.ts";
import type { ProcessorResult } from "./definition.ts";

/** A result as it crosses from a worker to the coordinator: bytes only. */
export interface WireResult {
  /** The value. */
  value: Uint8Array;
  /** The key, when one was given. */
  key?: Uint8Array;
  /** The processor's own headers, in order. */
  headers?: [string, string][];
}

/** A result as the registry keeps it (JSON: bytes as base64). */
export interface StoredResult {
  /** The value, base64. */
  value: string;
  /** The key, base64. */
  key?: string;
  /** The processor's own headers. */
  headers?: [string, string][];
}

/** The header naming the source file's relative path. */
export const SOURCE_PATH_HEADER = "ferry-source-path";
/** The header naming the source file's SHA-512 (hex). */
export const SOURCE_SHA512_HEADER = "ferry-source-sha512";
/** The header naming the topic the source came from. */
export const SOURCE_TOPIC_HEADER = "ferry-source-topic";
/** The header naming the partition of the first source record (record processors). */
export const SOURCE_PARTITION_HEADER = "ferry-source-partition";
/** The header naming the offset of the first source record (record processors). */
export const SOURCE_OFFSET_HEADER = "ferry-source-offset";

const encoder = new TextEncoder();

function bytes(value: unknown, what: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return encoder.encode(value);
  throw new TypeError(
    `A result's ${what} must be a Uint8Array or a string, not ${
      value === null ? "null" : typeof value
    }.`,
  );
}

function isResult(value: unknown): value is ProcessorResult {
  return typeof value === "object" && value !== null && "value" in value;
}

/**
 * The results in what `process` (or `processRecords`) returned: none for `undefined`, one or
 * many for a result or an array of them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wireResults } from "./results.ts";
 *
 * assert.deepEqual(wireResults(undefined), []);
 * const [one] = wireResults({ key: "a", value: "{}", headers: { kind: "summary" } });
 * assert.deepEqual([...one.value], [123, 125]);
 * assert.deepEqual(one.headers, [["kind", "summary"]]);
 * assert.throws(() => wireResults(42), /must return/);
 * ```
 *
 * @throws {TypeError} naming what is wrong, for anything else.
 */
export function wireResults(returned: unknown): WireResult[] {
  if (returned === undefined || returned === null) return [];
  const list: unknown[] = Array.isArray(returned) ? returned : [returned];
  return list.map((item) => {
    if (!isResult(item)) {
      throw new TypeError(
        "A processor must return nothing, an Error, or results ({ value, key?, headers? } or " +
          `an array of them); it returned ${JSON.stringify(item)?.slice(0, 80) ?? typeof item}.`,
      );
    }
    const out: WireResult = { value: bytes(item.value, "value") };
    if (item.key !== undefined) out.key = bytes(item.key, "key");
    if (item.headers !== undefined) {
      out.headers = Object.entries(item.headers).map(([k, v]) => [k, String(v)]);
    }
    return out;
  });
}

/** A result for the registry (base64). */
export function storeResult(result: WireResult): StoredResult {
  const out: StoredResult = { value: Buffer.from(result.value).toString("base64") };
  if (result.key !== undefined) out.key = Buffer.from(result.key).toString("base64");
  if (result.headers !== undefined) out.headers = result.headers;
  return out;
}

/** A result read back from the registry. */
export function loadResult(stored: StoredResult): WireResult {
  const out: WireResult = { value: new Uint8Array(Buffer.from(stored.value, "base64")) };
  if (stored.key !== undefined) out.key = new Uint8Array(Buffer.from(stored.key, "base64"));
  if (stored.headers !== undefined) out.headers = stored.headers;
  return out;
}

/**
 * The message for `result` on `topic`: its own headers, then `source` (Ferry's headers naming
 * where it came from).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resultMessage, SOURCE_PATH_HEADER } from "./results.ts";
 *
 * const message = resultMessage({ value: new Uint8Array([1]) }, "out", {
 *   [SOURCE_PATH_HEADER]: "run1/a.csv",
 * });
 * assert.equal(message.topic, "out");
 * assert.equal(message.headers?.[0].key, "ferry-source-path");
 * ```
 */
export function resultMessage(
  result: WireResult,
  topic: string,
  source: Record<string, string>,
): ProducerMessage {
  const headers: KafkaHeader[] = [];
  for (const [key, value] of result.headers ?? []) {
    headers.push({ key, value: encoder.encode(value) });
  }
  for (const [key, value] of Object.entries(source)) {
    headers.push({ key, value: encoder.encode(value) });
  }
  return { topic, value: result.value, key: result.key ?? null, headers };
}
