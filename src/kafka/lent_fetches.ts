/**
 * Lending fetched message values (`PollOptions.borrowValues` in `consumer.ts`): a poll that
 * lends gives each message's value as a view of librdkafka's own memory instead of a copy, so
 * the fetch event that holds it is kept, not destroyed, until the next poll (or the close) frees
 * it. Apart from the consumer because this is the one place where JavaScript holds librdkafka's
 * memory past a call, and when it is freed is the whole of the rule.
 *
 * @module
 */

/**
 * The fetch events whose messages' values a poll lent, kept until the next poll frees them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LentFetches } from "./lent_fetches.ts";
 * const destroyed: string[] = [];
 * const event = (name: string) => ({ name }) as unknown as Deno.PointerObject;
 * const lending = new LentFetches((e) => destroyed.push((e as unknown as { name: string }).name));
 * lending.begin(true);
 * lending.done(event("a"));
 * assert.deepEqual(destroyed, []);
 * lending.begin(false);
 * assert.deepEqual(destroyed, ["a"]);
 * ```
 */
export class LentFetches {
  readonly #destroy: (event: Deno.PointerObject) => void;
  /** Whether the running poll lends values. */
  #borrowing = false;
  /** Fetch events whose messages' values were lent by the last poll: freed by the next. */
  readonly #lent: Deno.PointerObject[] = [];

  /**
   * Keeps the fetch events of one consumer.
   *
   * @param destroy frees a fetch event (`rd_kafka_event_destroy`).
   */
  constructor(destroy: (event: Deno.PointerObject) => void) {
    this.#destroy = destroy;
  }

  /** Whether the running poll lends the values it reads. */
  get borrowing(): boolean {
    return this.#borrowing;
  }

  /** A poll begins: what the last one lent is freed; this one lends its values, or copies them. */
  begin(borrowing: boolean): void {
    this.release();
    this.#borrowing = borrowing;
  }

  /** Destroys a fetch event, or keeps it until the next poll when its value was lent. */
  done(event: Deno.PointerObject): void {
    if (this.#borrowing) this.#lent.push(event);
    else this.#destroy(event);
  }

  /** Frees the messages whose values the last poll lent, and lends no more (the close). */
  release(): void {
    for (const event of this.#lent.splice(0)) this.#destroy(event);
    this.#borrowing = false;
  }
}

/** A view of `length` bytes of librdkafka's memory at `pointer` (no copy; see `borrowValues`). */
export function lend(pointer: Deno.PointerValue, length: number): Uint8Array | null {
  if (pointer === null) return null;
  if (length === 0) return new Uint8Array(0);
  return new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(pointer, length));
}
