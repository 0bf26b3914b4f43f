/**
 * What the producer, consumer and admin client share: one `rd_kafka_t` handle, its
 * configuration, its log and error events, terminal errors (fatal errors and authentication
 * failures), blocking calls that give way to those errors, and an idempotent close.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { bootstrapServers, buildConf, type KafkaConfig, redact, secretValues } from "./config.ts";
import {
  announceLibrary,
  cString,
  errorBuffer,
  errorBufferText,
  type RdKafka,
  rdkafka,
  readCString,
} from "./ffi.ts";
import { ErrorCode, errorName, KafkaError, kafkaError, sentence } from "./errors.ts";
import { authorizationMessage, isAuthorizationFailure } from "./authorization.ts";
import {
  diagnoseBrokerCertificate,
  type TlsFailure,
  tlsFailure,
  tlsFailureMessage,
  tlsFileMessage,
} from "./tls.ts";
import { routeLogEvent } from "./log.ts";
import {
  ADMIN_OP_DESCRIBECONSUMERGROUPS,
  type ConsumerGroupDescription,
  readGroupDescription,
} from "./groups.ts";

/** `rd_kafka_event_type_t` values. */
export const EventType = {
  NONE: 0x0,
  DR: 0x1,
  FETCH: 0x2,
  LOG: 0x4,
  ERROR: 0x8,
  REBALANCE: 0x10,
  OFFSET_COMMIT: 0x20,
  CREATETOPICS_RESULT: 100,
  DELETETOPICS_RESULT: 101,
  DESCRIBECONSUMERGROUPS_RESULT: 0x4000,
} as const;

/** `rd_kafka_type_t` values. */
export const ClientType = { PRODUCER: 0, CONSUMER: 1 } as const;

/** Options every client takes besides its librdkafka configuration. */
export interface ClientOptions {
  /**
   * Called for errors librdkafka reports on its own (a broker going down, authentication
   * failing). Without it they are logged at warning level under `["ferry", "kafka"]`.
   * An authentication failure is reported once, with `fatal` set: the client is unusable
   * from then on.
   */
  onError?: (error: KafkaError) => void;
}

const logger = getLogger(["ferry", "kafka"]);

/** How long one wait on a queue lasts in {@linkcode KafkaClient.serveWhile}. */
const SERVE_WAIT_MS = 100;

/**
 * Whether an error code means the broker refused the client's credentials. librdkafka reports
 * that as an ERROR event and keeps reconnecting (and failing) in the background, while a
 * blocking call waits for a usable broker until its timeout.
 */
function isAuthenticationFailure(code: number): boolean {
  return code === ErrorCode.AUTHENTICATION || code === ErrorCode.SASL_AUTHENTICATION_FAILED;
}

/**
 * The start of an authentication error message: the address and who tried to log in, such as
 * `Authentication failed with the Kafka broker at "127.0.0.1:19094" (SASL_PLAINTEXT, mechanism
 * PLAIN, user "ferry")`. Never the password: the caller redacts the secrets from it.
 */
function authenticationContext(config: KafkaConfig, bootstrap: string): string {
  const details = [String(config["security.protocol"] ?? "plaintext").toUpperCase()];
  const mechanism = config["sasl.mechanisms"] ?? config["sasl.mechanism"];
  if (mechanism !== undefined) details.push(`mechanism ${mechanism}`);
  const username = config["sasl.username"];
  if (username !== undefined) details.push(`user "${username}"`);
  return `Authentication failed with the Kafka broker at "${bootstrap}" (${details.join(", ")})`;
}

/** The properties TLS error messages name: the protocol and the files (never a password). */
const TLS_CONTEXT = [
  "security.protocol",
  "ssl.ca.location",
  "ssl.certificate.location",
  "ssl.key.location",
];

/** The properties authorization error messages name: who the principal is, group, transactions. */
const AUTHORIZATION_CONTEXT = [
  "sasl.username",
  "ssl.certificate.location",
  "group.id",
  "transactional.id",
];

/**
 * The shared part of {@linkcode Producer}, {@linkcode Consumer} and {@linkcode Admin}: the
 * librdkafka handle, its log and error events, and `close` (also through `await using`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Consumer, KafkaClient, Producer } from "../../mod.ts";
 *
 * assert.ok(Producer.prototype instanceof KafkaClient);
 * assert.ok(Consumer.prototype instanceof KafkaClient);
 * ```
 */
export abstract class KafkaClient implements AsyncDisposable {
  /**
   * The librdkafka symbols.
   *
   * @internal
   */
  protected readonly lib: RdKafka;
  /** The `rd_kafka_t` handle; valid until {@linkcode close} finishes. */
  protected readonly handle: Deno.PointerObject;
  /** Secret configuration values, redacted from every log line and error message. */
  protected readonly secrets: string[];
  /** The client's name from librdkafka, such as `rdkafka#producer-1`. */
  readonly clientName: string;
  /** `bootstrap.servers` as configured (secrets redacted), for error messages. */
  protected readonly bootstrap: string;
  readonly #authContext: string;
  /** What TLS error messages name (see `TLS_CONTEXT`). */
  readonly #tls: KafkaConfig;
  /** Set once a TLS failure is being explained (see `reportError`): later ones are dropped. */
  #tlsFailing = false;
  /** What authorization error messages name (see `AUTHORIZATION_CONTEXT`). */
  readonly #authz: KafkaConfig;
  /** What the client does, for authorization error messages: reads or writes. */
  readonly #role: "producer" | "consumer";
  /** librdkafka's text of the first TLS failure, for the message that explains it. */
  #tlsDetail: string | undefined;
  readonly #onError: ((error: KafkaError) => void) | undefined;
  /** Calls into librdkafka still running on Deno's FFI threads; close waits for them. */
  readonly #running = new Set<Promise<unknown>>();
  #fatal: KafkaError | undefined;
  #closing: Promise<void> | undefined;

  /** Creates the handle. */
  protected constructor(
    type: number,
    config: KafkaConfig,
    events: number,
    options: ClientOptions,
  ) {
    this.lib = rdkafka();
    announceLibrary();
    this.secrets = secretValues(config);
    this.#onError = options.onError;
    this.bootstrap = redact(bootstrapServers(config) ?? "", this.secrets);
    this.#authContext = redact(authenticationContext(config, this.bootstrap), this.secrets);
    this.#tls = Object.fromEntries(
      Object.entries(config).filter(([name]) => TLS_CONTEXT.includes(name)),
    );
    this.#authz = Object.fromEntries(
      Object.entries(config).filter(([name]) => AUTHORIZATION_CONTEXT.includes(name)),
    );
    this.#role = type === ClientType.CONSUMER ? "consumer" : "producer";
    const conf = buildConf(config, events | EventType.LOG | EventType.ERROR);
    const errstr = errorBuffer();
    const handle = this.lib.rd_kafka_new(type, conf, errstr, BigInt(errstr.length));
    if (handle === null) {
      this.lib.rd_kafka_conf_destroy(conf);
      const text = redact(errorBufferText(errstr), this.secrets);
      const tls = tlsFileMessage(text, this.#tls);
      throw new KafkaError(
        ErrorCode.INVALID_ARG,
        "_INVALID_ARG",
        sentence(redact(tls ?? `Could not create the Kafka client: ${text}`, this.secrets)),
        { retriable: false },
      );
    }
    this.handle = handle;
    // client.id is part of the name: redacted too, since it is on every log record.
    this.clientName = redact(
      readCString(this.lib.rd_kafka_name(handle)) ?? "rdkafka",
      this.secrets,
    );
    // NULL: log events go to the main queue, served by the subclass's poll loop.
    this.lib.rd_kafka_set_log_queue(handle, null);
  }

  /** Whether {@linkcode close} has been called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * The error that made this client unusable, if one happened: a fatal librdkafka error, or an
   * authentication failure (code `_AUTHENTICATION`, `fatal` set).
   */
  get fatalError(): KafkaError | undefined {
    return this.#fatal;
  }

  /** Throws if the client is closed or has had a fatal error or an authentication failure. */
  protected assertUsable(): void {
    if (this.#closing) throw new Error(`The Kafka client "${this.clientName}" is closed.`);
    if (this.#fatal) throw this.#fatal;
  }

  /**
   * Handles the event types every client shares (log lines and errors).
   * Returns false for other types, which the caller handles.
   */
  protected handleCommonEvent(event: Deno.PointerObject, type: number): boolean {
    if (type === EventType.LOG) {
      routeLogEvent(event, this.clientName, this.secrets);
      return true;
    }
    if (type === EventType.ERROR) {
      this.reportError(this.errorFromEvent(event));
      return true;
    }
    return false;
  }

  /** Builds a {@linkcode KafkaError} from an error event. */
  protected errorFromEvent(event: Deno.PointerObject, context = "Kafka client error"): KafkaError {
    const code = this.lib.rd_kafka_event_error(event);
    const fatal = this.lib.rd_kafka_event_error_is_fatal(event) !== 0;
    if (fatal) {
      const errstr = errorBuffer();
      const fatalCode = this.lib.rd_kafka_fatal_error(this.handle, errstr, BigInt(errstr.length));
      return kafkaError(
        fatalCode || code,
        "Fatal Kafka client error",
        redact(errorBufferText(errstr), this.secrets),
        { fatal: true, retriable: false },
      );
    }
    const text = readCString(this.lib.rd_kafka_event_error_string(event));
    const detail = text && redact(text, this.secrets);
    if (isAuthenticationFailure(code)) {
      // Terminal here, though librdkafka would retry: the same credentials fail again, and a
      // caller waiting out a timeout learns nothing. Java's client does the same.
      return kafkaError(code, this.#authContext, detail, { fatal: true, retriable: false });
    }
    const tls = detail ? tlsFailure(detail) : undefined;
    // Terminal too: librdkafka retries a certificate the broker or the client rejects for ever.
    if (tls !== undefined) {
      this.#tlsDetail ??= detail;
      return this.#tlsError(tls, code, detail);
    }
    return kafkaError(code, context, detail);
  }

  #tlsError(kind: TlsFailure, code: number, detail?: string, reason?: string): KafkaError {
    const context = redact(
      tlsFailureMessage(kind, this.#tls, this.bootstrap, reason),
      this.secrets,
    );
    return kafkaError(code, context, detail, { fatal: true, retriable: false });
  }

  /**
   * Reports an error librdkafka raised on its own: remembers fatal ones (and authentication
   * failures) as terminal, tells the caller.
   */
  protected reportError(error: KafkaError, explained = false): void {
    if (isAuthorizationFailure(error.code)) {
      // librdkafka retries (and reports again) for ever: the same request fails until someone
      // grants the ACL. Reported once, terminal.
      if (this.#fatal) return;
      if (!error.fatal) error = this.authorizationError(error.code, error.message);
    }
    const tls = tlsFailure(error.message);
    if (error.fatal && tls !== undefined) {
      // Repeated on every reconnect: reported once. A certificate that fails verification is
      // checked once more, by Deno's TLS (when allowed), which says why; a few milliseconds.
      if (!explained && (this.#tlsFailing || this.#fatal)) return;
      this.#tlsFailing = true;
      if (tls === "broker-certificate" && !explained) {
        diagnoseBrokerCertificate(this.#tls, this.bootstrap).then((reason) => {
          this.reportError(
            reason === undefined ? error : this.#tlsError(tls, error.code, this.#tlsDetail, reason),
            true,
          );
        }).catch((failure) => {
          // Only the caller's onError can throw here; its error must not vanish.
          logger.error("{client}: handling a TLS failure failed: {failure}", {
            client: this.clientName,
            failure: failure instanceof Error ? failure.message : String(failure),
          });
        });
        return;
      }
    }
    if (error.fatal) {
      // librdkafka repeats an authentication failure on every reconnect: report it once.
      if (this.#fatal && isAuthenticationFailure(error.code)) return;
      this.#fatal ??= error;
    }
    if (this.#onError) this.#onError(error);
    else {
      logger.warn("{client}: {message}", { client: this.clientName, message: error.message });
    }
  }

  /**
   * An authorization failure (see `authorization.ts`) as a terminal error whose message names
   * the missing permission, then `text` (what failed, from librdkafka). `role` says which
   * permission a topic needs: by default Read for a consumer, Write for a producer.
   */
  protected authorizationError(
    code: number,
    text: string,
    topic?: string,
    role: "producer" | "consumer" | "metadata" = this.#role,
  ): KafkaError {
    const context = redact(
      authorizationMessage(code, role, this.#authz, topic),
      this.secrets,
    );
    return new KafkaError(code, errorName(code), sentence(`${context}: ${text}`), {
      fatal: true,
      retriable: false,
    });
  }

  /** Destroys one event; events must not outlive the data read from them. */
  protected destroyEvent(event: Deno.PointerObject): void {
    this.lib.rd_kafka_event_destroy(event);
  }

  /**
   * Registers a call into librdkafka that runs on Deno's FFI thread pool (a `nonblocking`
   * symbol), or a loop that makes such calls, so that {@linkcode close} waits for it before
   * destroying the handle. Returns the same promise.
   */
  protected track<T>(running: Promise<T>): Promise<T> {
    this.#running.add(running);
    const forget = () => {
      this.#running.delete(running);
    };
    running.then(forget, forget);
    return running;
  }

  /** Waits until every {@linkcode track}ed call has returned. */
  protected async settle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  /**
   * Waits for a blocking librdkafka call (a `nonblocking` symbol: it runs on Deno's FFI thread
   * pool) while serving `queue` in short waits, so that an authentication failure or a fatal
   * error reported meanwhile rejects at once instead of when the call gives up. The call itself
   * cannot be interrupted: it keeps its thread until it returns, and {@linkcode close} waits for
   * it. `handle` takes each event (and destroys it); by default log and error events are
   * handled and anything else is dropped.
   *
   * @throws {KafkaError} the client's {@linkcode fatalError} as soon as there is one.
   */
  protected serveWhile<T>(
    call: Promise<T>,
    queue: Deno.PointerObject,
    handle: (event: Deno.PointerObject) => void = (event) => this.#handleCommonOwned(event),
  ): Promise<T> {
    let settled = false;
    let serving = true;
    const done = this.track(call).finally(() => {
      settled = true;
      // Ends the wait below at once. A yield nobody is waiting for makes one later poll of the
      // queue return empty, which every loop here tolerates.
      if (serving) this.lib.rd_kafka_queue_yield(queue);
    });
    done.catch(() => {}); // Awaited below, unless a terminal error came first.
    return this.track((async () => {
      try {
        while (!settled) {
          for (
            let event = await this.lib.rd_kafka_queue_poll_wait(queue, SERVE_WAIT_MS);
            event !== null;
            event = this.lib.rd_kafka_queue_poll(queue, 0)
          ) {
            handle(event);
          }
          if (this.#fatal) throw this.#fatal;
        }
      } finally {
        serving = false;
      }
      return await done;
    })());
  }

  /**
   * Describes one consumer group (state, members, their assignments) with librdkafka's
   * DescribeConsumerGroups admin call, made on this client's handle (any client type may make
   * admin calls); the result comes back on a queue of its own. `between` runs after each wait
   * that brought nothing (an admin client serves its main queue there).
   *
   * @throws {KafkaError} when the coordinator cannot describe the group or does not answer
   *   within `timeoutMs`; the client's {@linkcode fatalError} as soon as there is one.
   */
  protected describeGroupRequest(
    group: string,
    timeoutMs: number,
    between: () => void = () => {},
  ): Promise<ConsumerGroupDescription> {
    try {
      this.assertUsable();
    } catch (error) {
      return Promise.reject(error);
    }
    // Tracked as a whole: close waits until the request's queue is released.
    return this.track(this.#describeGroup(group, timeoutMs, between));
  }

  async #describeGroup(
    group: string,
    timeoutMs: number,
    between: () => void,
  ): Promise<ConsumerGroupDescription> {
    const options = this.lib.rd_kafka_AdminOptions_new(
      this.handle,
      ADMIN_OP_DESCRIBECONSUMERGROUPS,
    );
    const queue = this.lib.rd_kafka_queue_new(this.handle);
    if (options === null || queue === null) {
      if (options !== null) this.lib.rd_kafka_AdminOptions_destroy(options);
      if (queue !== null) this.lib.rd_kafka_queue_destroy(queue);
      throw new Error("librdkafka could not allocate.");
    }
    try {
      const errstr = errorBuffer();
      this.lib.rd_kafka_AdminOptions_set_request_timeout(
        options,
        timeoutMs,
        errstr,
        BigInt(errstr.length),
      );
      // const char *groups[1]: librdkafka copies the names before returning.
      const name = cString(group);
      const groups = new BigUint64Array([Deno.UnsafePointer.value(Deno.UnsafePointer.of(name))]);
      this.lib.rd_kafka_DescribeConsumerGroups(
        this.handle,
        new Uint8Array(groups.buffer),
        1n,
        options,
        queue,
      );
      return await this.awaitAdminResult(
        queue,
        EventType.DESCRIBECONSUMERGROUPS_RESULT,
        timeoutMs,
        `Describing consumer group "${group}" failed`,
        between,
        (event) => {
          const result = this.lib.rd_kafka_event_DescribeConsumerGroups_result(event);
          if (result === null) throw new Error("librdkafka returned no group description.");
          const description = readGroupDescription(this.lib, result);
          if ("code" in description) {
            throw kafkaError(
              description.code,
              `Describing consumer group "${group}" failed`,
              description.message,
            );
          }
          return description;
        },
      );
    } finally {
      this.lib.rd_kafka_AdminOptions_destroy(options);
      this.lib.rd_kafka_queue_destroy(queue);
    }
  }

  /**
   * Waits on `queue` for the result event of an admin request (type `resultType`) and reads it
   * with `read`; other events are handled as usual. `between` runs after each wait that
   * brought nothing.
   *
   * @throws {KafkaError} the request's error (`context` names it), a time-out after `timeoutMs`
   *   (plus 5 s), the client's {@linkcode fatalError} as soon as there is one.
   */
  protected async awaitAdminResult<T>(
    queue: Deno.PointerObject,
    resultType: number,
    timeoutMs: number,
    context: string,
    between: () => void,
    read: (event: Deno.PointerObject) => T,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs + 5_000;
    for (;;) {
      const event = await this.lib.rd_kafka_queue_poll_wait(queue, 100);
      if (event === null) {
        between();
        // An authentication failure arrives on the main queue; the request would time out.
        if (this.#fatal) throw this.#fatal;
        if (this.#closing) throw new Error(`The Kafka client "${this.clientName}" is closed.`);
        if (Date.now() > deadline) {
          throw kafkaError(ErrorCode.TIMED_OUT, `No answer from "${this.bootstrap}"`);
        }
        continue;
      }
      try {
        const type = this.lib.rd_kafka_event_type(event);
        if (type !== resultType) {
          this.handleCommonEvent(event, type);
          continue;
        }
        const code = this.lib.rd_kafka_event_error(event);
        if (code !== ErrorCode.NO_ERROR) {
          throw kafkaError(code, context, readCString(this.lib.rd_kafka_event_error_string(event)));
        }
        return read(event);
      } finally {
        this.destroyEvent(event);
      }
    }
  }

  #handleCommonOwned(event: Deno.PointerObject): void {
    try {
      this.handleCommonEvent(event, this.lib.rd_kafka_event_type(event));
    } finally {
      this.destroyEvent(event);
    }
  }

  /**
   * Closes the client: the subclass's shutdown (flush, leave the group), then waits for any
   * call still running on Deno's FFI threads, then `rd_kafka_destroy`. Calling it again returns
   * the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.shutdown();
      } finally {
        // Destroying the handle under a running call would be a use after free.
        await this.settle();
        await this.lib.rd_kafka_destroy(this.handle);
      }
    })();
    return this.#closing;
  }

  /** The subclass's part of {@linkcode close}, run once before the handle is destroyed. */
  protected abstract shutdown(): Promise<void>;

  /** Closes the client. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
