/**
 * A file processor's offset commits and what a rebalance takes away: what settled is committed
 * about once a second (not awaited: a commit waits for the group coordinator), after one
 * `fdatasync` of the registry logs (group commit), and never past an unsettled message; a
 * partition being revoked first lets its running files finish (up to the stop grace), then
 * commits what settled; files in progress lose the chunks of partitions taken away.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { errorText } from "../processor/errors.ts";
import type { Consumer, RebalanceEvent, TopicPartition } from "../kafka/mod.ts";
import type { RunState } from "./run_state.ts";
import { ResultsStoppedError } from "./results.ts";

const logger = getLogger(["ferry", "file-processor"]);

/** How often settled offsets are committed while the run goes on (ms). */
const COMMIT_EVERY_MS = 1000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Commits a run's settled offsets (see the module's description). */
export class OffsetCommits {
  readonly #run: RunState;
  readonly #consumer: Consumer;
  /** Whether the broker is known to be away (commits wait, failures are not warned about). */
  readonly #brokerDown: () => boolean;
  #lastCommitAt = 0;
  /** The periodic commit in flight. */
  #committing: Promise<void> | undefined;

  constructor(run: RunState, consumer: Consumer, brokerDown: () => boolean) {
    this.#run = run;
    this.#consumer = consumer;
    this.#brokerDown = brokerDown;
  }

  /** Starts a commit when the last one is a second old and none is in flight. */
  commitSoon(): void {
    if (
      (Date.now() - this.#lastCommitAt >= COMMIT_EVERY_MS || this.#run.results?.full) &&
      !this.#committing &&
      !this.#brokerDown()
    ) {
      this.#committing = this.commit().finally(() => this.#committing = undefined);
    }
  }

  /** The last commit of a run: after the one in flight, unless the broker is away. */
  async finish(): Promise<void> {
    if (this.#brokerDown()) return;
    await this.#committing;
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
      // While the broker is away the outage has been reported; the commit is retried later.
      const message = "Committing offsets failed (will retry): {error}";
      if (this.#brokerDown()) logger.debug(message, { error: errorText(error) });
      else logger.warn(message, { error: errorText(error) });
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
    if (event.kind === "revoked") {
      const deadline = Date.now() + settings.stopGraceMs;
      while (
        [...running.values()].some((r) => r.sources.some((src) => gone.has(src.partition))) &&
        Date.now() < deadline
      ) await sleep(50);
      await this.commit(event.partitions);
    }
    const names = event.partitions.map((p) => p.partition).join(", ");
    const fields = { names, topic: settings.topic, kind: event.kind };
    if (names === "") logger.debug("No partitions of {topic} {kind} (an empty round).", fields);
    else logger.info("Partitions {names} of {topic} {kind}.", fields);
    this.#run.tracker.forget(event.partitions);
    this.#run.results?.forget(event.partitions);
    for (const assembly of assembler.inProgress) {
      assembly.dropPartitions(gone);
      if (assembly.sources.length === 0) await assembler.discard(assembly);
    }
  }
}
