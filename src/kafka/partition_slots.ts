/**
 * A limit on the messages a producer has handed to librdkafka for one partition and not yet seen
 * acknowledged: the producer's `maxInFlightPerPartition` (see `producer.ts`).
 *
 * Why: librdkafka's idempotent producer keeps at most 5 messages (not requests) of a partition
 * in flight (`RD_KAFKA_IDEMP_MAX_INFLIGHT`, compared with the partition's in-flight message
 * count in `rd_kafka_toppar_producer_serve`, 2.0.2 up to today). While more wait in the
 * partition's queue past `linger.ms`, its broker thread is told to wake up at once, again and
 * again, until an acknowledgement arrives: it polls without sleeping. Uploading 256 MiB in 512
 * KiB chunks with a 32 MiB window, that thread spent more CPU than both SHA-512 passes together
 * (perf: `poll`, `clock_gettime`, mutexes). A sender of large messages that keeps no more than
 * 5 unacknowledged in a partition leaves nothing waiting there, and the thread sleeps.
 *
 * @module
 */

/**
 * Counting semaphores, one per key (a topic and partition), each of `limit` slots.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PartitionSlots } from "./partition_slots.ts";
 *
 * const slots = new PartitionSlots(1);
 * await slots.acquire("t/0");
 * let second = false;
 * const waiting = slots.acquire("t/0").then(() => second = true);
 * await slots.acquire("t/1"); // another partition: not held up
 * await Promise.resolve();
 * assert.equal(second, false);
 * slots.release("t/0");
 * await waiting;
 * assert.equal(slots.inFlight("t/0"), 1);
 * ```
 */
export class PartitionSlots {
  /** Slots per key. */
  readonly limit: number;
  readonly #held = new Map<string, number>();
  readonly #waiters = new Map<string, (() => void)[]>();

  /** Creates the semaphores, `limit` slots each (a positive integer). */
  constructor(limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError(`Messages in flight per partition ${limit} is not a positive integer.`);
    }
    this.limit = limit;
  }

  /** The slots of `key` taken now. */
  inFlight(key: string): number {
    return this.#held.get(key) ?? 0;
  }

  /** Takes a slot of `key`, waiting (first come, first served) until one is free. */
  acquire(key: string): Promise<void> {
    const held = this.#held.get(key) ?? 0;
    if (held < this.limit && !this.#waiters.has(key)) {
      this.#held.set(key, held + 1);
      return Promise.resolve();
    }
    return new Promise((wake) => {
      const queue = this.#waiters.get(key);
      if (queue) queue.push(wake);
      else this.#waiters.set(key, [wake]);
    });
  }

  /** Gives back a slot of `key`: the next waiter takes it. */
  release(key: string): void {
    const queue = this.#waiters.get(key);
    const next = queue?.shift();
    if (next) {
      if (queue!.length === 0) this.#waiters.delete(key);
      next(); // the slot passes to it: the count stays
      return;
    }
    const held = (this.#held.get(key) ?? 0) - 1;
    if (held > 0) this.#held.set(key, held);
    else this.#held.delete(key);
  }
}
