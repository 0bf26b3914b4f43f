/**
 * Explaining a wait for partitions: a process that joined its group and has no assignment a
 * few seconds later says what the group waits for (members that stopped without leaving, to be
 * dropped after their failover time; members finishing a call before they rejoin) and how long
 * that can take; once partitions come, it says after how long. Both runners use it.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { roundSeconds } from "../command/progress.ts";

const logger = getLogger(["ferry", "group"]);

/** How long a join may take before the wait is explained (ms). */
const EXPLAIN_AFTER_MS = 3_000;

/** Options for {@linkcode JoinWait}. */
export interface JoinWaitOptions {
  /** The consumer group. */
  group: string;
  /** The failover time of the group's members, in seconds. */
  failoverSeconds: number;
  /** `max.poll.interval.ms` in seconds: how long a member may take to rejoin. */
  maxPollSeconds: number;
  /** The static member id, when there is one. */
  instanceId: string | undefined;
}

/**
 * Watches one join of a group: {@linkcode joined} when subscribing, {@linkcode assigned} on
 * every assignment.
 *
 * @example
 * ```ts
 * import { JoinWait } from "./join_wait.ts";
 * const wait = new JoinWait({
 *   group: "g", failoverSeconds: 10, maxPollSeconds: 300, instanceId: undefined,
 * });
 * wait.joined();
 * console.assert(typeof wait.assigned() === "number"); // seconds since joined
 * console.assert(wait.assigned() === undefined); // only the first assignment counts
 * ```
 */
export class JoinWait {
  readonly #options: JoinWaitOptions;
  #joinedAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #done = false;

  constructor(options: JoinWaitOptions) {
    this.#options = options;
  }

  /** The consumer subscribed: from now on a long wait is explained. */
  joined(): void {
    this.#joinedAt = Date.now();
    this.#timer = setTimeout(() => this.#explain(), EXPLAIN_AFTER_MS);
    Deno.unrefTimer(this.#timer);
  }

  /**
   * An assignment came (maybe empty): returns the seconds since {@linkcode joined} for the
   * first one, `undefined` after.
   */
  assigned(): number | undefined {
    if (this.#done) return undefined;
    this.#done = true;
    clearTimeout(this.#timer);
    return roundSeconds((Date.now() - this.#joinedAt) / 1000);
  }

  /** The run ends. */
  stop(): void {
    this.#done = true;
    clearTimeout(this.#timer);
  }

  #explain(): void {
    if (this.#done) return;
    const { group, failoverSeconds, maxPollSeconds, instanceId } = this.#options;
    logger.info(
      "No partitions yet {seconds} s after joining group {group}: the group is rebalancing " +
        "and waits for every member it knows to rejoin. A member that stopped without leaving " +
        "(killed, or a static member that stopped) is dropped {failover} s after its last " +
        "heartbeat (its failover time); a running member rejoins between two polls (at most " +
        "max.poll.interval.ms, {maxPoll} s).{restart}",
      {
        seconds: roundSeconds((Date.now() - this.#joinedAt) / 1000),
        group,
        failover: failoverSeconds,
        maxPoll: maxPollSeconds,
        restart: instanceId === undefined
          ? " This process is a dynamic member: a restart waits for its old session to end."
          : "",
      },
    );
  }
}
