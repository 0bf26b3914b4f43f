/**
 * The lock handed to `process`: one Web Locks lock per run, shared by every worker of the
 * process (Deno's `navigator.locks` has one lock table per process).
 *
 * @module
 */

import type { ProcessLock } from "../processor/definition.ts";

/** The part of the Web Locks API Ferry uses (not in Deno's bundled `Navigator` type). */
interface LockManagerLike {
  request<T>(name: string, callback: () => T | Promise<T>): Promise<T>;
}

/**
 * Creates the lock for a run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createProcessLock } from "./lock.ts";
 * const lock = createProcessLock("example");
 * const value = await lock.run(() => 42);
 * assert.ok(value === 42);
 * ```
 */
export function createProcessLock(name: string): ProcessLock {
  const lockName = `ferry:${name}`;
  return {
    run<T>(fn: () => T | Promise<T>): Promise<T> {
      const locks = (navigator as unknown as { locks: LockManagerLike }).locks;
      return locks.request(lockName, () => fn());
    },
  };
}
