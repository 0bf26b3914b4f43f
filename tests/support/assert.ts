/**
 * Small assertions for the tests (JSR's `@std/assert` is not reachable from this project's
 * machines): deep equality with a readable difference, and truthiness.
 *
 * @module
 */

import { inspect, isDeepStrictEqual } from "node:util";

/** Fails with `message` unless `condition` holds. */
export function assert(condition: unknown, message = "Assertion failed."): asserts condition {
  if (!condition) throw new Error(message);
}

/** Fails unless `actual` and `expected` are deeply equal (typed arrays compared by content). */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    const show = (value: unknown) => inspect(value, { depth: 6, maxArrayLength: 40 });
    throw new Error(
      `${message ? message + ": " : ""}values differ.\n  actual:   ${show(actual)}\n` +
        `  expected: ${show(expected)}`,
    );
  }
}

/** Fails unless `fn` rejects with an error of `type` whose message includes `includes`. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  type: new (...args: never[]) => E,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    return checkError(error, type, includes);
  }
  throw new Error(`expected a ${type.name} to be thrown`);
}

/** Fails unless `fn` throws an error of `type` whose message includes `includes`. */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  type: new (...args: never[]) => E,
  includes?: string,
): E {
  try {
    fn();
  } catch (error) {
    return checkError(error, type, includes);
  }
  throw new Error(`expected a ${type.name} to be thrown`);
}

/** Fails unless `error` is of `type` with a message that includes `includes`; returns it. */
function checkError<E extends Error>(
  error: unknown,
  type: new (...args: never[]) => E,
  includes?: string,
): E {
  assert(error instanceof type, `expected ${type.name}, got ${inspect(error)}`);
  if (includes !== undefined) {
    assert(
      error.message.includes(includes),
      `expected the message to include "${includes}", got "${error.message}"`,
    );
  }
  return error;
}
