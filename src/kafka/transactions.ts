/**
 * The transactional producer: messages and a consumer group's offsets committed together, or
 * not at all (librdkafka's `init_transactions`, `begin_transaction`,
 * `send_offsets_to_transaction`, `commit_transaction`, `abort_transaction`). Every call that
 * waits for the transaction coordinator runs on Deno's FFI thread pool (`nonblocking`), so the
 * event loop, and the delivery reports the commit waits for, go on meanwhile.
 *
 * Errors are {@linkcode KafkaError}s from the one mapping in `errors.ts`: `retriable` (the same
 * call may be made again), `abortable` (abort the transaction, then go on), `fatal` (the
 * producer is unusable); a newer producer with the same `transactional.id` makes the fatal
 * error a fencing one ({@linkcode isFencingError}).
 *
 * @module
 */

import type { KafkaConfig } from "./config.ts";
import type { Consumer } from "./consumer.ts";
import { isAuthorizationFailure } from "./authorization.ts";
import { KafkaError, takeErrorObject } from "./errors.ts";
import { TopicPartitionList, type TopicPartitionOffset } from "./partitions.ts";
import {
  type PendingDelivery,
  Producer,
  type ProducerMessage,
  type ProducerOptions,
} from "./producer.ts";

/** How long a transaction call waits for the coordinator by default (ms). */
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * A producer whose messages are committed in transactions (the config must name a
 * `transactional.id`: the same one in every run of the same process, so that a restarted
 * process fences its zombie).
 *
 * @example
 * ```ts ignore
 * import { TransactionalProducer } from "./transactions.ts";
 * await using producer = new TransactionalProducer({
 *   "bootstrap.servers": "127.0.0.1:19092",
 *   "transactional.id": "summaries-0",
 * });
 * await producer.init();
 * producer.begin();
 * await producer.send({ topic: "summaries", value: new TextEncoder().encode("{}") });
 * await producer.sendOffsets([{ topic: "raw", partition: 0, offset: 42 }], consumer);
 * await producer.commit();
 * ```
 */
export class TransactionalProducer extends Producer {
  #open = false;

  /**
   * Creates the producer; {@linkcode init} must run before the first transaction.
   *
   * @throws {Error} when the config has no `transactional.id`.
   */
  constructor(config: KafkaConfig, options: ProducerOptions = {}) {
    const id = config["transactional.id"];
    if (id === undefined || String(id) === "") {
      throw new Error("A transactional producer needs a transactional.id in its config.");
    }
    super(config, options);
  }

  /**
   * Sends a message in the open transaction. A failed delivery fails the transaction's
   * {@linkcode commit} (it must then be aborted), so `delivered` need not be awaited: its
   * rejection is handled here.
   */
  override async send(message: ProducerMessage): Promise<PendingDelivery> {
    const pending = await super.send(message);
    pending.delivered.catch(() => undefined);
    return pending;
  }

  /** Whether a transaction was begun and not yet committed or aborted. */
  get inTransaction(): boolean {
    return this.#open;
  }

  /**
   * Registers the `transactional.id` with the coordinator: fences older producers with the same
   * id and aborts (or finishes) the transaction they left open.
   *
   * @throws {KafkaError} for example `_TIMED_OUT` (retriable), or a fatal one when the broker
   *   does not support transactions or the principal may not use the id.
   */
  async init(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    this.assertUsable();
    try {
      await this.#call(
        this.lib.rd_kafka_init_transactions(this.handle, timeoutMs),
        "Starting transactions failed",
      );
    } catch (error) {
      // Not allowed to use the transactional id: said the way every authorization failure is.
      if (error instanceof KafkaError && isAuthorizationFailure(error.code)) {
        throw this.authorizationError(error.code, error.message);
      }
      throw error;
    }
  }

  /** Begins a transaction (local: never waits). */
  begin(): void {
    this.assertUsable();
    this.#throw(
      this.lib.rd_kafka_begin_transaction(this.handle),
      "Beginning a transaction failed",
    );
    this.#open = true;
  }

  /**
   * Adds a consumer group's offsets (each the next offset to read) to the open transaction:
   * they are committed with its messages. The consumer must be the group's current member.
   */
  async sendOffsets(
    offsets: readonly TopicPartitionOffset[],
    consumer: Consumer,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<void> {
    this.assertUsable();
    if (offsets.length === 0) return;
    const metadata = consumer.groupMetadata();
    try {
      using list = TopicPartitionList.from(offsets);
      await this.#call(
        this.lib.rd_kafka_send_offsets_to_transaction(
          this.handle,
          list.pointer,
          metadata,
          timeoutMs,
        ),
        "Adding offsets to the transaction failed",
      );
    } finally {
      this.lib.rd_kafka_consumer_group_metadata_destroy(metadata);
    }
  }

  /**
   * Commits the open transaction: waits until every message sent in it is acknowledged, then
   * asks the coordinator to commit.
   *
   * @throws {KafkaError} `retriable`: call again; `abortable`: call {@linkcode abort}; fatal.
   */
  async commit(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    this.assertUsable();
    // The deliveries are served here (on the event loop) while librdkafka waits for them.
    await this.flush(timeoutMs);
    await this.#call(
      this.lib.rd_kafka_commit_transaction(this.handle, timeoutMs),
      "Committing the transaction failed",
    );
    this.#open = false;
  }

  /** Aborts the open transaction: its messages are never seen by `read_committed` consumers. */
  async abort(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    this.assertUsable();
    const aborting = this.track(this.lib.rd_kafka_abort_transaction(this.handle, timeoutMs));
    // The failed deliveries of the aborted messages arrive as events: serve them meanwhile.
    await Promise.all([this.flush(timeoutMs).catch(() => undefined), aborting]).then(
      ([, pointer]) => this.#throw(pointer, "Aborting the transaction failed"),
    );
    this.#open = false;
  }

  async #call(running: Promise<Deno.PointerValue>, context: string): Promise<void> {
    this.#throw(await this.track(running), context);
  }

  #throw(pointer: Deno.PointerValue, context: string): void {
    const error: KafkaError | undefined = takeErrorObject(pointer, context);
    if (error !== undefined) throw error;
  }
}
