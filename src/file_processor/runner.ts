/**
 * The coordinator of a file processor, on the main thread: start-up (topic check, output
 * folder, registry, worker pool, hash lane, consumer), the poll loop with backpressure and the
 * broker watch, idle detection, and the stop. Its parts: {@linkcode ChunkIntake} (messages to
 * files, `intake.ts`), {@linkcode FileOutcomes} (files through `process` into the registry,
 * `outcomes.ts`), {@linkcode OffsetCommits} (commits and rebalances, `commits.ts`), sharing one
 * `RunState` (`run_state.ts`); and the rules it follows, each in its own file: the poll sizes and
 * backpressure (`poll_pacing.ts`), the partitions it reads now (`ownership.ts`), the lag
 * (`lag.ts`), the start-up checks (`start_checks.ts`), the close with the broker away
 * (`outage_close.ts`) and the closing summary (`summary.ts`). Because every chunk a process
 * reads goes to one assembler, files whose chunks are spread over partitions (topics written by
 * OpenMSIStream) complete with any number of workers; Ferry-written topics keep a file in one
 * partition, so several processes in one group split the work.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { FileHashLane } from "../hash/file_hash_lane.ts";
import { backgroundSha512 } from "../hash/background.ts";
import { type ChunkSource, FileAssembler } from "../files/reassembly.ts";
import { PARTIAL_DIR } from "../files/layout.ts";
import { writeRunMarker } from "../files/run_marker.ts";
import { sweepEmptyFailedFolders } from "../files/failed_copies.ts";
import {
  checkBrokerGroupProtocol,
  Consumer,
  groupProtocolConfig,
  groupProtocolOf,
  type KafkaError,
  type RebalanceEvent,
} from "../kafka/mod.ts";
import { fetcherSettings, type FetcherWaker, fetcherWakerFor } from "../kafka/fetcher_waker.ts";
import { FileRegistry } from "../registry/registry.ts";
import { GroupIdleCheck } from "../processor/group_idle.ts";
import { joinStateConfig, JoinStateWatch, joinStateWatched } from "../kafka/join_state.ts";
import { describeMembership, membershipConfig } from "../processor/membership.ts";
import { JoinWait } from "../processor/join_wait.ts";
import { CommitGate } from "../processor/commit_gate.ts";
import { restartWhenSelfFenced } from "../processor/self_fencing.ts";
import { type PoolStopReport, WorkerPool } from "../workers/pool.ts";
import { fileRunMetrics, serveMetrics } from "../command/metrics.ts";
import { BrokerUnreachableError, BrokerWatch } from "./broker_watch.ts";
import { ChunkIntake } from "./intake.ts";
import { OffsetCommits } from "./commits.ts";
import { FileResults } from "./results.ts";
import { OffsetTracker } from "./offsets.ts";
import { FileOutcomes } from "./outcomes.ts";
import { NewPartitionsFirst } from "./new_partitions_first.ts";
import { PollPacing, QUEUED_MAX_KBYTES } from "./poll_pacing.ts";
import { partitionLags, unreadMessages } from "./lag.ts";
import { PartitionOwnership } from "./ownership.ts";
import { logRunSummary } from "./summary.ts";
import { checkOutputDir, checkTopics, warnIfGroupMovedOn } from "./start_checks.ts";
import { closeConsumer, exitIfStuck } from "./outage_close.ts";
import { StrandedPartitions } from "../processor/stranded_partitions.ts";
import type { FileRunSettings, RunningFile, RunState, RunStatus } from "./run_state.ts";

export type { FileRunSettings, RunStatus } from "./run_state.ts";

const logger = getLogger(["ferry", "file-processor"]);

/** How often the loop lets other events in while it handles a batch of messages (ms). */
const YIELD_EVERY_MS = 2;

/** Resolves after the events already queued (workers' messages, timers, I/O) were handled. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Runs a file processor until it is stopped, or until idle with `exitWhenIdleMs`.
 * Resolves with the final status.
 */
export async function runFileProcessor(settings: FileRunSettings): Promise<RunStatus> {
  // A static member fenced by its own session timeout starts again (`self_fencing.ts`).
  return await restartWhenSelfFenced(() => new FileRunner(settings).run());
}

class FileRunner {
  readonly #s: FileRunSettings;
  readonly #tracker = new OffsetTracker();
  readonly #assembler: FileAssembler;
  /** Whole-file hashes computed while chunks arrive (each byte hashed once per hash). */
  #hashes!: FileHashLane;
  readonly #running = new Map<string, RunningFile>();
  readonly #started = Date.now();
  #registry!: FileRegistry;
  #pool!: WorkerPool;
  #consumer!: Consumer;
  /** Whether the whole group caught up, for `exitWhenIdleMs` (made once the group is known). */
  #groupIdle: GroupIdleCheck | undefined;
  #intake!: ChunkIntake;
  #outcomes!: FileOutcomes;
  #commits!: OffsetCommits;
  /** Where results go (`--output-topic`). */
  #results: FileResults | undefined;
  #lastMessageAt = Date.now();
  #lastStatusAt = Date.now();
  #fatal: Error | undefined;
  #everAssigned = false;
  /**
   * Wakes librdkafka's fetchers while messages come in (see {@linkcode FetcherWaker}); none
   * with librdkafka 2.2.0+, which {@linkcode fetcherSettings} configures instead.
   */
  #fetchers: FetcherWaker | undefined;
  readonly #watch: BrokerWatch;
  /** Explains a long wait for the first assignment (set when the consumer subscribes). */
  #joinWait: JoinWait | undefined;
  /** The partitions this process reads now, and those given back (`ownership.ts`). */
  #ownership!: PartitionOwnership;
  /** Rejoins a stable group that gives partitions to nobody (classic protocol). */
  #stranded: StrandedPartitions | undefined;
  /** Partitions given to this process while it had others are read first. */
  #newFirst!: NewPartitionsFirst;
  /** Each poll's size and the backpressure (`poll_pacing.ts`). */
  #pacing!: PollPacing;
  readonly #status: RunStatus = {
    processed: 0,
    failed: 0,
    invalid: 0,
    skipped: 0,
    filtered: 0,
    malformed: 0,
    notChunks: 0,
    abandoned: 0,
    inProgress: 0,
    running: 0,
    bytes: 0,
    seconds: 0,
    lag: undefined,
    stopped: false,
    givenUp: 0,
    failedFiles: 0,
    retired: 0,
  };
  /** The topic's partition count, from the start-up check. */
  #partitionCount = 0;
  /** Whether polls lend the message values (see `PollOptions.borrowValues`). */
  readonly #lendValues: boolean;
  /** The message being handled by the loop, if any (it may use a lent value). */
  #handling: Promise<void> | undefined;
  /** Set before the consumer closes: the loop starts no other message. */
  #closing = false;

  constructor(settings: FileRunSettings) {
    this.#s = settings;
    // With libcrypto, files are hashed as their chunks arrive on OpenSSL's background threads,
    // from their buffer or from the chunks written to disk: a chunk's data then needs no copy
    // but the one into its file's buffer (none on disk), so the consumer lends the message
    // values instead of copying them (without libcrypto nothing changes: the hash lane).
    const sha = backgroundSha512();
    this.#lendValues = sha.engine === "openssl";
    this.#assembler = new FileAssembler({
      outputDir: settings.outputDir,
      mode: settings.mode,
      maxFiles: settings.maxPartialFiles,
      maxMemoryBytes: settings.maxPartialBytes,
      ...(this.#lendValues ? { hashes: sha } : {}),
    });
    this.#watch = new BrokerWatch({
      bootstrap: String(settings.kafka["bootstrap.servers"] ?? ""),
      limitMs: settings.brokerTimeoutMs ?? 0,
    });
  }

  async run(): Promise<RunStatus> {
    const s = this.#s;
    // Check the broker and topic first: a bad config or topic leaves nothing half-started.
    this.#partitionCount = await checkTopics(s.kafka, s.topic, s.results?.topic);
    await checkOutputDir(s.outputDir);
    this.#registry = await FileRegistry.open(s.outputDir, s.topic, s.group);
    await sweepEmptyFailedFolders(s.outputDir);
    // `ferry status` tells a running processor from a crashed one by this marker.
    await using _runMarker = await writeRunMarker(s.outputDir, {
      name: s.name,
      topic: s.topic,
      group: s.group,
    });
    await Deno.remove(`${s.outputDir}/${PARTIAL_DIR}`, { recursive: true }).catch(
      (error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      },
    );
    this.#pool = new WorkerPool({
      size: s.workers,
      jobTimeoutMs: s.processTimeoutMs,
      init: {
        scriptUrl: s.scriptUrl,
        name: s.name,
        outputDir: s.outputDir,
        topic: s.topic,
        mode: s.mode,
        options: s.options,
        logLevel: s.logLevel,
      },
    });
    if (s.results) {
      this.#results = await FileResults.open(s.results, s.topic, s.group, s.outputDir);
    }
    // Started here, stopped in the `finally` below: a worker left running keeps Deno alive.
    this.#hashes = new FileHashLane();
    const state: RunState = {
      settings: s,
      status: this.#status,
      tracker: this.#tracker,
      assembler: this.#assembler,
      registry: this.#registry,
      hashes: this.#hashes,
      running: this.#running,
      results: this.#results,
      settle: (source) => this.#settle(source),
      settleFile: (sources) => {
        for (const source of sources) this.#settle(source);
        const last = new Map<number, number>();
        for (const { partition, offset } of sources) {
          last.set(partition, Math.max(offset, last.get(partition) ?? -1));
        }
        for (const [partition, offset] of last) {
          this.#tracker.noteSettledFile({ topic: s.topic, partition }, offset);
        }
      },
      fail: (error) => this.#fail(error),
    };
    this.#outcomes = new FileOutcomes(state, this.#pool);
    this.#intake = new ChunkIntake(state, this.#outcomes);
    try {
      // The workers start (each loads the user's script) while the consumer joins the group.
      const poolStarted = this.#pool.start();
      poolStarted.catch(() => undefined); // awaited below, once the consumer exists
      await checkBrokerGroupProtocol(s.kafka);
      const membership = await membershipConfig(s.kafka, s.failoverSeconds, {
        kind: "files",
        outputDir: s.outputDir,
      });
      // librdkafka 2.0.2's join state, for the commit gate (`join_state.ts`).
      using joinState = joinStateWatched(s.kafka) ? new JoinStateWatch(s.group) : undefined;
      this.#consumer = new Consumer({
        "auto.offset.reset": "earliest",
        "queued.max.messages.kbytes": QUEUED_MAX_KBYTES,
        ...fetcherSettings(),
        ...membership.config,
        ...groupProtocolConfig(s.kafka),
        ...joinStateConfig(s.kafka),
        "group.id": s.group,
        "enable.auto.commit": false,
        "enable.auto.offset.store": false,
      }, {
        onRebalance: (event) => this.#onRebalance(event),
        onError: (error) => this.#onKafkaError(error),
      });
      this.#ownership = new PartitionOwnership({
        consumer: this.#consumer,
        tracker: this.#tracker,
        autoOffsetReset: String(s.kafka["auto.offset.reset"] ?? "earliest"),
      });
      this.#commits = new OffsetCommits(
        state,
        this.#consumer,
        () => this.#watch.down,
        new CommitGate({
          heartbeatMs: membership.heartbeatMs,
          failoverMs: membership.failoverSeconds * 1000,
          protocol: groupProtocolOf(s.kafka),
          rejoiningMs: () => joinState?.rejoiningMs ?? 0,
        }),
      );
      this.#fetchers = fetcherWakerFor(this.#consumer);
      this.#newFirst = new NewPartitionsFirst(this.#consumer);
      this.#pacing = new PollPacing({
        workers: s.workers,
        outcomes: this.#outcomes,
        consumer: this.#consumer,
        runningBytes: () => {
          let bytes = 0;
          for (const entry of this.#running.values()) bytes += entry.assembly.receivedBytes;
          return bytes;
        },
        held: (partition) => this.#newFirst.holds(partition),
        stopping: () => this.#s.signal?.aborted === true || this.#fatal !== undefined,
      });
      if (groupProtocolOf(s.kafka) === "classic") {
        this.#stranded = new StrandedPartitions(this.#consumer, {
          group: s.group,
          topic: s.topic,
          partitionCount: this.#partitionCount,
          failoverMs: membership.failoverSeconds * 1000,
        });
      }
      this.#groupIdle = new GroupIdleCheck(this.#consumer, s.topic, s.group, {
        failoverMs: membership.failoverSeconds * 1000,
      });
      this.#joinWait = new JoinWait({
        group: s.group,
        failoverSeconds: membership.failoverSeconds,
        maxPollSeconds: Number(s.kafka["max.poll.interval.ms"] ?? 300_000) / 1000,
        instanceId: membership.instanceId,
      });
      try {
        this.#consumer.subscribe([s.topic]);
        this.#joinWait.joined();
        if (this.#registry.empty) {
          await warnIfGroupMovedOn(this.#consumer, { ...s, partitionCount: this.#partitionCount });
        }
        await poolStarted;
        // From a stop asked for on, no file starts (see #drain), even before the loop ends.
        s.signal?.addEventListener("abort", this.#onAbort, { once: true });
        this.#outcomes.retryFailed();
        logger.info(
          "Processor {name} reading {topic} as group {group} into {outputDir} " +
            "({workers} workers, {mode} mode, {membership}).",
          { ...s, name: s.name, membership: describeMembership(membership) },
        );
        await using _metrics = s.metricsPort === undefined ? undefined : serveMetrics({
          port: s.metricsPort,
          collect: () =>
            fileRunMetrics(
              s.name,
              s.topic,
              this.#metricsSnapshot(),
              partitionLags(this.#consumer),
              s.group,
            ),
        });
        // The limit on a broker outage also ends a loop stuck on a request it never answers.
        await Promise.race([
          this.#loop(),
          this.#watch.expired.then((error) => {
            this.#fail(error);
            exitIfStuck();
          }),
        ]);
        await this.#drain();
        await this.#commits.finish();
      } finally {
        this.#joinWait.stop();
        // The loop may still run (ended by the outage limit): closing frees the values lent
        // to the message it handles, so that one finishes first (or exitIfStuck exits).
        this.#closing = true;
        await this.#handling?.catch(() => undefined);
        await this.#assembler.lentHashed();
        await closeConsumer(this.#consumer, () => this.#watch.down);
      }
    } finally {
      s.signal?.removeEventListener("abort", this.#onAbort);
      this.#watch[Symbol.dispose]();
      this.#hashes.close();
      await this.#stopJobs();
      await this.#results?.close();
      await this.#registry.close();
    }
    this.#report(true);
    if (this.#fatal) throw this.#fatal;
    return this.#snapshot();
  }

  async #loop(): Promise<void> {
    const s = this.#s;
    while (!s.signal?.aborted && !this.#fatal) {
      // A lent value is valid until the next poll: the batch is handled, and its chunks hashed,
      // before it.
      await this.#assembler.lentHashed();
      const batch = await this.#consumer.poll({
        maxMessages: this.#pacing.pollSize(),
        timeoutMs: 100,
        borrowValues: this.#lendValues,
      });
      const startedBefore = this.#outcomes.started;
      // Messages are no sign that the broker is back (they may have been fetched before it
      // went away): only an answered probe ends an outage (BrokerWatch.tick).
      if (batch.length > 0) this.#lastMessageAt = Date.now();
      try {
        await this.#watch.tick(() => this.#consumer.queryWatermarks(s.topic, 0, 2_000));
      } catch (error) {
        if (!(error instanceof BrokerUnreachableError)) throw error;
        this.#fail(error);
        break;
      }
      const receivedAt = performance.timeOrigin + performance.now();
      // Right after the poll, which read librdkafka's join state lines (`join_state.ts`): after
      // the intake and the backpressure wait (up to BACKPRESSURE_WAIT_MS) that state is stale,
      // and a commit sent while librdkafka rejoins is refused.
      this.#commits.commitSoon();
      this.#fetchers?.polled(batch.length);
      this.#newFirst.polled(batch.map((m) => m.partition), this.#pacing.paused);
      // Not while the broker is away or after a loss: describing the group then (an admin
      // request on the consumer's handle that times out) failed an assertion in librdkafka
      // 2.15.1 (`rd_kafka_enq_once_del_source_return`) in tests/fault/broker_outage_test.ts.
      if (!this.#watch.down && !this.#ownership.rejoining) {
        this.#stranded?.tick(this.#consumer.assignment().length);
      }
      let yieldedAt = performance.now();
      for (const message of batch) {
        // Closing frees the lent values: no message is started after that.
        if (this.#closing) break;
        if (!this.#ownership.owns(message.partition)) continue;
        this.#handling = this.#intake.handle(message, receivedAt, this.#lendValues);
        await this.#handling;
        await this.#hashes.waitForRoom();
        // A batch can take tens of ms to decode and hash: let the workers' results in
        // between, so that they get their next files without waiting for the whole batch.
        if (performance.now() - yieldedAt >= YIELD_EVERY_MS) {
          await yieldToEventLoop();
          yieldedAt = performance.now();
        }
      }
      this.#pacing.notePolled(batch.length, this.#outcomes.started - startedBefore);
      await this.#pacing.applyBackpressure();
      if (Date.now() - this.#lastStatusAt >= s.statusIntervalMs) this.#report(false);
      if (s.exitWhenIdleMs !== undefined && await this.#idle(s.exitWhenIdleMs)) {
        for (const assembly of this.#assembler.inProgress) {
          logger.warn(
            "Exiting with {path} incomplete ({received} of {total} chunks); its messages are " +
              "not committed and will be read again on the next start.",
            {
              path: assembly.relativePath,
              received: assembly.receivedChunks,
              total: assembly.totalChunks,
            },
          );
        }
        break;
      }
    }
  }

  /**
   * Whether the run is caught up: nothing running, every assigned partition read to its end,
   * and the group caught up too (see `group_idle.ts`).
   */
  async #idle(idleMs: number): Promise<boolean> {
    if (!this.#everAssigned || this.#outcomes.jobs.size > 0 || this.#watch.down) return false;
    // Partitions lost (the session ended, during a broker outage say): not idle before the
    // group assigned again, or the run would end with what it settled uncommitted.
    if (this.#ownership.rejoining) return false;
    if (Date.now() - this.#lastMessageAt < idleMs) return false;
    if (await unreadMessages(this.#consumer) !== 0) return false;
    // Caught up on its own partitions (maybe none): the group must be too, or this process
    // would exit mid-rebalance, or while partitions it gave up have lag and no owner.
    const mine = this.#consumer.assignment().map((tp) => tp.partition);
    return await this.#groupIdle?.idle(mine) ?? false;
  }

  #settle(source: ChunkSource): void {
    this.#tracker.settle({ topic: this.#s.topic, partition: source.partition }, source.offset);
  }

  async #onRebalance(event: RebalanceEvent): Promise<void> {
    if (event.kind !== "assigned") {
      this.#ownership.takenAway(event.kind, event.partitions);
      this.#newFirst.takenAway(event.partitions, this.#pacing.paused);
      return await this.#commits.takenAway(event);
    }
    await this.#ownership.assigned(event.partitions);
    this.#everAssigned = true;
    // Idle counts from here too: new partitions get their chance to deliver first.
    this.#lastMessageAt = Date.now();
    // A rebalance ended: what settled while it ran is committed now, under the new generation.
    this.#commits.rebalanced(event);
    const seconds = this.#joinWait?.assigned();
    const names = event.partitions.map((p) => p.partition).join(", ");
    const fields = { names, topic: this.#s.topic, seconds };
    if (seconds !== undefined) {
      if (names === "") {
        logger.info("No partitions of {topic} assigned yet ({seconds} s after joining).", fields);
      } else {
        logger.info("Assigned partitions {names} of {topic} ({seconds} s after joining).", fields);
      }
    } else if (names === "") {
      logger.debug("No partitions of {topic} assigned (an empty round).", fields);
    } else logger.info("Assigned partitions {names} of {topic}.", fields);
    if (this.#pacing.paused) this.#consumer.pause(event.partitions);
    // The partitions held before wait until the new ones delivered (`new_partitions_first.ts`).
    const given = new Set(event.partitions.map((tp) => tp.partition));
    this.#newFirst.assigned(
      event.partitions,
      this.#consumer.assignment().filter((tp) => !given.has(tp.partition)),
    );
  }

  #onKafkaError(error: KafkaError): void {
    if (error.fatal) {
      this.#fail(error);
      return;
    }
    this.#stranded?.noteError(error);
    if (this.#watch.noteError(error)) return;
    logger.warn("Kafka: {message}", { message: error.message });
  }

  #fail(error: Error): void {
    if (!this.#fatal) {
      this.#fatal = error;
      logger.error("Stopping: {error}", { error: error.message });
    }
  }

  /** The run's signal was aborted: no file starts from now on. */
  readonly #onAbort = (): void => {
    logger.info("Stop asked for: no new file starts; running process() calls have {grace} s.", {
      grace: this.#s.stopGraceMs / 1000,
    });
    this.#stopJobs();
  };

  /**
   * Stops the workers' jobs ({@linkcode WorkerPool.stop}, at most once per run): no file
   * starts its `process` call from then on, running calls finish up to the stop grace, those
   * still running then are given up. A file that did not run to its end gets a `stopped`
   * result, which settles nothing: its offsets are not committed and it is read again.
   */
  #stopJobs(): Promise<PoolStopReport> {
    return this.#pool.stop(this.#s.stopGraceMs);
  }

  /**
   * Stops the jobs (see {@linkcode FileRunner.#stopJobs}; the stop grace counts from the
   * signal when there was one) and waits until every job's result is recorded.
   */
  async #drain(): Promise<void> {
    const { notStarted, givenUp } = await this.#stopJobs();
    // Every job sent to the pool has its result now, and any other ends `stopped` at once.
    while (this.#outcomes.jobs.size > 0) await Promise.allSettled([...this.#outcomes.jobs]);
    this.#status.stopped = this.#s.signal?.aborted === true;
    this.#status.givenUp = givenUp;
    if (notStarted > 0) {
      logger.info(
        "{count} file(s) not started because of the stop: not committed; they will be read " +
          "again on the next start.",
        { count: notStarted },
      );
    }
    if (givenUp > 0) {
      logger.error(
        "The stop grace of {grace} s ran out with {count} process() call(s) still running: " +
          "given up, not committed; their files will be read again on the next start.",
        { count: givenUp, grace: this.#s.stopGraceMs / 1000 },
      );
    }
  }

  #snapshot(): RunStatus {
    // The lag over the assigned partitions, while the consumer is open and knows it.
    const lags = this.#consumer === undefined || this.#consumer.closed
      ? []
      : partitionLags(this.#consumer);
    return {
      ...this.#status,
      failedFiles: this.#registry.failedFiles().length,
      lag: lags.length === 0 ? this.#status.lag : lags.reduce((sum, p) => sum + p.lag, 0),
      inProgress: this.#assembler.inProgress.length,
      running: this.#outcomes.jobs.size,
      seconds: (Date.now() - this.#started) / 1000,
    };
  }

  /** The run's counters and what only the metrics show: bytes waiting, files failed for good. */
  #metricsSnapshot(): RunStatus {
    const attempts = this.#s.maxAttempts;
    return {
      ...this.#snapshot(),
      partialBytes: this.#assembler.inProgress.reduce((sum, a) => sum + a.receivedBytes, 0),
      failedPermanently: this.#registry.failedFiles().filter((f) => f.attempt >= attempts).length,
    };
  }

  #report(final: boolean): void {
    this.#lastStatusAt = Date.now();
    const status = this.#snapshot();
    this.#s.onStatus?.(status);
    this.#intake.reportQuiet();
    if (final) logRunSummary(status, this.#registry.failedFiles(), this.#s);
  }
}

/** The default consumer group for a processor: stable across restarts. */
export function defaultGroup(name: string, topic: string): string {
  return `ferry-${name}-${topic}`;
}
