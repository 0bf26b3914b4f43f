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
 * librdkafka 2.2.0 made that second a setting, `fetch.queue.backoff.ms`: from 2.2.0 on, Ferry
 * sets it short ({@linkcode fetcherSettings}) and wakes nothing ({@linkcode fetcherWakerFor}
 * gives no waker); the waker is kept for older versions only.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Consumer, KafkaConfig } from "./mod.ts";
import { hasLibraryFeature } from "./library_features.ts";

const logger = getLogger(["ferry", "kafka"]);

/** How often, at most, {@linkcode FetcherWaker.wake} sends its requests (ms). */
export const WAKE_FETCHERS_EVERY_MS = 50;

/** How long after the last message an empty poll still wakes the fetchers (ms). */
export const WAKE_AFTER_MESSAGES_MS = 2_000;

/**
 * How long a partition whose queue is full waits before fetching again, where librdkafka lets
 * Ferry say (`fetch.queue.backoff.ms`, librdkafka 2.2.0+; its default is 1000).
 */
export const FETCH_QUEUE_BACKOFF_MS = 10;

/**
 * The consumer settings that keep fetching going while the consumer queue is full: with
 * librdkafka 2.2.0 or newer a short `fetch.queue.backoff.ms`, before it none (a
 * {@linkcode FetcherWaker} does the job). A user's own setting goes after these and wins.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fetcherSettings } from "./fetcher_waker.ts";
 *
 * assert.deepEqual(fetcherSettings(0x020002ff), {}); // 2.0.2
 * assert.deepEqual(fetcherSettings(0x020f01ff), { "fetch.queue.backoff.ms": 10 }); // 2.15.1
 * ```
 */
export function fetcherSettings(version?: number): KafkaConfig {
  return hasLibraryFeature("fetchQueueBackoff", version)
    ? { "fetch.queue.backoff.ms": FETCH_QUEUE_BACKOFF_MS }
    : {};
}

/**
 * A {@linkcode FetcherWaker} for `consumer` when the loaded librdkafka needs one (before
 * 2.2.0), else `undefined` ({@linkcode fetcherSettings} does it).
 */
export function fetcherWakerFor(consumer: Consumer): FetcherWaker | undefined {
  return hasLibraryFeature("fetchQueueBackoff") ? undefined : new FetcherWaker(consumer);
}

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
