/**
 * When commits may go out around a cooperative rebalance. librdkafka 2.0.2 takes a commit that
 * the group coordinator refuses with ILLEGAL_GENERATION (the commit carried the generation
 * before a rejoin and was answered after it) for a lost assignment: every partition of the
 * process is dropped and what was processed since the last commit is processed again
 * (confluentinc/librdkafka#4059, fixed by confluentinc/librdkafka#4908 in a later release).
 * Seen in `tests/scaling/record_group_test.ts`: "OffsetCommit error: Illegal generation:
 * revoking incremental assignment and rejoining".
 *
 * A rebalance comes in rounds, and a member learns of the next round at its next heartbeat, so
 * the gate closes on every rebalance event of a cooperative group and opens again once no event
 * came for two heartbeat intervals and a half second (or, at the latest, after the failover
 * time and five seconds). It is also closed while librdkafka rejoins before any event says so
 * (`src/kafka/join_state.ts`: a commit sent then waits behind the JoinGroup and is refused), for
 * as long at most. Commits in a revoke handler do not wait: the member does not rejoin before the
 * handler returns. Both processor kinds use it; with the consumer group protocol
 * (KIP-848) or a librdkafka with the fix, the gate can stay open.
 *
 * @module
 */

import type { RebalanceEvent } from "../kafka/mod.ts";

/** Options for {@linkcode CommitGate}. */
export interface CommitGateOptions {
  /** The heartbeat interval (ms). */
  heartbeatMs: number;
  /** The failover time (ms): the longest a round can wait for a member that died. */
  failoverMs: number;
  /**
   * The group protocol: with `consumer` (KIP-848) there are no rounds to wait out, and the gate
   * stays open. Default `classic`.
   */
  protocol?: "classic" | "consumer";
  /**
   * How long librdkafka has been rejoining the group (ms; 0 when it is not), known before any
   * rebalance event says so (`src/kafka/join_state.ts`): the gate stays closed meanwhile.
   */
  rejoiningMs?: () => number;
}

/**
 * Closes on cooperative rebalance events and opens once they stopped (see the module).
 *
 * @example
 * ```ts
 * import { CommitGate } from "./commit_gate.ts";
 * const gate = new CommitGate({ heartbeatMs: 10, failoverMs: 100 });
 * gate.rebalance({ kind: "assigned", partitions: [], protocol: "COOPERATIVE" });
 * console.assert(!gate.open);
 * await gate.wait();
 * console.assert(gate.open);
 * ```
 */
export class CommitGate {
  readonly #quietMs: number;
  readonly #maxHoldMs: number;
  readonly #rounds: boolean;
  readonly #rejoiningMs: () => number;
  /** When the gate opens (ms since the epoch); 0 when open. */
  #opensAt = 0;
  /** When it closed first in this episode. */
  #closedAt = 0;

  constructor(options: CommitGateOptions) {
    this.#quietMs = 2 * options.heartbeatMs + 500;
    this.#maxHoldMs = options.failoverMs + 5000;
    this.#rounds = options.protocol !== "consumer";
    this.#rejoiningMs = options.rejoiningMs ?? (() => 0);
  }

  /** Whether commits may go out now. */
  get open(): boolean {
    const rejoining = this.#rounds ? this.#rejoiningMs() : 0;
    if (rejoining > 0 && rejoining < this.#maxHoldMs) return false;
    if (this.#opensAt !== 0 && Date.now() >= this.#opensAt) this.#opensAt = 0;
    return this.#opensAt === 0;
  }

  /** A rebalance event of this consumer: a cooperative one closes the gate for a while. */
  rebalance(event: RebalanceEvent): void {
    if (!this.#rounds || event.protocol !== "COOPERATIVE") return;
    const now = Date.now();
    if (this.open) this.#closedAt = now;
    this.#opensAt = Math.min(now + this.#quietMs, this.#closedAt + this.#maxHoldMs);
  }

  /** Resolves once the gate is open. */
  async wait(): Promise<void> {
    while (!this.open) {
      const ms = this.#opensAt === 0 ? 50 : this.#opensAt - Date.now();
      await new Promise((resolve) => setTimeout(resolve, Math.max(10, ms)));
    }
  }
}
