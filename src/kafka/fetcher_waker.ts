/**
 * Wakes librdkafka's fetchers while messages come in. librdkafka 2.0.2 stops fetching a
 * partition while the consumer queue holds more than `queued.min.messages` messages or
 * `queued.max.messages.kbytes` (the limits count the whole consumer queue, every partition
 * forwarded to it) and looks again only when its broker thread wakes up, about once a second
 * when idle. A consumer slower than the network then gets at most one full queue per second
 * (measured: about 85 MB/s for 512 KiB chunks; a no-op record processor spent 1 s of 2.4 s
 * idle reading 335k 100-byte records). Any request to the broker wakes that thread: a
 * watermark query per assigned partition is the smallest there is.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Consumer } from "./mod.ts";

const logger = getLogger(["ferry", "kafka"]);

/** How often, at most, {@linkcode FetcherWaker.wake} sends its requests (ms). */
export const WAKE_FETCHERS_EVERY_MS = 50;

/** How long after the last message an empty poll still wakes the fetchers (ms). */
export const WAKE_AFTER_MESSAGES_MS = 2_000;

/**
 * Sends a watermark query per assigned partition, at most every `everyMs`, without waiting.
 *
 * @example
 * ```ts ignore
 * import { FetcherWaker } from "./fetcher_waker.ts";
 * const waker = new FetcherWaker(consumer);
 * for (;;) {
 *   const batch = await consumer.poll();
 *   waker.polled(batch.length);
 * }
 * ```
 */
export class FetcherWaker {
  readonly #consumer: Consumer;
  readonly #everyMs: number;
  #lastAt = 0;
  #lastMessageAt = -Infinity;

  /** Wakes `consumer`'s fetchers at most every `everyMs`. */
  constructor(consumer: Consumer, everyMs: number = WAKE_FETCHERS_EVERY_MS) {
    this.#consumer = consumer;
    this.#everyMs = everyMs;
  }

  /**
   * Tells the waker a poll returned `messages` messages: wakes the fetchers while messages
   * come in, and also on the empty polls right after (a consumer that emptied the queue
   * faster than `everyMs` found the fetchers still asleep from when it was full: measured,
   * a 1 s pause in the middle of a 256 MiB read).
   */
  polled(messages: number): void {
    const now = Date.now();
    if (messages > 0) this.#lastMessageAt = now;
    else if (now - this.#lastMessageAt > WAKE_AFTER_MESSAGES_MS) return;
    this.wake();
  }

  /** Sends the queries unless the last ones went out less than `everyMs` ago. */
  wake(): void {
    const now = Date.now();
    if (now - this.#lastAt < this.#everyMs) return;
    this.#lastAt = now;
    for (const tp of this.#consumer.assignment()) {
      this.#consumer.queryWatermarks(tp.topic, tp.partition, 1000).catch((error) =>
        // Only a nudge: the fetcher wakes up on its own a second later anyway.
        logger.debug("Waking the fetcher of {topic} partition {partition} failed: {error}", {
          topic: tp.topic,
          partition: tp.partition,
          error: error instanceof Error ? error.message : String(error),
        })
      );
    }
  }
}
