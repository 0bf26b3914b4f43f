/**
 * The producer a processor's results go out with (`--output-topic`): a plain producer (at least
 * once), or with `--exactly-once` a transactional one registered with its coordinator. Shared by
 * file and record processors.
 *
 * @module
 */

import { type KafkaConfig, Producer, TransactionalProducer } from "../kafka/mod.ts";
import { errorText } from "./errors.ts";

/** A results producer and, exactly once, the transactional id it registered. */
export interface ResultsProducer {
  /** The producer (a {@linkcode TransactionalProducer} exactly once). */
  producer: Producer;
  /** The `transactional.id` registered (exactly once only). */
  transactionalId?: string;
}

/**
 * Opens the results producer. Exactly once, its `transactional.id` is the config's, else
 * `defaultId()`; registering it fences an older process with the same id.
 *
 * @param settings Whether results go exactly once, and the producer's librdkafka properties.
 * @param defaultId The transactional id to use when the config sets none.
 * @returns The producer, and the transactional id it registered.
 * @throws {Error} naming the transactional id when transactions cannot start (the cause is the
 *   librdkafka error: an authorization failure names the missing permission).
 */
export async function openResultsProducer(
  settings: { exactlyOnce: boolean; producer: KafkaConfig },
  defaultId: () => string | Promise<string>,
): Promise<ResultsProducer> {
  if (!settings.exactlyOnce) {
    // A transactional.id in the config is for --exactly-once: this producer has none.
    const { "transactional.id": _id, ...plain } = settings.producer;
    return { producer: new Producer(plain) };
  }
  const id = String(settings.producer["transactional.id"] ?? await defaultId());
  const producer = new TransactionalProducer({ ...settings.producer, "transactional.id": id });
  try {
    await producer.init();
  } catch (error) {
    await producer.close().catch(() => undefined);
    throw new Error(
      `Could not start transactions as "${id}" for --exactly-once: ${errorText(error)} ` +
        "The broker must support transactions (Kafka 2.5 or later, with " +
        "transaction.state.log.replication.factor at most its number of brokers), and the " +
        "principal may need the WRITE and DESCRIBE ACLs on this transactional id.",
      { cause: error },
    );
  }
  return { producer, transactionalId: id };
}
