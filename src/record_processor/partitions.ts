/**
 * A record processor's partitions over their lifetime: on assignment an instance is opened on
 * a worker (at the group's committed offset), on a revoke or loss it is closed once its running
 * batch is done (up to the stop grace; past it the partition is given up and nothing more is
 * committed for it), and its checkpoints are committed only while the partition is this
 * process's (fencing errors answer `lost`, other refusals `invalid`, transient ones `failed`
 * after retries). Checkpoints wait while a classic cooperative rebalance goes on
 * (`commit_gate.ts`): the group coordinator refuses commits between its rounds
 * (ILLEGAL_GENERATION), and librdkafka before 2.10.0 also counts such a refusal as a lost
 * assignment (confluentinc/librdkafka#4059); 2.10.0+ keeps the assignment but the commit is still
 * refused, so the wait stays on every version. The consumer protocol (KIP-848) has no rounds:
 * nothing waits.
 *
 * @module
 */

import { RecordResultsError, type ResultBatch } from "./results.ts";
import { getLogger } from "@logtape/logtape";
import {
  isFencingError,
  type KafkaError,
  Offset,
  partitionKey,
  type RebalanceEvent,
  type TopicPartition,
} from "../kafka/mod.ts";
import type { WorkerChannel } from "../workers/channel.ts";
import type { CheckpointFailure } from "../workers/protocol.ts";
import { errorText } from "../processor/errors.ts";
import type { CommitGate } from "../processor/commit_gate.ts";
import { type PartitionState, type RecordRunState, sleep } from "./run_state.ts";

const logger = getLogger(["ferry", "record-processor"]);

/**
 * Where assigned partitions start, for the log: at the group's committed offset, or (with none)
 * where `auto.offset.reset` says, grouped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeStarts } from "./partitions.ts";
 *
 * const starts = [{ partition: 0, offset: 120 }, { partition: 1, offset: -1001 }, {
 *   partition: 2,
 *   offset: -1001,
 * }];
 * assert.equal(
 *   describeStarts(starts, "earliest"),
 *   "0 at offset 120; 1, 2 from the beginning (no commit)",
 * );
 * assert.equal(
 *   describeStarts(starts.slice(1, 2), "latest"),
 *   "1 from the end (no commit, auto.offset.reset latest)",
 * );
 * ```
 *
 * @param partitions Each partition with its committed offset (negative: none).
 * @param reset The consumer's `auto.offset.reset`.
 * @returns The text.
 */
export function describeStarts(
  partitions: readonly { partition: number; offset: number }[],
  reset: string,
): string {
  const parts = partitions.filter((p) => p.offset >= 0)
    .map((p) => `${p.partition} at offset ${p.offset}`);
  const none = partitions.filter((p) => p.offset < 0).map((p) => p.partition);
  if (none.length > 0) {
    const where = ["earliest", "smallest", "beginning"].includes(reset)
      ? "from the beginning (no commit)"
      : ["latest", "largest", "end"].includes(reset)
      ? `from the end (no commit, auto.offset.reset ${reset})`
      : `where auto.offset.reset ${reset} says (no commit)`;
    parts.push(`${none.join(", ")} ${where}`);
  }
  return parts.join("; ");
}

/** Opens, closes and checkpoints a run's partitions (see the module). */
export class PartitionLifecycle {
  readonly #run: RecordRunState;
  /** The workers the instances are spread over, in turn. */
  readonly #workers: readonly WorkerChannel[];
  /** Resolves once every worker is ready, false when one could not start. */
  readonly #workersReady: () => Promise<boolean>;
  readonly #waiters = new Map<string, Set<() => void>>();
  /** Holds checkpoints while a cooperative rebalance goes on (see checkpoint). */
  readonly #gate: CommitGate;
  #nextInstance = 1;
  #nextWorker = 0;
  #everAssigned = false;
  #lastAssignedAt = 0;
  #rejoining = false;

  constructor(
    run: RecordRunState,
    workers: readonly WorkerChannel[],
    workersReady: () => Promise<boolean>,
    gate: CommitGate,
  ) {
    this.#gate = gate;
    this.#run = run;
    this.#workers = workers;
    this.#workersReady = workersReady;
  }

  /** Whether the group ever gave this process an assignment (maybe an empty one). */
  get everAssigned(): boolean {
    return this.#everAssigned;
  }

  /**
   * Whether partitions were lost (the session ended, during a broker outage say) and the group
   * has not assigned this process again yet: not idle meanwhile, or `--exit-when-idle` would end
   * the run before its records are checkpointed.
   */
  get rejoining(): boolean {
    return this.#rejoining;
  }

  /** When the last assignment came (ms since the epoch): idle counts from it too. */
  get lastAssignedAt(): number {
    return this.#lastAssignedAt;
  }

  /**
   * Waits until `ready()` holds, checked whenever `key` is woken; gives up after the timeout.
   * Resolves with whether `ready()` held.
   */
  #waitFor(key: string, timeoutMs: number, ready: () => boolean): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(key);
      if (!waiters) this.#waiters.set(key, waiters = new Set());
      const check = () => {
        if (ready()) done(true);
      };
      const done = (held: boolean) => {
        clearTimeout(timer);
        waiters.delete(check);
        if (waiters.size === 0 && this.#waiters.get(key) === waiters) this.#waiters.delete(key);
        resolve(held);
      };
      const timer = setTimeout(() => {
        logger.debug("Gave up waiting for {key} after {ms} ms.", { key, ms: timeoutMs });
        done(false);
      }, timeoutMs);
      waiters.add(check);
    });
  }

  /** Wakes what waits on `key` (see #waitFor). */
  wake(key: string): void {
    for (const check of [...this.#waiters.get(key) ?? []]) check();
  }

  /** The consumer's rebalance events: opens assigned partitions, closes revoked and lost ones. */
  async onRebalance(event: RebalanceEvent): Promise<void> {
    this.#gate.rebalance(event);
    const topic = this.#run.settings.topic;
    const logRebalance = (starts?: string) => {
      const names = event.partitions.map((p) => p.partition).join(", ");
      const fields = { names, topic, kind: event.kind, starts };
      if (names === "") logger.debug("No partitions of {topic} {kind} (an empty round).", fields);
      else if (starts === undefined) logger.info("Partitions {names} of {topic} {kind}.", fields);
      else logger.info("Partitions {names} of {topic} {kind}, starting {starts}.", fields);
    };
    if (event.kind === "assigned") {
      // Stopping: the close that follows revokes them again.
      if (this.#run.fatal) return logRebalance();
      this.#everAssigned = true;
      this.#rejoining = false;
      this.#lastAssignedAt = Date.now();
      let committed: { offset: number }[] = event.partitions.map(() => ({ offset: -1001 }));
      let read = false;
      try {
        committed = await this.#run.consumer.committed(event.partitions, 10_000);
        read = true;
        await this.#startUncommitted(event.partitions.filter((_, i) => committed[i].offset < 0));
      } catch (error) {
        logger.warn("Could not read committed offsets: {error}", { error: errorText(error) });
      }
      logRebalance(
        read
          ? describeStarts(
            event.partitions.map((tp, i) => ({
              partition: tp.partition,
              offset: committed[i].offset,
            })),
            String(this.#run.settings.kafka["auto.offset.reset"] ?? "earliest"),
          )
          : "where the group's committed offsets say (they could not be read here)",
      );
      // librdkafka fetches meanwhile; a worker that could not start stops the run instead.
      if (!await this.#workersReady()) return;
      event.partitions.forEach((tp, i) => this.#open(tp, committed[i].offset));
      return;
    }
    logRebalance();
    const states = event.partitions
      .map((tp) => this.#run.partitions.get(partitionKey(tp)))
      .filter((s): s is PartitionState => s !== undefined);
    if (event.kind === "lost") {
      this.#rejoining = true;
      this.#reportUncheckpointed(states);
    }
    await Promise.all(
      states.map((state) => this.close(state, event.kind === "lost" ? "lost" : "revoked")),
    );
  }

  /**
   * After a loss: how many records the lost partitions' instances were given and had not
   * checkpointed (the partitions' next owner gets them again).
   */
  #reportUncheckpointed(states: readonly PartitionState[]): void {
    // Where the partition has no checkpoint yet, where its records began is not known here.
    const parts = states.filter((state) => state.committedAt !== undefined).map((state) => ({
      partition: state.tp.partition,
      records: Math.max(0, state.sentUpTo - state.committedAt!),
    })).filter((p) => p.records > 0);
    if (parts.length === 0) return;
    logger.warn(
      "{records} record(s) given to processRecords on partitions {names} of {topic} were not " +
        "checkpointed before the partitions were lost: their next owner gets them again.",
      {
        records: parts.reduce((sum, p) => sum + p.records, 0),
        names: parts.map((p) => p.partition).join(", "),
        topic: this.#run.settings.topic,
      },
    );
  }

  /**
   * Starts partitions without a committed offset at once where `auto.offset.reset` says
   * where: librdkafka 2.0.2 otherwise looks the reset offset up on a timer, about 100 ms
   * after the assignment (measured: first record 100-140 ms after the assignment, 5 ms with
   * the seek).
   */
  async #startUncommitted(partitions: TopicPartition[]): Promise<void> {
    const reset = String(this.#run.settings.kafka["auto.offset.reset"] ?? "earliest");
    const offset = ["earliest", "smallest", "beginning"].includes(reset)
      ? Offset.BEGINNING
      : ["latest", "largest", "end"].includes(reset)
      ? Offset.END
      : undefined;
    if (offset === undefined || partitions.length === 0) return;
    try {
      await this.#run.consumer.seek(partitions.map((tp) => ({ ...tp, offset })), 5_000);
    } catch (error) {
      // Only a head start: librdkafka's own reset follows anyway.
      logger.debug("Could not seek {partitions} to {reset}: {error}", {
        partitions: partitions.map((tp) => tp.partition).join(", "),
        reset,
        error: errorText(error),
      });
    }
  }

  #open(tp: TopicPartition, committed: number): void {
    const key = partitionKey(tp);
    const worker = this.#workers[this.#nextWorker++ % this.#workers.length];
    const state: PartitionState = {
      tp,
      key,
      id: `${key}#${this.#nextInstance++}`,
      worker,
      buffer: [],
      bufferedRecords: 0,
      bufferedBytes: 0,
      inflight: undefined,
      inflightRecords: 0,
      inflightDone: { processed: 0, skipped: 0 },
      sentUpTo: committed >= 0 ? committed : 0,
      abandoned: false,
      committedAt: committed >= 0 ? committed : undefined,
      opened: false,
      closing: false,
      closed: false,
      lost: false,
      stopped: false,
      paused: false,
    };
    this.#run.partitions.set(key, state);
    this.#run.instances.set(state.id, state);
    worker.post({
      type: "open",
      key: state.id,
      topic: tp.topic,
      partition: tp.partition,
      startOffset: committed >= 0 ? committed : undefined,
      autoCheckpoint: this.#run.settings.autoCheckpoint,
      producesResults: this.#run.settings.results !== undefined,
      retries: this.#run.settings.retries,
      retryBackoffMs: 200,
      errorPolicy: this.#run.settings.errorPolicy,
      maxBatch: this.#run.settings.maxBatch,
    });
  }

  /**
   * Ends a partition's instance: waits for its running batch up to the stop grace, then asks
   * for shutdownRequested and shutdown (the worker runs them only after the batch, never beside
   * it). A batch still running after the grace gives the partition up: nothing more is
   * committed for it (its records come again), and on a stop its instance gets no shutdown
   * calls (the process exits).
   */
  async close(state: PartitionState, reason: "revoked" | "lost" | "stopped"): Promise<void> {
    state.closing = true;
    state.buffer.length = 0;
    state.bufferedRecords = 0;
    state.bufferedBytes = 0;
    if (reason === "lost") state.lost = true;
    const grace = this.#run.settings.stopGraceMs;
    // A batch holds several processRecords calls: only the running one is waited for.
    if (state.inflight !== undefined) state.worker.post({ type: "yield", key: state.id });
    const idle = await this.#waitFor(`idle:${state.id}`, grace, () => state.inflight === undefined);
    if (!idle) {
      state.abandoned = true;
      this.#run.status.abandonedPartitions++;
      const from = state.committedAt === undefined
        ? "its records"
        : `its records from offset ${state.committedAt}`;
      const when = reason === "stopped" ? "on the next start" : "by the partition's next owner";
      logger.warn(
        `processRecords on partition {partition} was still running {seconds} s after the ` +
          `${reason === "stopped" ? "stop" : "revoke"}: nothing more is committed for it; ` +
          `${from} will be read again ${when} (--stop-grace sets the wait).`,
        { partition: state.tp.partition, seconds: grace / 1000 },
      );
    }
    if (!idle && reason === "stopped") {
      // The process exits without waiting for the batch: no shutdown calls beside it.
      this.#forget(state);
      return;
    }
    await this.#waitFor(`opened:${state.id}`, grace, () => state.opened || state.stopped);
    // A given-up instance is told it was lost: its shutdown comes after its batch ends.
    state.worker.post({ type: "close", key: state.id, reason: idle ? reason : "lost" });
    if (idle) await this.#waitFor(`closed:${state.id}`, grace, () => state.closed);
    this.#forget(state);
  }

  #forget(state: PartitionState): void {
    if (this.#run.partitions.get(state.key) === state) this.#run.partitions.delete(state.key);
    this.#run.instances.delete(state.id);
  }

  /** A checkpoint request of an instance: commits, and answers the worker. */
  async checkpoint(
    worker: WorkerChannel,
    key: string,
    requestId: number,
    offset: number,
    results: readonly ResultBatch[] = [],
  ): Promise<void> {
    let state = this.#run.instances.get(key);
    if (state && !state.closing && !this.#gate.open) {
      // librdkafka 2.0.2 treats a commit refused with ILLEGAL_GENERATION while a cooperative
      // rebalance rejoins as a lost assignment (confluentinc/librdkafka#4059): wait it out.
      await this.#gate.wait();
      state = this.#run.instances.get(key);
    }
    let failure: CheckpointFailure | undefined;
    if (!state || state.lost || this.#run.partitions.get(state.key) !== state) {
      failure = { kind: "lost", message: `Partition "${key}" is no longer assigned here.` };
    } else if (state.abandoned) {
      failure = {
        kind: "lost",
        message: `Partition "${key}" was given up after the stop grace: nothing more is ` +
          `committed for it.`,
      };
    } else if (!Number.isSafeInteger(offset) || offset < 0 || offset > state.sentUpTo) {
      // The instance checks this too: never commit what was not delivered.
      failure = {
        kind: "invalid",
        message: `Cannot commit partition "${key}" at offset ${offset}: only offsets up to ` +
          `${state.sentUpTo} were delivered.`,
      };
    } else if (this.#run.results) {
      failure = await this.#commitWithResults(state, offset, results);
    } else {
      failure = await this.#commitWithRetries(state, offset);
    }
    worker.post({ type: "checkpoint-result", requestId, ...(failure ? { error: failure } : {}) });
  }

  /**
   * Commits one partition's offset with the results of the batches it covers (see
   * `results.ts`): at least once, the results first; exactly once, in one transaction.
   */
  async #commitWithResults(
    state: PartitionState,
    offset: number,
    results: readonly ResultBatch[],
  ): Promise<CheckpointFailure | undefined> {
    const sink = this.#run.results!;
    try {
      await sink.commit(state.tp, offset, results, this.#run.consumer, async () => {
        const failure = await this.#commitWithRetries(state, offset);
        if (failure) {
          throw new RecordResultsError(
            failure.message,
            failure.kind === "lost" ? "lost" : "failed",
          );
        }
      });
      state.committedAt = offset;
      return undefined;
    } catch (error) {
      if (!(error instanceof RecordResultsError)) throw error;
      if (error.kind === "fatal") this.#run.fail(error);
      if (error.kind === "lost") state.lost = true;
      return { kind: error.kind === "lost" ? "lost" : "failed", message: error.message };
    }
  }

  /**
   * Commits one partition's offset: retriable errors are retried (5 attempts with backoff,
   * then `failed`), fencing errors are `lost` at once, any other error is `invalid` (retrying
   * cannot help: not authorized, offset out of range...).
   */
  async #commitWithRetries(
    state: PartitionState,
    offset: number,
  ): Promise<CheckpointFailure | undefined> {
    for (let attempt = 1;; attempt++) {
      try {
        await this.#run.consumer.commit([{ ...state.tp, offset }]);
        state.committedAt = offset;
        return undefined;
      } catch (error) {
        if (isFencingError(error)) {
          state.lost = true;
          return {
            kind: "lost",
            message: `Partition "${state.key}" is no longer this member's: ${errorText(error)}`,
          };
        }
        if ((error as KafkaError).retriable !== true) {
          return { kind: "invalid", message: errorText(error) };
        }
        if (attempt >= 5) return { kind: "failed", message: errorText(error) };
        await sleep(100 * 2 ** attempt);
      }
    }
  }
}
