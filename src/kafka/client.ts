/**
 * What the producer, consumer and admin client share: one `rd_kafka_t` handle, its
 * configuration, its log and error events, and an idempotent close.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { buildConf, type KafkaConfig, redact, secretValues } from "./config.ts";
import { errorBuffer, errorBufferText, type RdKafka, rdkafka, readCString } from "./ffi.ts";
import { ErrorCode, KafkaError, kafkaError } from "./errors.ts";
import { routeLogEvent } from "./log.ts";

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
} as const;

/** `rd_kafka_type_t` values. */
export const ClientType = { PRODUCER: 0, CONSUMER: 1 } as const;

/** Options every client takes besides its librdkafka configuration. */
export interface ClientOptions {
  /**
   * Called for errors librdkafka reports on its own (a broker going down, authentication
   * failing). Without it they are logged at warning level under `["ferry", "kafka"]`.
   */
  onError?: (error: KafkaError) => void;
}

const logger = getLogger(["ferry", "kafka"]);

/** The shared part of {@linkcode Producer}, {@linkcode Consumer} and {@linkcode Admin}. */
export abstract class KafkaClient implements AsyncDisposable {
  /** The librdkafka symbols. */
  protected readonly lib: RdKafka;
  /** The `rd_kafka_t` handle; valid until {@linkcode close} finishes. */
  protected readonly handle: Deno.PointerObject;
  /** Secret configuration values, redacted from every log line and error message. */
  protected readonly secrets: string[];
  /** The client's name from librdkafka, such as `rdkafka#producer-1`. */
  readonly clientName: string;
  readonly #onError: ((error: KafkaError) => void) | undefined;
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
    this.secrets = secretValues(config);
    this.#onError = options.onError;
    const conf = buildConf(config, events | EventType.LOG | EventType.ERROR);
    const errstr = errorBuffer();
    const handle = this.lib.rd_kafka_new(type, conf, errstr, BigInt(errstr.length));
    if (handle === null) {
      this.lib.rd_kafka_conf_destroy(conf);
      throw new KafkaError(
        ErrorCode.INVALID_ARG,
        "_INVALID_ARG",
        `Could not create the Kafka client: ${redact(errorBufferText(errstr), this.secrets)}`,
        { retriable: false },
      );
    }
    this.handle = handle;
    this.clientName = readCString(this.lib.rd_kafka_name(handle)) ?? "rdkafka";
    // NULL: log events go to the main queue, served by the subclass's poll loop.
    this.lib.rd_kafka_set_log_queue(handle, null);
  }

  /** Whether {@linkcode close} has been called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** The fatal error that made this client unusable, if one happened. */
  get fatalError(): KafkaError | undefined {
    return this.#fatal;
  }

  /** Throws if the client is closed or has had a fatal error. */
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
    return kafkaError(code, context, text && redact(text, this.secrets));
  }

  /** Reports an error librdkafka raised on its own: remembers fatal ones, tells the caller. */
  protected reportError(error: KafkaError): void {
    if (error.fatal && !this.#fatal) this.#fatal = error;
    if (this.#onError) this.#onError(error);
    else {
      logger.warn("{client}: {message}", { client: this.clientName, message: error.message });
    }
  }

  /** Destroys one event; events must not outlive the data read from them. */
  protected destroyEvent(event: Deno.PointerObject): void {
    this.lib.rd_kafka_event_destroy(event);
  }

  /**
   * Closes the client: the subclass's shutdown (flush, leave the group), then
   * `rd_kafka_destroy`. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.shutdown();
      } finally {
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
