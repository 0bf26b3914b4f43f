/**
 * A file processor's offset commits and what a rebalance takes away: what settled is committed
 * about once a second (not awaited: a commit waits for the group coordinator; a stuck one does
 * not hold back the next), paused around cooperative rebalances (`commit_gate.ts`) and made at
 * once after, after one
 * `fdatasync` of the registry logs (group commit), and never past an unsettled message; a
 * partition being revoked first lets its running files finish (up to the stop grace), then
 * commits what settled; files in progress lose the chunks of partitions taken away.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { errorText } from "../processor/errors.ts";
import type {
  Consumer,
  RebalanceEvent,
  TopicPartition,
  TopicPartitionOffset,
} from "../kafka/mod.ts";
import type { CommitGate } from "../processor/commit_gate.ts";
import type { RunState } from "./run_state.ts";
import { ResultsStoppedError } from "./results.ts";

const logger = getLogger(["ferry", "file-processor"]);

/** How often settled offsets are committed while the run goes on (ms). */
const COMMIT_EVERY_MS = 1000;

/**
 * A commit in flight this long is stuck (classic protocol: the group coordinator answers this
 * member's requests in order, so a commit sent while its JoinGroup waits for a rebalance waits
 * too); later commits no longer wait for it (ms).
 */
const STUCK_AFTER_MS = 3000;

/** The longest the commit of lost partitions may hold up the rebalance (ms). */
const LOST_COMMIT_WAIT_MS = 5000;

/** The most commits in flight at once (each holds one of Deno's blocking threads). */
const MAX_IN_FLIGHT = 4;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Offsets as one string, to tell whether a commit would send anything new. */
function offsetsKey(offsets: readonly TopicPartitionOffset[]): string {
  return offsets.map((o) => `${o.topic}/${o.partition}@${o.offset}`).join(",");
}

/** Commits a run's settled offsets (see the module's description). */
export class OffsetCommits {
  readonly #run: RunState;
  readonly #consumer: Consumer;
  /** Whether the broker is known to be away (commits wait, failures are not warned about). */
  readonly #brokerDown: () => boolean;
  #lastCommitAt = 0;
  /** The commits in flight, with the time each started. */
  readonly #inFlight = new Map<Promise<void>, number>();
  /** What the last commit sent, to skip sending the same while it is in flight. */
  #lastSent = "";
  /** Whether a stuck commit was reported (once per episode). */
  #stuckReported = false;
  /** Holds periodic commits around cooperative rebalances (see `commit_gate.ts`). */
  readonly #gate: CommitGate;

  constructor(run: RunState, consumer: Consumer, brokerDown: () => boolean, gate: CommitGate) {
    this.#run = run;
    this.#consumer = consumer;
    this.#brokerDown = brokerDown;
    this.#gate = gate;
  }

  /**
   * Starts a commit when the last one started a second ago: one in flight holds back the next
   * only while it is not stuck (younger than {@linkcode STUCK_AFTER_MS}) or sends the same
   * offsets, so settled work is committed about once a second whatever the group is doing.
   */
  commitSoon(): void {
    if (this.#brokerDown()) return;
    const results = this.#run.results;
    if (Date.now() - this.#lastCommitAt < COMMIT_EVERY_MS && !results?.full) return;
    if (!this.#gate.open) return;
    // Exactly once, each commit is a transaction of the one transactional producer: one at a time.
    if (this.#inFlight.size >= (results?.settings.exactlyOnce ? 1 : MAX_IN_FLIGHT)) return;
    const oldest = Math.min(...this.#inFlight.values());
    if (this.#inFlight.size > 0 && Date.now() - oldest < STUCK_AFTER_MS) return;
    if (this.#inFlight.size > 0) {
      if (offsetsKey(this.#run.tracker.committable()) === this.#lastSent) return;
      if (!this.#stuckReported) {
        this.#stuckReported = true;
        logger.info(
          "A commit has waited {seconds} s for the group coordinator (the group is " +
            "rebalancing); committing what settled since without waiting for it.",
          { seconds: Math.round((Date.now() - oldest) / 1000) },
        );
      }
    }
    const commit = this.commit().finally(() => {
      this.#inFlight.delete(commit);
      if (this.#inFlight.size === 0) this.#stuckReported = false;
    });
    this.#inFlight.set(commit, Date.now());
  }

  /**
   * A rebalance event: periodic commits wait until the rebalance is over (the gate), then the
   * next turn of the loop commits what settled meanwhile, under the group's new generation.
   */
  rebalanced(event: RebalanceEvent): void {
    this.#gate.rebalance(event);
    this.#lastCommitAt = 0;
    this.#lastSent = "";
  }

  /** The last commit of a run: after those in flight, unless the broker is away. */
  async finish(): Promise<void> {
    if (this.#brokerDown()) return;
    await Promise.allSettled([...this.#inFlight.keys()]);
    await this.commit();
  }

  /**
   * Commits what settled (of `only`'s partitions, when given), after making the registry
   * lines behind it durable. A failed commit is retried by the next one.
   */
  async commit(only?: readonly TopicPartition[]): Promise<void> {
    this.#lastCommitAt = Date.now();
    const offsets = this.#run.tracker.committable(only);
    // Exactly once, results of retried files (no offsets of their own) still need a commit.
    if (offsets.length === 0 && !(this.#run.results?.waiting ?? 0)) return;
    if (only === undefined) this.#lastSent = offsetsKey(offsets);
    try {
      // Group commit: the files settled below these offsets were recorded (written) before
      // `committable` saw them; one fdatasync per log makes them all durable first.
      await this.#run.registry.sync();
    } catch (error) {
      this.#run.fail(new Error(`Could not commit offsets: ${errorText(error)}`));
      return;
    }
    try {
      const results = this.#run.results;
      if (results?.settings.exactlyOnce) {
        // The offsets and the results below them, in one transaction.
        if (await results.commit(offsets, this.#consumer, this.#run.tracker)) {
          this.#run.tracker.markCommitted(offsets);
        }
        return;
      }
      await this.#consumer.commit(offsets);
      this.#run.tracker.markCommitted(offsets);
    } catch (error) {
      if (error instanceof ResultsStoppedError) {
        this.#run.fail(error);
        return;
      }
      // A commit sent before a rebalance and answered after it is refused (its generation is
      // gone); the next one, under the new generation, commits the same offsets. While the
      // broker is away the outage has been reported; the commit is retried later.
      this.#lastSent = "";
      const message = "Committing offsets failed (will retry): {error}";
      if (this.#brokerDown()) logger.debug(message, { error: errorText(error) });
      else logger.warn(message, { error: errorText(error) });
    }
  }

  /**
   * Lost partitions: librdkafka 2.0.2 also reports partitions lost when a commit was refused
   * with ILLEGAL_GENERATION while this member is still in the group (see `commit_gate.ts`); the
   * member's generation is then current, and committing what settled before they go spares
   * their next owner those files. Where the member really is out of the group (its session
   * ended, or it was fenced) the broker refuses the commit, and nothing changes. At most
   * {@linkcode LOST_COMMIT_WAIT_MS}: the rebalance waits for it.
   */
  async #commitLost(partitions: readonly TopicPartition[]): Promise<void> {
    // Exactly once, offsets go only with their results, in a transaction: none committed here.
    if (this.#run.results?.settings.exactlyOnce) return;
    const offsets = this.#run.tracker.committable(partitions);
    if (offsets.length === 0 || this.#brokerDown()) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await this.#run.registry.sync();
      const committed = this.#consumer.commit(offsets).then(() => true);
      const late = new Promise<false>((resolve) =>
        timer = setTimeout(resolve, LOST_COMMIT_WAIT_MS, false)
      );
      if (await Promise.race([committed, late])) {
        this.#run.tracker.markCommitted(offsets);
        logger.info(
          "Committed what settled on partitions {names} before letting them go: librdkafka " +
            "reported them lost while this process was still in the group.",
          { names: offsets.map((o) => o.partition).join(", ") },
        );
      } else committed.catch(() => undefined);
    } catch (error) {
      logger.debug("The commit of lost partitions was refused: {error}", {
        error: errorText(error),
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Partitions revoked or lost: a revoke lets files from them finish (up to the stop grace)
   * and commits what settled; then their offsets are forgotten and files in progress drop
   * their chunks (a file left with none is discarded: the next owner rebuilds it).
   */
  async takenAway(event: RebalanceEvent): Promise<void> {
    const { settings, running, assembler } = this.#run;
    const gone = new Set(event.partitions.map((p) => p.partition));
    this.rebalanced(event);
    if (event.kind === "revoked") {
      const deadline = Date.now() + settings.stopGraceMs;
      while (
        [...running.values()].some((r) => r.sources.some((src) => gone.has(src.partition))) &&
        Date.now() < deadline
      ) await sleep(50);
      // With the broker away a commit would wait for it (librdkafka 2.0.2 queues it for the
      // coordinator without a deadline) and hold the revoke, and a stop, for as long.
      if (!this.#brokerDown()) await this.commit(event.partitions);
    }
    const names = event.partitions.map((p) => p.partition).join(", ");
    const fields = { names, topic: settings.topic, kind: event.kind };
    if (names === "") logger.debug("No partitions of {topic} {kind} (an empty round).", fields);
    else logger.info("Partitions {names} of {topic} {kind}.", fields);
    if (event.kind === "lost") {
      await this.#commitLost(event.partitions);
      const files = this.#run.tracker.uncommittedFiles(event.partitions);
      if (files > 0) {
        logger.warn(
          "{files} file(s) settled here on partitions {names} of {topic} could not be " +
            "committed before the partitions were lost: another process that gets them runs them " +
            "again (this one skips them).",
          { ...fields, files },
        );
      }
    }
    this.#run.tracker.forget(event.partitions);
    this.#run.results?.forget(event.partitions);
    for (const assembly of assembler.inProgress) {
      assembly.dropPartitions(gone);
      if (assembly.sources.length === 0) await assembler.discard(assembly);
    }
  }
}
