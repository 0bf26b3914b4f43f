/**
 * A static member fenced by itself. When a broker outage outlasts the failover time, librdkafka
 * 2.0.2 ends the member's session on its side ("Consumer group session timed out ... rejoining
 * group"), and its rejoin under the same `group.instance.id` can come back as the fatal
 * `FENCED_INSTANCE_ID`, though no other process has that id (confluentinc/librdkafka#3437,
 * seen in `tests/fault/broker_outage_test.ts`). A fencing error right after such a session
 * timeout is this; the run is then started again in the same process, as a restart would
 * (files in progress are read again, nothing unfinished was committed), at most a few times in
 * a row. A fencing error without a session timeout before it is another process with the same
 * id, and stays fatal.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { ErrorCode, KafkaError } from "../kafka/mod.ts";
import { foldLogLines } from "../kafka/log.ts";

const logger = getLogger(["ferry", "group"]);

/** How recent a session timeout must be for a fencing error to be this process's own (ms). */
const SELF_FENCING_WINDOW_MS = 60_000;

/** The most runs started again in a row. */
const MAX_RESTARTS = 5;

/** Notes librdkafka's session timeouts while a run goes on; dispose of it when it ends. */
export class SessionTimeouts implements Disposable {
  #lastAt = 0;
  readonly #fold = foldLogLines((facility) => {
    if (facility === "SESSTMOUT") this.#lastAt = Date.now();
    return false;
  });

  /** Whether `error` is a fencing that follows this process's own session timeout. */
  selfFenced(error: unknown): boolean {
    return error instanceof KafkaError && error.code === ErrorCode.FENCED_INSTANCE_ID &&
      Date.now() - this.#lastAt < SELF_FENCING_WINDOW_MS;
  }

  /** Stops watching. */
  [Symbol.dispose](): void {
    this.#fold[Symbol.dispose]();
  }
}

/**
 * Runs `run` and, when it fails with a fencing that followed its own session timeout, runs it
 * again (see the module).
 *
 * @example
 * ```ts
 * import { restartWhenSelfFenced } from "./self_fencing.ts";
 * const result = await restartWhenSelfFenced(() => Promise.resolve(42));
 * console.assert(result === 42);
 * ```
 */
export async function restartWhenSelfFenced<T>(run: () => Promise<T>): Promise<T> {
  for (let restarts = 0;; restarts++) {
    using sessions = new SessionTimeouts();
    try {
      return await run();
    } catch (error) {
      if (restarts >= MAX_RESTARTS || !sessions.selfFenced(error)) throw error;
      logger.warn(
        "The group fenced this process's own static member id after its session timed out " +
          "(a known librdkafka 2.0.2 fault after a long broker outage); starting the run again " +
          "(files in progress are read again; nothing unfinished was committed).",
      );
    }
  }
}
