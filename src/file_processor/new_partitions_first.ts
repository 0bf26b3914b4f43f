/**
 * Partitions a process is given while it holds others (a dead member's, after the failover) are
 * read first. librdkafka's consumer queue is one queue in fetch order: the messages it fetched
 * ahead of the process's own partitions (with small files, often their whole backlog) came
 * before the first message of the new ones, so the dead member's files, late already by the
 * failover time, waited behind all of them (measured in `tests/scaling/file_group_test.ts`: first
 * file 10 s after the assignment). So the partitions held before are paused when new ones come
 * (librdkafka drops what it fetched ahead of them and fetches it again from the position on
 * resume), and resumed once a message of the new ones was read, or after
 * {@linkcode NEW_PARTITIONS_FIRST_MS} (new partitions with nothing to read).
 *
 * @module
 */

import type { TopicPartition } from "../kafka/mod.ts";

/** The longest the partitions held before wait for a message of new ones (ms). */
export const NEW_PARTITIONS_FIRST_MS = 2000;

/** What {@linkcode NewPartitionsFirst} pauses and resumes. */
export interface PausableConsumer {
  /** Stops fetching from partitions. */
  pause(partitions: readonly TopicPartition[]): void;
  /** Resumes fetching from partitions. */
  resume(partitions: readonly TopicPartition[]): void;
}

/**
 * Holds the partitions a process had while new ones deliver their first message (see the
 * module).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NewPartitionsFirst } from "./new_partitions_first.ts";
 * const calls: string[] = [];
 * const consumer = {
 *   pause: (tps: readonly { partition: number }[]) => calls.push(`pause ${tps.map((t) => t.partition)}`),
 *   resume: (tps: readonly { partition: number }[]) => calls.push(`resume ${tps.map((t) => t.partition)}`),
 * };
 * const first = new NewPartitionsFirst(consumer);
 * first.assigned([{ topic: "t", partition: 3 }], [{ topic: "t", partition: 0 }]);
 * assert.ok(first.holds(0));
 * first.polled([0, 3], false);
 * assert.deepEqual(calls, ["pause 0", "resume 0"]);
 * ```
 */
export class NewPartitionsFirst {
  readonly #consumer: PausableConsumer;
  readonly #waitMs: number;
  /** The partitions held, by partition number. */
  readonly #held = new Map<number, TopicPartition>();
  /** The new partitions whose first message releases the held ones. */
  readonly #fresh = new Set<number>();
  #until = 0;

  constructor(consumer: PausableConsumer, waitMs = NEW_PARTITIONS_FIRST_MS) {
    this.#consumer = consumer;
    this.#waitMs = waitMs;
  }

  /** Whether `partition` is held for new ones now. */
  holds(partition: number): boolean {
    return this.#held.has(partition);
  }

  /**
   * Partitions `fresh` were assigned while `before` were held already: pauses those (unless
   * there are none of either).
   */
  assigned(fresh: readonly TopicPartition[], before: readonly TopicPartition[]): void {
    if (fresh.length === 0) return;
    const hold = before.filter((tp) => !this.#held.has(tp.partition));
    if (hold.length === 0 && this.#held.size === 0) return;
    if (hold.length > 0) this.#consumer.pause(hold);
    for (const tp of hold) this.#held.set(tp.partition, tp);
    for (const tp of fresh) this.#fresh.add(tp.partition);
    this.#until = Date.now() + this.#waitMs;
  }

  /**
   * Partitions taken away: no longer held (nor waited for); with none of the new ones left, the
   * rest are released (`paused` as for {@linkcode NewPartitionsFirst.polled}).
   */
  takenAway(partitions: readonly TopicPartition[], paused: boolean): void {
    for (const tp of partitions) {
      this.#held.delete(tp.partition);
      this.#fresh.delete(tp.partition);
    }
    if (this.#fresh.size === 0) this.#release(paused);
  }

  /**
   * After a poll that read messages of `partitions`: releases the held partitions once one of
   * them is new, or the wait ran out. `paused`: the run pauses its partitions (backpressure);
   * then the released ones stay paused, and its resume takes them along.
   */
  polled(partitions: Iterable<number>, paused: boolean): void {
    if (this.#held.size === 0) return;
    let arrived = Date.now() >= this.#until;
    for (const partition of partitions) {
      if (arrived) break;
      arrived = this.#fresh.has(partition);
    }
    if (arrived) this.#release(paused);
  }

  #release(paused: boolean): void {
    const held = [...this.#held.values()];
    this.#held.clear();
    this.#fresh.clear();
    if (held.length > 0 && !paused) this.#consumer.resume(held);
  }
}
