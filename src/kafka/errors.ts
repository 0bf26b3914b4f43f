/**
 * Typed errors for librdkafka's `rd_kafka_resp_err_t` codes and `rd_kafka_error_t` objects.
 *
 * @module
 */

import { rdkafka, readCString } from "./ffi.ts";

/**
 * The librdkafka error codes Ferry looks at by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode, KafkaError } from "../../mod.ts";
 *
 * const error = new KafkaError(ErrorCode.TIMED_OUT, "_TIMED_OUT", "Commit failed: timed out.");
 * assert.equal(error.code === ErrorCode.TIMED_OUT, true);
 * ```
 */
export const ErrorCode = {
  NO_ERROR: 0,
  BAD_MSG: -199,
  DESTROY: -197,
  FAIL: -196,
  TRANSPORT: -195,
  RESOLVE: -193,
  MSG_TIMED_OUT: -192,
  PARTITION_EOF: -191,
  UNKNOWN_PARTITION: -190,
  UNKNOWN_TOPIC: -188,
  ALL_BROKERS_DOWN: -187,
  INVALID_ARG: -186,
  TIMED_OUT: -185,
  QUEUE_FULL: -184,
  WAIT_COORD: -180,
  ASSIGN_PARTITIONS: -175,
  REVOKE_PARTITIONS: -174,
  STATE: -172,
  AUTHENTICATION: -169,
  NO_OFFSET: -168,
  TIMED_OUT_QUEUE: -166,
  WAIT_CACHE: -164,
  RETRY: -153,
  FATAL: -150,
  MAX_POLL_EXCEEDED: -147,
  ASSIGNMENT_LOST: -142,
  FENCED: -144,
  UNKNOWN_TOPIC_OR_PART: 3,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_FOR_PARTITION: 6,
  REQUEST_TIMED_OUT: 7,
  MSG_SIZE_TOO_LARGE: 10,
  NETWORK_EXCEPTION: 13,
  COORDINATOR_LOAD_IN_PROGRESS: 14,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  NOT_ENOUGH_REPLICAS: 19,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 20,
  ILLEGAL_GENERATION: 22,
  UNKNOWN_MEMBER_ID: 25,
  REBALANCE_IN_PROGRESS: 27,
  TOPIC_AUTHORIZATION_FAILED: 29,
  GROUP_AUTHORIZATION_FAILED: 30,
  CLUSTER_AUTHORIZATION_FAILED: 31,
  TOPIC_ALREADY_EXISTS: 36,
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 53,
  SASL_AUTHENTICATION_FAILED: 58,
  INVALID_PRODUCER_EPOCH: 47,
  FENCED_INSTANCE_ID: 82,
  PRODUCER_FENCED: 90,
  STALE_MEMBER_EPOCH: 113,
} as const;

/**
 * Codes that say this consumer is no longer the group member that owned its partitions: its
 * generation is over (a rebalance went on without it), its member id expired, another process
 * took its static identity, or it left the group for exceeding `max.poll.interval.ms`; or, for
 * a transactional producer, that a newer producer with the same `transactional.id` started.
 */
const FENCING = new Set<number>([
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.UNKNOWN_MEMBER_ID,
  ErrorCode.FENCED_INSTANCE_ID,
  ErrorCode.STALE_MEMBER_EPOCH,
  ErrorCode.ASSIGNMENT_LOST,
  ErrorCode.MAX_POLL_EXCEEDED,
  ErrorCode.FENCED,
  ErrorCode.INVALID_PRODUCER_EPOCH,
  ErrorCode.PRODUCER_FENCED,
]);

/**
 * Whether `error` says the consumer's partitions are no longer its own (see `FENCING`), so a
 * retry of a commit can never succeed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode, isFencingError, KafkaError } from "./errors.ts";
 * const error = new KafkaError(ErrorCode.ILLEGAL_GENERATION, "ILLEGAL_GENERATION", "Commit failed.");
 * assert.ok(isFencingError(error));
 * assert.ok(!isFencingError(new Error("Something else failed.")));
 * ```
 */
export function isFencingError(error: unknown): boolean {
  return error instanceof KafkaError && FENCING.has(error.code);
}

/** Codes that a later attempt of the same operation may succeed on. */
const RETRIABLE = new Set<number>([
  ErrorCode.TRANSPORT,
  ErrorCode.RESOLVE,
  ErrorCode.MSG_TIMED_OUT,
  ErrorCode.ALL_BROKERS_DOWN,
  ErrorCode.TIMED_OUT,
  ErrorCode.QUEUE_FULL,
  ErrorCode.WAIT_COORD,
  ErrorCode.TIMED_OUT_QUEUE,
  ErrorCode.WAIT_CACHE,
  ErrorCode.RETRY,
  ErrorCode.UNKNOWN_TOPIC_OR_PART,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_LEADER_FOR_PARTITION,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.NOT_ENOUGH_REPLICAS,
  ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
  ErrorCode.REBALANCE_IN_PROGRESS,
]);

/** Options for {@linkcode KafkaError}. */
export interface KafkaErrorOptions {
  /** Whether retrying may succeed; defaults to what is known of the code. */
  retriable?: boolean;
  /** Whether the client instance is unusable from now on. */
  fatal?: boolean;
  /** Whether the current transaction must be aborted (a transactional producer's error). */
  abortable?: boolean;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * An error reported by librdkafka or the Kafka broker.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode, KafkaError } from "./errors.ts";
 * const error = new KafkaError(ErrorCode.TIMED_OUT, "_TIMED_OUT", "Commit failed: timed out.");
 * assert.ok(error.retriable && !error.fatal);
 * ```
 */
export class KafkaError extends Error {
  /** The `rd_kafka_resp_err_t` code (negative: local to librdkafka; positive: from the broker). */
  readonly code: number;
  /** The code's symbolic name from `rd_kafka_err2name`, such as `"_TRANSPORT"`. */
  readonly codeName: string;
  /** Whether retrying the same operation may succeed. */
  readonly retriable: boolean;
  /** Whether the client instance is unusable from now on. */
  readonly fatal: boolean;
  /**
   * Whether the current transaction must be aborted before the producer can go on (librdkafka's
   * `rd_kafka_error_txn_requires_abort`); false for every error outside transactions.
   */
  readonly abortable: boolean;

  /** Creates the error; prefer {@linkcode kafkaError} which fills in the name and text. */
  constructor(code: number, codeName: string, message: string, options: KafkaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KafkaError";
    this.code = code;
    this.codeName = codeName;
    this.retriable = options.retriable ?? RETRIABLE.has(code);
    this.fatal = options.fatal ?? code === ErrorCode.FATAL;
    this.abortable = options.abortable ?? false;
  }
}

/** librdkafka's symbolic name for an error code, such as `"_TRANSPORT"`. */
export function errorName(code: number): string {
  return readCString(rdkafka().rd_kafka_err2name(code)) ?? `ERROR_${code}`;
}

/** librdkafka's description of an error code, such as `"Local: Broker transport failure"`. */
export function errorDescription(code: number): string {
  return readCString(rdkafka().rd_kafka_err2str(code)) ?? `error ${code}`;
}

/**
 * Ends an error message with a period unless it ends with one (or `!`, `?`) already: messages
 * that end with a text from librdkafka or from another error still end as every other message
 * of the binding does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sentence } from "./errors.ts";
 *
 * assert.equal(sentence('Topic "t" cannot be created: Invalid topic name'),
 *   'Topic "t" cannot be created: Invalid topic name.');
 * assert.equal(sentence("Already done."), "Already done.");
 * ```
 *
 * @internal
 */
export function sentence(message: string): string {
  return /[.!?]$/.test(message) ? message : `${message}.`;
}

/**
 * Turns an `rd_kafka_resp_err_t` into a {@linkcode KafkaError}.
 *
 * @param code the error code.
 * @param context what was being done, in sentence case, such as `"Commit failed"`.
 * @param detail a more specific text than the code's description, when librdkafka gave one.
 */
export function kafkaError(
  code: number,
  context: string,
  detail?: string,
  options: KafkaErrorOptions = {},
): KafkaError {
  const name = errorName(code);
  const text = detail && detail.length > 0 ? detail : errorDescription(code);
  return new KafkaError(code, name, `${context}: ${text} (${name}).`, options);
}

/**
 * Turns an `rd_kafka_error_t *` into a {@linkcode KafkaError} and destroys it.
 * Returns `undefined` for a null pointer (success).
 */
export function takeErrorObject(
  pointer: Deno.PointerValue,
  context: string,
): KafkaError | undefined {
  if (pointer === null) return undefined;
  const lib = rdkafka();
  try {
    return kafkaError(
      lib.rd_kafka_error_code(pointer),
      context,
      readCString(lib.rd_kafka_error_string(pointer)),
      {
        retriable: lib.rd_kafka_error_is_retriable(pointer) !== 0,
        fatal: lib.rd_kafka_error_is_fatal(pointer) !== 0,
        abortable: lib.rd_kafka_error_txn_requires_abort(pointer) !== 0,
      },
    );
  } finally {
    lib.rd_kafka_error_destroy(pointer);
  }
}

/** Throws a {@linkcode KafkaError} unless `code` is zero. */
export function check(code: number, context: string): void {
  if (code !== ErrorCode.NO_ERROR) throw kafkaError(code, context);
}
