/**
 * The coordinator of a record processor: one consumer in the group, one processor instance per
 * assigned partition living in a worker, batches in offset order (one in flight per
 * partition), checkpoints committed on the instance's request, pause/resume as backpressure,
 * and the lifecycle on assign, revoke, loss and stop.
 *
 * @module
 */

import { RecordResults, recordTransactionalId } from "./results.ts";
import { checkOutputTopic } from "../processor/output_topic.ts";
import { getLogger } from "@logtape/logtape";
import {
  Admin,
  checkBrokerGroupProtocol,
  Consumer,
  groupProtocolConfig,
  groupProtocolOf,
  isFencingError,
  type KafkaError,
  partitionKey,
  type TopicPartition,
} from "../kafka/mod.ts";
import { fetcherSettings, type FetcherWaker, fetcherWakerFor } from "../kafka/fetcher_waker.ts";
import { configForRole } from "../kafka/config.ts";
import { type PartitionLag, recordRunMetrics, serveMetrics } from "../command/metrics.ts";
import { formatBytes, roundSeconds } from "../command/progress.ts";
import { GroupIdleCheck } from "../processor/group_idle.ts";
import { joinStateConfig, JoinStateWatch, joinStateWatched } from "../kafka/join_state.ts";
import {
  describeMembership,
  type Membership,
  membershipConfig,
  membershipTimes,
} from "../processor/membership.ts";
import { CommitGate } from "../processor/commit_gate.ts";
import { restartWhenSelfFenced } from "../processor/self_fencing.ts";
import { JoinWait } from "../processor/join_wait.ts";
import { StrandedPartitions } from "../processor/stranded_partitions.ts";
import { WorkerChannel } from "../workers/channel.ts";
import type { FromWorker } from "../workers/protocol.ts";
import { runBytes, splitRuns } from "./batch.ts";
import { BatchFlow } from "./batches.ts";
import { PartitionLifecycle } from "./partitions.ts";
import {
  type PartitionState,
  POLL_BYTES,
  POLL_MESSAGES,
  type RecordRunSettings,
  type RecordRunState,
  type RecordRunStatus,
} from "./run_state.ts";

export type { RecordRunSettings, RecordRunStatus } from "./run_state.ts";

const logger = getLogger(["ferry", "record-processor"]);

/** Runs a record processor until stopped or idle; resolves with the final status. */
export async function runRecordProcessor(settings: RecordRunSettings): Promise<RecordRunStatus> {
  // A static member fenced by its own session timeout starts again (`self_fencing.ts`).
  return await restartWhenSelfFenced(() => new RecordRunner(settings).run());
}

/**
 * Runs the loop and routes the workers' messages; the partitions' lifecycle and checkpoints are
 * {@linkcode PartitionLifecycle}'s (`partitions.ts`), batches and failures {@linkcode BatchFlow}'s
 * (`batches.ts`), sharing one `RecordRunState` (`run_state.ts`).
 */
class RecordRunner {
  readonly #s: RecordRunSettings;
  readonly #partitions = new Map<string, PartitionState>();
  /** Every instance not yet closed, by id (a closing one may no longer be in #partitions). */
  readonly #instances = new Map<string, PartitionState>();
  readonly #workers: WorkerChannel[] = [];
  /** Resolves once every worker is ready; rejects when one could not start. */
  #workersReady: Promise<true> = Promise.resolve(true);
  readonly #started = Date.now();
  /** Explains a long wait for the first assignment (set when the consumer subscribes). */
  #joinWait: JoinWait | undefined;
  /** librdkafka 2.0.2's join state, for the commit gate (`join_state.ts`). */
  #joinState: JoinStateWatch | undefined;
  #consumer!: Consumer;
  /** Whether the whole group caught up, for `exitWhenIdleMs` (made once the group is known). */
  #groupIdle: GroupIdleCheck | undefined;
  /** None with librdkafka 2.2.0+ (see {@linkcode fetcherSettings}). */
  #fetchers: FetcherWaker | undefined;
  /** Rejoins a stable group that gives partitions to nobody (classic protocol). */
  #stranded: StrandedPartitions | undefined;
  readonly #lifecycle: PartitionLifecycle;
  readonly #batches: BatchFlow;
  #lastMessageAt = Date.now();
  #lastStatusAt = Date.now();
  #fatal: Error | undefined;
  readonly #status: RecordRunStatus = {
    records: 0,
    skippedRecords: 0,
    bytes: 0,
    failedBatches: 0,
    stoppedPartitions: 0,
    partitions: 0,
    lag: 0,
    partitionLags: [],
    abandonedPartitions: 0,
    seconds: 0,
  };

  /** Where results go (`--output-topic`). */
  #results: RecordResults | undefined;

  constructor(settings: RecordRunSettings) {
    this.#s = settings;
    // The parts reach the consumer and the fatal error through the runner, as they change.
    // deno-lint-ignore no-this-alias
    const runner = this;
    const state: RecordRunState = {
      settings,
      status: this.#status,
      partitions: this.#partitions,
      instances: this.#instances,
      get consumer() {
        return runner.#consumer;
      },
      get results() {
        return runner.#results;
      },
      get fatal() {
        return runner.#fatal;
      },
      fail: (error) => this.#fail(error),
      onKafkaError: (error) => this.#onKafkaError(error),
    };
    const { failoverMs, heartbeatMs } = membershipTimes(settings.kafka, settings.failoverSeconds);
    this.#lifecycle = new PartitionLifecycle(
      state,
      this.#workers,
      () => this.#workersReady.catch(() => false),
      new CommitGate({
        failoverMs,
        heartbeatMs,
        protocol: groupProtocolOf(settings.kafka),
        rejoiningMs: () => this.#joinState?.rejoiningMs ?? 0,
      }),
    );
    this.#batches = new BatchFlow(state);
  }

  /** The first assignment (maybe empty) after joining: says how long the join took. */
  #noteAssigned(): void {
    const seconds = this.#joinWait?.assigned();
    if (seconds === undefined) return;
    logger.info("First assignment {seconds} s after joining group {group}.", {
      seconds,
      group: this.#s.group,
    });
  }

  async run(): Promise<RecordRunStatus> {
    const s = this.#s;
    // Start-up runs side by side: the workers load the user's script while the topic is
    // checked and the group is joined (measured: 0.2-0.6 s of a 256 MiB run otherwise).
    for (let i = 0; i < s.workers; i++) {
      this.#workers.push(
        new WorkerChannel({
          type: "init",
          workerIndex: i,
          scriptUrl: s.scriptUrl,
          name: s.name,
          outputDir: "",
          topic: s.topic,
          mode: "memory",
          options: s.options,
          logLevel: s.logLevel,
        }, {
          onMessage: (message) => this.#onWorkerMessage(message, this.#workers[i]),
          onDeath: (reason) =>
            this.#fail(new Error(`A worker died: ${reason}; its partitions stop.`)),
        }),
      );
    }
    let membership: Membership | undefined;
    try {
      let partitionCount: number;
      {
        await using admin = new Admin(configForRole(s.kafka, "admin"), { onError: () => {} });
        partitionCount = await admin.partitionCount(s.topic, 15_000);
        if (s.results) await checkOutputTopic(admin, s.results.topic);
      }
      if (s.results) {
        this.#results = await RecordResults.open(
          s.results,
          s.topic,
          recordTransactionalId(s.group, s.kafka),
        );
      }
      await checkBrokerGroupProtocol(s.kafka);
      membership = await membershipConfig(s.kafka, s.failoverSeconds, {
        kind: "records",
        group: s.group,
      });
      this.#consumer = new Consumer({
        "auto.offset.reset": "earliest",
        ...membership.config,
        // librdkafka sends one fetch request per broker at a time: while it waits at the
        // broker for partitions that are caught up (up to this long), a partition that was
        // paused or over the queue limits cannot fetch (measured: 500 ms pauses mid-read
        // with the default 500).
        "fetch.wait.max.ms": 100,
        ...fetcherSettings(),
        ...groupProtocolConfig(s.kafka),
        ...joinStateConfig(s.kafka),
        "group.id": s.group,
        "enable.auto.commit": false,
        "enable.auto.offset.store": false,
      }, {
        onRebalance: (event) => {
          if (event.kind === "assigned") this.#noteAssigned();
          return this.#lifecycle.onRebalance(event);
        },
        onError: (error) => this.#onKafkaError(error),
      });
      if (joinStateWatched(s.kafka)) this.#joinState = new JoinStateWatch(s.group);
      this.#joinWait = new JoinWait({
        group: s.group,
        failoverSeconds: membership.failoverSeconds,
        maxPollSeconds: Number(s.kafka["max.poll.interval.ms"] ?? 300_000) / 1000,
        instanceId: membership.instanceId,
      });
      this.#fetchers = fetcherWakerFor(this.#consumer);
      if (groupProtocolOf(s.kafka) === "classic") {
        this.#stranded = new StrandedPartitions(this.#consumer, {
          group: s.group,
          topic: s.topic,
          partitionCount,
          failoverMs: membership.failoverSeconds * 1000,
        });
      }
      this.#groupIdle = new GroupIdleCheck(this.#consumer, s.topic, s.group, {
        failoverMs: membership.failoverSeconds * 1000,
      });
      try {
        this.#consumer.subscribe([s.topic]);
        this.#joinWait.joined();
        // Polling starts at once: the group join and the first fetches overlap the workers'
        // start; partitions are opened on the workers once they are ready (#onRebalance).
        this.#workersReady = Promise.all(this.#workers.map((w) => w.ready)).then(() => true);
        this.#workersReady.catch((error) => {
          // Leave the group without opening anything: the workers are not there (run()
          // throws the error, so it is not logged here).
          this.#fatal ??= error instanceof Error ? error : new Error(String(error));
        });
        logger.info("Record processor {name} reading {topic} as group {group} ({membership}).", {
          name: s.name,
          topic: s.topic,
          group: s.group,
          membership: describeMembership(membership),
        });
        await using _metrics = s.metricsPort === undefined ? undefined : serveMetrics({
          port: s.metricsPort,
          collect: () => {
            const status = this.#snapshot();
            return recordRunMetrics(s.name, s.topic, status, status.partitionLags, s.group);
          },
        });
        await this.#loop();
        // Graceful stop: every instance gets shutdownRequested and shutdown("stopped") once
        // its batch is done; fenced (another member has the partitions): shutdown("lost").
        const reason = isFencingError(this.#fatal) ? "lost" : "stopped";
        await Promise.all(
          [...this.#partitions.values()].map((state) => this.#lifecycle.close(state, reason)),
        );
      } finally {
        this.#joinWait.stop();
        await this.#consumer.close();
        this.#joinState?.[Symbol.dispose]();
      }
    } finally {
      await this.#results?.close();
      await membership?.release();
      await this.#batches.close();
      for (const worker of this.#workers) worker.post({ type: "shutdown" });
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(this.#workers.map((w) => w.stopped)),
        new Promise((resolve) => timer = setTimeout(resolve, 2000)),
      ]);
      clearTimeout(timer);
      for (const worker of this.#workers) worker.terminate();
    }
    this.#report(true);
    if (this.#fatal) throw this.#fatal;
    return this.#snapshot();
  }

  async #loop(): Promise<void> {
    const s = this.#s;
    while (!s.signal?.aborted && !this.#fatal) {
      // One buffer of keys and values per poll, split into runs of one partition each.
      let batch;
      try {
        batch = await this.#consumer.pollBatch({
          maxMessages: POLL_MESSAGES,
          maxBytes: POLL_BYTES,
          timeoutMs: 100,
        });
      } catch (error) {
        // A fatal client error ends the loop; the instances still close in order.
        if (!(error instanceof Error) || !(error as KafkaError).fatal) throw error;
        this.#fail(error);
        break;
      }
      this.#fetchers?.polled(batch.length);
      // Not after a loss (the broker may be away; the group assigns again by itself).
      if (!this.#lifecycle.rejoining) this.#stranded?.tick(this.#consumer.assignment().length);
      if (batch.length > 0) this.#lastMessageAt = Date.now();
      for (const run of splitRuns(batch)) {
        const tp = { topic: batch.topics[run.from], partition: batch.partitions[run.from] };
        const state = this.#partitions.get(partitionKey(tp));
        if (!state || state.closing || state.stopped) continue;
        state.buffer.push(run);
        state.bufferedRecords += run.to - run.from;
        state.bufferedBytes += runBytes(run);
      }
      for (const state of this.#partitions.values()) this.#batches.pump(state);
      if (Date.now() - this.#lastStatusAt >= s.statusIntervalMs) this.#report(false);
      if (s.exitWhenIdleMs !== undefined && await this.#idle(s.exitWhenIdleMs)) break;
    }
  }

  /**
   * Whether the run is caught up: nothing buffered or running, every assigned partition read
   * to its end, and the group caught up too (see `group_idle.ts`).
   */
  async #idle(idleMs: number): Promise<boolean> {
    if (
      !this.#lifecycle.everAssigned || this.#lifecycle.rejoining ||
      Date.now() - this.#lifecycle.lastAssignedAt < idleMs ||
      Date.now() - this.#lastMessageAt < idleMs
    ) return false;
    for (const state of this.#partitions.values()) {
      if (state.inflight !== undefined || state.bufferedRecords > 0) return false;
    }
    const assigned = this.#consumer.assignment();
    for (const position of this.#consumer.position(assigned)) {
      const state = this.#partitions.get(partitionKey(position));
      if (state?.stopped) continue;
      // The high watermark of the last fetch response: asking the broker would wait behind
      // the fetch in flight on the same connection (up to fetch.wait.max.ms).
      let { high } = this.#consumer.cachedWatermarks(position.topic, position.partition);
      if (high < 0) {
        ({ high } = await this.#consumer.queryWatermarks(position.topic, position.partition));
      }
      if (
        position.offset >= 0
          ? position.offset < high
          : high > 0 && !(await this.#committedAt(position, high))
      ) {
        return false;
      }
    }
    // Caught up on its own partitions (maybe none): the group must be too, or this process
    // would exit mid-rebalance, or while partitions it gave up have lag and no owner.
    return await this.#groupIdle?.idle(assigned.map((tp) => tp.partition)) ?? false;
  }

  async #committedAt(tp: TopicPartition, high: number): Promise<boolean> {
    const [committed] = await this.#consumer.committed([tp], 5000);
    return committed.offset >= high;
  }

  #onWorkerMessage(message: FromWorker, worker: WorkerChannel): void {
    switch (message.type) {
      case "opened": {
        const state = this.#instances.get(message.key);
        if (!state) return;
        if (message.error) {
          logger.error("initialize failed for {key}: {error}", {
            key: state.key,
            error: message.error.message,
          });
          this.#batches.stopPartition(state);
        } else state.opened = true;
        this.#lifecycle.wake(`opened:${message.key}`);
        this.#batches.pump(state);
        break;
      }
      case "batch-progress": {
        const state = this.#instances.get(message.key);
        if (!state || state.inflight !== message.batchId) return;
        this.#countDone(state, message);
        break;
      }
      case "batch-done": {
        const state = this.#instances.get(message.key);
        if (!state || state.inflight !== message.batchId) return;
        this.#countDone(state, message);
        if (message.error && !message.lost) {
          // The partition waits (nothing else in flight) until the failure is dealt with.
          this.#batches.batchFailed(state, message.error, message.records ?? []);
        }
        state.inflight = undefined;
        state.inflightRecords = 0;
        this.#lifecycle.wake(`idle:${message.key}`);
        this.#batches.pump(state); // the next batch at once, not after the next poll
        break;
      }
      case "checkpoint":
        this.#lifecycle.checkpoint(
          worker,
          message.key,
          message.requestId,
          message.offset,
          message.results ?? [],
        );
        break;
      case "skip":
        this.#batches.skip(worker, message.requestId, message.records, message.error);
        break;
      case "closed": {
        const state = this.#instances.get(message.key);
        if (state) state.closed = true;
        this.#lifecycle.wake(`closed:${message.key}`);
        break;
      }
    }
  }

  /**
   * Counts what a batch in flight has handled so far (`done`: its totals, from its
   * `batch-progress` or `batch-done`): those records are no longer lag.
   */
  #countDone(state: PartitionState, done: { processed: number; skipped: number }): void {
    const processed = done.processed - state.inflightDone.processed;
    const skipped = done.skipped - state.inflightDone.skipped;
    this.#status.records += processed;
    this.#status.skippedRecords += skipped;
    state.inflightRecords = Math.max(0, state.inflightRecords - processed - skipped);
    state.inflightDone = { processed: done.processed, skipped: done.skipped };
  }

  #onKafkaError(error: KafkaError): void {
    if (error.fatal) this.#fail(error);
    else logger.warn("Kafka: {message}", { message: error.message });
    this.#stranded?.noteError(error);
  }

  #fail(error: Error): void {
    if (!this.#fatal) {
      this.#fatal = error;
      logger.error("Stopping: {error}", { error: error.message });
    }
  }

  #snapshot(): RecordRunStatus {
    const partitionLags = this.#partitionLags();
    return {
      ...this.#status,
      partitions: this.#partitions.size,
      lag: partitionLags.reduce((sum, p) => sum + p.lag, 0),
      partitionLags,
      seconds: (Date.now() - this.#started) / 1000,
    };
  }

  /**
   * Each assigned partition's lag: records after the next one to process (what is buffered
   * here or in a batch not done yet counts as lag), from the last fetch's high watermark,
   * without a request.
   */
  #partitionLags(): PartitionLag[] {
    const lags: PartitionLag[] = [];
    if (!this.#consumer) return lags;
    for (const state of this.#partitions.values()) {
      if (state.closing) continue;
      const { high } = this.#consumer.cachedWatermarks(state.tp.topic, state.tp.partition);
      const [position] = this.#consumer.position([state.tp]);
      if (high < 0 || position === undefined || position.offset < 0) continue;
      const next = position.offset - state.bufferedRecords - state.inflightRecords;
      lags.push({ ...state.tp, lag: Math.max(0, high - next), offset: next, end: high });
    }
    return lags.sort((a, b) => a.partition - b.partition);
  }

  #report(final: boolean): void {
    this.#lastStatusAt = Date.now();
    const status = this.#snapshot();
    this.#s.onStatus?.(status);
    if (final) {
      logger.info(
        "Summary: {records} records in {seconds} s ({size}), {skippedRecords} skipped, " +
          "{failedBatches} failed batches, {stoppedPartitions} stopped partitions, " +
          "{abandonedPartitions} partitions given up at the stop grace.",
        {
          ...status,
          seconds: roundSeconds(status.seconds),
          size: formatBytes(status.bytes),
        },
      );
    }
  }
}
