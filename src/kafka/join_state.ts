/**
 * When librdkafka is rejoining a classic group, as early as it can be known. A member learns of
 * a rebalance at its next heartbeat and sends JoinGroup at once, without telling the
 * application; the broker answers requests of one connection in order, so an OffsetCommit sent
 * after that JoinGroup waits behind it and is answered after the group's generation moved on:
 * ILLEGAL_GENERATION, which librdkafka before 2.10.0 takes for a lost assignment (every
 * partition of the member dropped, confluentinc/librdkafka#4059). The first rebalance event the
 * application sees comes only after the join. librdkafka 2.0.2 has no call that tells the join
 * state, but its `cgrp` debug lines do (`Group "g" changed join state steady -> init`): with
 * {@linkcode joinStateConfig} they are turned on (for the versions that need it, classic
 * protocol only), and {@linkcode JoinStateWatch} follows them.
 *
 * @module
 */

import type { KafkaConfig } from "./config.ts";
import { groupProtocolOf } from "./group_protocol.ts";
import { hasLibraryFeature } from "./library_features.ts";
import { foldLogLines } from "./log.ts";

/**
 * Whether the loaded librdkafka drops its assignment on a commit refused with
 * ILLEGAL_GENERATION (before 2.10.0) for a classic group: then the join state is watched.
 */
export function joinStateWatched(config: KafkaConfig): boolean {
  return groupProtocolOf(config) === "classic" && !hasLibraryFeature("consumerGroupProtocol");
}

/**
 * The consumer properties that make librdkafka log its join state changes (`debug` with
 * `cgrp`, added to the user's own contexts), when {@linkcode joinStateWatched}; none otherwise.
 * The lines are logged at debug level (`--log-level debug` shows them).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { joinStateConfig } from "./join_state.ts";
 *
 * assert.deepEqual(joinStateConfig({ "group.protocol": "consumer" }), {});
 * ```
 */
export function joinStateConfig(config: KafkaConfig): KafkaConfig {
  if (!joinStateWatched(config)) return {};
  const contexts = String(config.debug ?? "").split(",").map((c) => c.trim()).filter((c) => c);
  if (contexts.includes("cgrp") || contexts.includes("all")) return {};
  return { debug: [...contexts, "cgrp"].join(",") };
}

/**
 * The join states in which librdkafka is joining the group: the JoinGroup is about to go, or its
 * answer or the SyncGroup's is awaited. A commit sent then is answered after the join, under a
 * generation that is gone. In the others the member's generation is current: `steady`, and the
 * assign and revoke handlers and what follows them (`wait-assign-call`, `wait-unassign-call`,
 * ...), where a revoked partition's last commit must go through.
 */
const JOINING: ReadonlySet<string> = new Set(["init", "wait-join", "wait-metadata", "wait-sync"]);

/**
 * Follows librdkafka's join state of `group` from its `cgrp` debug lines (see the module):
 * `joining` from the moment librdkafka starts rejoining until the join is done. Dispose of it
 * when the consumer closes.
 *
 * @example
 * ```ts
 * import { emitLogLine } from "./log.ts";
 * import { JoinStateWatch } from "./join_state.ts";
 *
 * using watch = new JoinStateWatch("g");
 * const line = (from: string, to: string) =>
 *   `[thrd:main]: Group "g" changed join state ${from} -> ${to} (state up)`;
 * emitLogLine(7, "rdkafka#consumer-1", "CGRPJOINSTATE", line("steady", "init"));
 * console.assert(watch.joining);
 * emitLogLine(7, "rdkafka#consumer-1", "CGRPJOINSTATE", line("wait-sync", "wait-assign-call"));
 * console.assert(!watch.joining);
 * ```
 */
export class JoinStateWatch implements Disposable {
  #state = "steady";
  /** When the state last became a joining one (ms since the epoch). */
  #joiningSince = 0;
  readonly #fold: Disposable;

  /** Starts following the join state of `group`. */
  constructor(group: string) {
    const prefix = `Group "${group}" changed join state `;
    this.#fold = foldLogLines((facility, text) => {
      // The text starts with the thread: `[thrd:main]: Group "g" changed join state ...`.
      const at = facility === "CGRPJOINSTATE" ? text.indexOf(prefix) : -1;
      if (at < 0) return false;
      const to = /-> (\S+)/.exec(text.slice(at + prefix.length));
      if (!to) return false;
      if (!this.joining && JOINING.has(to[1])) this.#joiningSince = Date.now();
      this.#state = to[1];
      return false;
    });
  }

  /** The last join state librdkafka logged (`steady` before any). */
  get state(): string {
    return this.#state;
  }

  /** Whether librdkafka is joining the group now (init, wait-join, wait-metadata, wait-sync). */
  get joining(): boolean {
    return JOINING.has(this.#state);
  }

  /** How long librdkafka has been joining (ms; 0 when it is not). */
  get rejoiningMs(): number {
    return this.joining ? Math.max(1, Date.now() - this.#joiningSince) : 0;
  }

  /** Stops following. */
  [Symbol.dispose](): void {
    this.#fold[Symbol.dispose]();
  }
}
