/**
 * The coordinator of a record processor: one consumer in the group, one processor instance per
 * assigned partition living in a worker, batches in offset order (one in flight per
 * partition), checkpoints committed on the instance's request, pause/resume as backpressure,
 * and the lifecycle on assign, revoke, loss and stop.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import {
  Admin,
  Consumer,
  isFencingError,
  type KafkaConfig,
  type KafkaError,
  Offset,
  partitionKey,
  Producer,
  type RebalanceEvent,
  type TopicPartition,
} from "../kafka/mod.ts";
import type { AutoCheckpoint, BatchInfo, ErrorPolicy, KafkaRecord } from "./types.ts";
import { type BatchRun, packedTransfer, packRuns, runBytes, splitRuns } from "./batch.ts";
import { FetcherWaker } from "../kafka/fetcher_waker.ts";
import { type PartitionLag, recordRunMetrics, serveMetrics } from "../command/metrics.ts";
import { GroupIdleCheck } from "../processor/group_idle.ts";
import { WorkerChannel } from "../workers/channel.ts";
import type { CheckpointFailure, FromWorker, SerializedError } from "../workers/protocol.ts";

const logger = getLogger(["ferry", "runtime"]);

/** Everything a record processor run needs. */
export interface RecordRunSettings {
  /** The processor's name. */
  name: string;
  /** The module whose `defineRecordProcessor` call the workers load. */
  scriptUrl: string;
  /** The topic. */
  topic: string;
  /** The consumer group. */
  group: string;
  /** librdkafka consumer properties. */
  kafka: KafkaConfig;
  /** The number of workers the partition instances are spread over. */
  workers: number;
  /** The values of the processor's extra options. */
  options: Record<string, unknown>;
  /** What to do when a batch keeps failing. */
  errorPolicy: ErrorPolicy;
  /** Attempts of a failing batch. */
  retries: number;
  /** With the `skip` policy: where skipped records go. */
  deadLetterTopic?: string;
  /** Automatic checkpoints. */
  autoCheckpoint: AutoCheckpoint;
  /** The most records handed to one `processRecords` call. */
  maxBatch: number;
  /** Stop once caught up and idle for this long (ms). */
  exitWhenIdleMs?: number;
  /** How often to report status (ms). */
  statusIntervalMs: number;
  /** How long a revoke or stop waits for a running batch and `shutdown` (ms). */
  stopGraceMs: number;
  /** The log level forwarded from workers. */
  logLevel?: string;
  /** Aborting it stops the run gracefully. */
  signal?: AbortSignal;
  /** Called with the status every `statusIntervalMs` and at the end. */
  onStatus?: (status: RecordRunStatus) => void;
  /** Serve Prometheus metrics on this port of 127.0.0.1 (0: any free port). */
  metricsPort?: number;
}

/** Counters of a record processor run. */
export interface RecordRunStatus {
  /** Records `processRecords` handled. */
  records: number;
  /** Records skipped by the `skip` policy (sent to the dead-letter topic when one is set). */
  skippedRecords: number;
  /** Bytes of record values and keys. */
  bytes: number;
  /** Batches that failed after their retries. */
  failedBatches: number;
  /** Partitions stopped by the `stop-partition` policy. */
  stoppedPartitions: number;
  /** Partitions currently assigned. */
  partitions: number;
  /** Records after each assigned partition's position, as far as known (no request). */
  lag: number;
  /** The lag of each assigned partition whose position and end are known. */
  partitionLags: PartitionLag[];
  /** Partitions given up at a stop or revoke whose `processRecords` outlived the stop grace. */
  abandonedPartitions: number;
  /** Seconds since the start. */
  seconds: number;
}

interface PartitionState {
  tp: TopicPartition;
  /** The partition's key (topic/partition). */
  key: string;
  /** This instance's id in worker messages: a partition assigned again gets a new one. */
  id: string;
  worker: WorkerChannel;
  /** Polled records waiting to be sent, as runs of the polls' batches, in offset order. */
  buffer: BatchRun[];
  /** Records in `buffer`. */
  bufferedRecords: number;
  /** Key and value bytes in `buffer`. */
  bufferedBytes: number;
  inflight: number | undefined;
  /** The offset after the last record sent to the instance: no commit may go past it. */
  sentUpTo: number;
  /** Given up after the stop grace with a batch still running: nothing more is committed. */
  abandoned: boolean;
  /** The group's committed offset for the partition, as far as this process knows. */
  committedAt: number | undefined;
  opened: boolean;
  closing: boolean;
  closed: boolean;
  lost: boolean;
  stopped: boolean;
  paused: boolean;
}

/** Records buffered per partition before its fetching pauses (resumes below half). */
const MAX_BUFFERED = 100_000;
/** Bytes buffered per partition before its fetching pauses (resumes below half). */
const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;
/** The longest commits wait for a cooperative rebalance's second round. */
const REBALANCE_SETTLE_MS = 10_000;
/** The most messages one poll returns. */
const POLL_MESSAGES = 5000;
/** About how many bytes of keys and values one poll returns (fewer messages when big). */
const POLL_BYTES = 4 * 1024 * 1024;
/** A batch stops growing at this many bytes of keys and values (or at `maxBatch` records). */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs a record processor until stopped or idle; resolves with the final status. */
export async function runRecordProcessor(settings: RecordRunSettings): Promise<RecordRunStatus> {
  return await new RecordRunner(settings).run();
}

class RecordRunner {
  readonly #s: RecordRunSettings;
  readonly #partitions = new Map<string, PartitionState>();
  /** Every instance not yet closed, by id (a closing one may no longer be in #partitions). */
  readonly #instances = new Map<string, PartitionState>();
  #nextInstance = 1;
  /** Set while a cooperative rebalance is between its rounds: commits wait (see #checkpoint). */
  #rebalance: { assignsLeft: number; settled: Promise<void>; settle: () => void } | undefined;
  readonly #workers: WorkerChannel[] = [];
  /** Resolves once every worker is ready; rejects when one could not start. */
  #workersReady: Promise<true> = Promise.resolve(true);
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #started = Date.now();
  #consumer!: Consumer;
  /** Whether the whole group caught up, for `exitWhenIdleMs` (made on first use). */
  #groupIdle: GroupIdleCheck | undefined;
  #fetchers!: FetcherWaker;
  #deadLetters: Producer | undefined;
  #nextWorker = 0;
  #nextBatch = 1;
  #lastMessageAt = Date.now();
  #lastStatusAt = Date.now();
  #everAssigned = false;
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

  constructor(settings: RecordRunSettings) {
    this.#s = settings;
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
    try {
      {
        await using admin = new Admin(s.kafka, { onError: () => {} });
        await admin.partitionCount(s.topic, 15_000);
      }
      this.#consumer = new Consumer({
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        // librdkafka sends one fetch request per broker at a time: while it waits at the
        // broker for partitions that are caught up (up to this long), a partition that was
        // paused or over the queue limits cannot fetch (measured: 500 ms pauses mid-read
        // with the default 500).
        "fetch.wait.max.ms": 100,
        ...s.kafka,
        "group.id": s.group,
        "enable.auto.commit": false,
        "enable.auto.offset.store": false,
      }, {
        onRebalance: (event) => this.#onRebalance(event),
        onError: (error) => this.#onKafkaError(error),
      });
      this.#fetchers = new FetcherWaker(this.#consumer);
      try {
        this.#consumer.subscribe([s.topic]);
        // Polling starts at once: the group join and the first fetches overlap the workers'
        // start; partitions are opened on the workers once they are ready (#onRebalance).
        this.#workersReady = Promise.all(this.#workers.map((w) => w.ready)).then(() => true);
        this.#workersReady.catch((error) => {
          // Leave the group without opening anything: the workers are not there (run()
          // throws the error, so it is not logged here).
          this.#fatal ??= error instanceof Error ? error : new Error(String(error));
        });
        logger.info("Record processor {name} reading {topic} as group {group}.", {
          name: s.name,
          topic: s.topic,
          group: s.group,
        });
        await using _metrics = s.metricsPort === undefined ? undefined : serveMetrics({
          port: s.metricsPort,
          collect: () => {
            const status = this.#snapshot();
            return recordRunMetrics(s.name, s.topic, status, status.partitionLags);
          },
        });
        await this.#loop();
        // Graceful stop: every instance gets shutdownRequested and shutdown("stopped") once
        // its batch is done; fenced (another member has the partitions): shutdown("lost").
        const reason = isFencingError(this.#fatal) ? "lost" : "stopped";
        await Promise.all(
          [...this.#partitions.values()].map((state) => this.#close(state, reason)),
        );
      } finally {
        await this.#consumer.close();
      }
    } finally {
      await this.#deadLetters?.close();
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
      this.#fetchers.polled(batch.length);
      if (batch.length > 0) this.#lastMessageAt = Date.now();
      for (const run of splitRuns(batch)) {
        const tp = { topic: batch.topics[run.from], partition: batch.partitions[run.from] };
        const state = this.#partitions.get(partitionKey(tp));
        if (!state || state.closing || state.stopped) continue;
        state.buffer.push(run);
        state.bufferedRecords += run.to - run.from;
        state.bufferedBytes += runBytes(run);
      }
      for (const state of this.#partitions.values()) this.#pump(state);
      if (Date.now() - this.#lastStatusAt >= s.statusIntervalMs) this.#report(false);
      if (s.exitWhenIdleMs !== undefined && await this.#idle(s.exitWhenIdleMs)) break;
    }
  }

  /**
   * Whether the run is caught up: nothing buffered or running, every assigned partition read
   * to its end, and the group caught up too (see `group_idle.ts`).
   */
  async #idle(idleMs: number): Promise<boolean> {
    if (!this.#everAssigned || Date.now() - this.#lastMessageAt < idleMs) return false;
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
    this.#groupIdle ??= new GroupIdleCheck(this.#consumer, this.#s.topic, this.#s.group);
    return await this.#groupIdle.idle();
  }

  async #committedAt(tp: TopicPartition, high: number): Promise<boolean> {
    const [committed] = await this.#consumer.committed([tp], 5000);
    return committed.offset >= high;
  }

  /** Sends the next batch of a partition when none is in flight; pauses or resumes it. */
  #pump(state: PartitionState): void {
    if (state.closing || this.#partitions.get(state.key) !== state) return;
    const running = !this.#fatal && !this.#s.signal?.aborted;
    if (running && state.inflight === undefined && state.opened && !state.stopped) {
      if (state.bufferedRecords > 0) this.#send(state);
    }
    const over = state.bufferedRecords > MAX_BUFFERED || state.bufferedBytes > MAX_BUFFERED_BYTES;
    const under = state.bufferedRecords < MAX_BUFFERED / 2 &&
      state.bufferedBytes < MAX_BUFFERED_BYTES / 2;
    if (!state.paused && over) {
      // Backpressure: librdkafka stops fetching this partition; the group is not affected.
      this.#consumer.pause([state.tp]);
      state.paused = true;
      logger.debug("Paused {key}: {records} records, {bytes} bytes buffered.", {
        key: state.key,
        records: state.bufferedRecords,
        bytes: state.bufferedBytes,
      });
    } else if (state.paused && under && !state.stopped) {
      this.#consumer.resume([state.tp]);
      state.paused = false;
    }
  }

  /** Hands the next batch of a partition to its instance, packed (one copy, no clone). */
  #send(state: PartitionState): void {
    // Records while fewer than maxBatch and under MAX_BATCH_BYTES (at least one), by runs.
    const runs: BatchRun[] = [];
    let count = 0;
    let size = 0;
    while (state.buffer.length > 0) {
      const run = state.buffer[0];
      const { batch } = run;
      let to = run.from;
      while (
        to < run.to && count < this.#s.maxBatch && (count === 0 || size < MAX_BATCH_BYTES)
      ) {
        size += Math.max(0, batch.keyLengths[to]) + Math.max(0, batch.valueLengths[to]);
        count++;
        to++;
      }
      if (to > run.from) runs.push({ batch, from: run.from, to });
      if (to < run.to) {
        state.buffer[0] = { batch, from: to, to: run.to };
        break;
      }
      state.buffer.shift();
    }
    const batchId = this.#nextBatch++;
    state.inflight = batchId;
    const records = packRuns(runs);
    state.bufferedRecords -= count;
    state.bufferedBytes -= records.data.byteLength;
    this.#status.bytes += records.data.byteLength;
    const lastRun = runs[runs.length - 1];
    const lastOffset = lastRun.batch.offsets[lastRun.to - 1];
    state.sentUpTo = lastOffset + 1;
    state.worker.post({
      type: "records",
      key: state.id,
      batchId,
      records,
      lag: this.#batchLag(state, lastRun),
    }, packedTransfer(records));
  }

  /**
   * How far behind its partition's newest record a batch ending with `lastRun` is: in records
   * from the last fetch's high watermark; in ms exactly when the newest record is buffered
   * here already (its timestamp minus the batch's last), else the last record's age (an upper
   * bound), 0 when caught up.
   */
  #batchLag(state: PartitionState, lastRun: BatchRun): BatchInfo {
    const index = lastRun.to - 1;
    const offset = lastRun.batch.offsets[index];
    const timestamp = lastRun.batch.timestamps[index];
    const { high } = this.#consumer.cachedWatermarks(state.tp.topic, state.tp.partition);
    if (high < 0) return { messagesBehindLatest: undefined, millisBehindLatest: undefined };
    const behind = Math.max(0, high - offset - 1);
    if (behind === 0) return { messagesBehindLatest: 0, millisBehindLatest: 0 };
    if (Number.isNaN(timestamp)) {
      return { messagesBehindLatest: behind, millisBehindLatest: undefined };
    }
    const newest = state.buffer[state.buffer.length - 1];
    const newestIndex = newest === undefined ? -1 : newest.to - 1;
    const newestTimestamp = newest === undefined ? NaN : newest.batch.timestamps[newestIndex];
    const exact = newest !== undefined && newest.batch.offsets[newestIndex] === high - 1 &&
      !Number.isNaN(newestTimestamp);
    return {
      messagesBehindLatest: behind,
      millisBehindLatest: Math.max(0, (exact ? newestTimestamp : Date.now()) - timestamp),
    };
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
          this.#stopPartition(state);
        } else state.opened = true;
        this.#wake(`opened:${message.key}`);
        this.#pump(state);
        break;
      }
      case "batch-done": {
        const state = this.#instances.get(message.key);
        if (!state || state.inflight !== message.batchId) return;
        this.#status.records += message.processed;
        this.#status.skippedRecords += message.skipped;
        if (message.error && !message.lost) {
          // The partition waits (nothing else in flight) until the failure is dealt with.
          this.#batchFailed(state, message.error, message.records ?? []);
        }
        state.inflight = undefined;
        this.#wake(`idle:${message.key}`);
        this.#pump(state); // the next batch at once, not after the next poll
        break;
      }
      case "checkpoint":
        this.#checkpoint(worker, message.key, message.requestId, message.offset);
        break;
      case "skip":
        this.#skip(worker, message.requestId, message.records, message.error);
        break;
      case "closed": {
        const state = this.#instances.get(message.key);
        if (state) state.closed = true;
        this.#wake(`closed:${message.key}`);
        break;
      }
    }
  }

  /**
   * Applies the `stop-partition` or `exit` policy to a record that kept failing (the worker
   * applies `skip` itself, through #skip; a record it could not skip stops the partition).
   */
  #batchFailed(state: PartitionState, error: SerializedError, records: KafkaRecord[]): void {
    const where = `partition ${state.tp.partition} at offset ${records[0]?.offset}`;
    if (state.closing) {
      // Revoked or lost meanwhile: the record is the next owner's; no policy applies.
      logger.warn("Processing {where} failed while the partition was taken away: {error}", {
        where,
        error: error.message,
      });
      return;
    }
    this.#status.failedBatches++;
    if (this.#s.errorPolicy === "exit") {
      this.#fail(new Error(`processRecords failed on ${where}: ${error.message}`));
      return;
    }
    logger.error("Stopping {where} after failures: {error}", { where, error: error.message });
    this.#stopPartition(state);
  }

  /** The `skip` policy: sets records aside (dead-letter topic when set) and answers the worker. */
  async #skip(
    worker: WorkerChannel,
    requestId: number,
    records: KafkaRecord[],
    error: SerializedError,
  ): Promise<void> {
    const where = `partition ${records[0]?.partition} at offset ${records[0]?.offset}`;
    let refused: string | undefined;
    if (this.#s.deadLetterTopic) {
      try {
        await this.#sendToDeadLetters(records, error);
      } catch (failure) {
        // Going on would checkpoint past a record that is nowhere: the worker stops there.
        refused = `sending it to the dead-letter topic "${this.#s.deadLetterTopic}" failed: ` +
          errorText(failure);
      }
    }
    if (refused === undefined) {
      logger.error("Skipping {where}{to} after failures: {error}", {
        where,
        to: this.#s.deadLetterTopic ? ` (sent to "${this.#s.deadLetterTopic}")` : "",
        error: error.message,
      });
    }
    worker.post({ type: "skip-result", requestId, ...(refused ? { error: refused } : {}) });
  }

  /** Sends failed records to the dead-letter topic; resolves once the broker has them all. */
  async #sendToDeadLetters(records: KafkaRecord[], error: SerializedError): Promise<void> {
    const topic = this.#s.deadLetterTopic!;
    this.#deadLetters ??= new Producer(
      { ...this.#s.kafka, "enable.idempotence": true },
      { onError: (e) => this.#onKafkaError(e) },
    );
    const encoder = new TextEncoder();
    const deliveries: Promise<unknown>[] = [];
    for (const record of records) {
      const pending = await this.#deadLetters.send({
        topic,
        key: record.key,
        value: record.value,
        headers: [
          ...record.headers,
          { key: "ferry.error", value: encoder.encode(`${error.name}: ${error.message}`) },
          {
            key: "ferry.source",
            value: encoder.encode(`${record.topic}/${record.partition}/${record.offset}`),
          },
        ],
      });
      deliveries.push(pending.delivered);
    }
    await Promise.all(deliveries);
  }

  #stopPartition(state: PartitionState): void {
    if (state.stopped) return;
    state.stopped = true;
    state.buffer.length = 0;
    state.bufferedRecords = 0;
    state.bufferedBytes = 0;
    this.#status.stoppedPartitions++;
    if (!state.paused) {
      this.#consumer.pause([state.tp]);
      state.paused = true;
    }
  }

  async #checkpoint(
    worker: WorkerChannel,
    key: string,
    requestId: number,
    offset: number,
  ): Promise<void> {
    let state = this.#instances.get(key);
    if (state && !state.closing && this.#rebalance) {
      // librdkafka 2.0.2 treats a commit refused with ILLEGAL_GENERATION while a cooperative
      // rebalance rejoins as a lost assignment (confluentinc/librdkafka#4059): wait it out.
      await this.#rebalance.settled;
      state = this.#instances.get(key);
    }
    let failure: CheckpointFailure | undefined;
    if (!state || state.lost || this.#partitions.get(state.key) !== state) {
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
    } else {
      failure = await this.#commitWithRetries(state, offset);
    }
    worker.post({ type: "checkpoint-result", requestId, ...(failure ? { error: failure } : {}) });
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
        await this.#consumer.commit([{ ...state.tp, offset }]);
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

  #wake(key: string): void {
    for (const check of [...this.#waiters.get(key) ?? []]) check();
  }

  async #onRebalance(event: RebalanceEvent): Promise<void> {
    const names = event.partitions.map((p) => p.partition).join(", ");
    logger.info("Partitions {names} of {topic} {kind}.", {
      names,
      topic: this.#s.topic,
      kind: event.kind,
    });
    if (event.kind === "assigned") {
      if (this.#fatal) return; // stopping: the close that follows revokes them again
      this.#everAssigned = true;
      if (this.#rebalance && --this.#rebalance.assignsLeft <= 0) this.#rebalance.settle();
      let committed: { offset: number }[] = event.partitions.map(() => ({ offset: -1001 }));
      try {
        committed = await this.#consumer.committed(event.partitions, 10_000);
        await this.#startUncommitted(event.partitions.filter((_, i) => committed[i].offset < 0));
      } catch (error) {
        logger.warn("Could not read committed offsets: {error}", { error: errorText(error) });
      }
      // librdkafka fetches meanwhile; a worker that could not start stops the run instead.
      if (!await this.#workersReady.catch(() => false)) return;
      event.partitions.forEach((tp, i) => this.#open(tp, committed[i].offset));
      return;
    }
    if (event.protocol === "COOPERATIVE" && event.kind === "revoked" && !this.#rebalance) {
      // Two assignments follow: this round's, then the one of the rejoin it causes.
      let resolve!: () => void;
      const settled = new Promise<void>((r) => resolve = r);
      const settle = () => {
        clearTimeout(timer);
        this.#rebalance = undefined;
        resolve();
      };
      const timer = setTimeout(settle, REBALANCE_SETTLE_MS);
      this.#rebalance = { assignsLeft: 2, settled, settle };
    }
    const states = event.partitions
      .map((tp) => this.#partitions.get(partitionKey(tp)))
      .filter((s): s is PartitionState => s !== undefined);
    await Promise.all(
      states.map((state) => this.#close(state, event.kind === "lost" ? "lost" : "revoked")),
    );
  }

  /**
   * Starts partitions without a committed offset at once where `auto.offset.reset` says
   * where: librdkafka 2.0.2 otherwise looks the reset offset up on a timer, about 100 ms
   * after the assignment (measured: first record 100-140 ms after the assignment, 5 ms with
   * the seek).
   */
  async #startUncommitted(partitions: TopicPartition[]): Promise<void> {
    const reset = String(this.#s.kafka["auto.offset.reset"] ?? "earliest");
    const offset = ["earliest", "smallest", "beginning"].includes(reset)
      ? Offset.BEGINNING
      : ["latest", "largest", "end"].includes(reset)
      ? Offset.END
      : undefined;
    if (offset === undefined || partitions.length === 0) return;
    try {
      await this.#consumer.seek(partitions.map((tp) => ({ ...tp, offset })), 5_000);
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
    this.#partitions.set(key, state);
    this.#instances.set(state.id, state);
    worker.post({
      type: "open",
      key: state.id,
      topic: tp.topic,
      partition: tp.partition,
      startOffset: committed >= 0 ? committed : undefined,
      autoCheckpoint: this.#s.autoCheckpoint,
      retries: this.#s.retries,
      retryBackoffMs: 200,
      errorPolicy: this.#s.errorPolicy,
    });
  }

  /**
   * Ends a partition's instance: waits for its running batch up to the stop grace, then asks
   * for shutdownRequested and shutdown (the worker runs them only after the batch, never beside
   * it). A batch still running after the grace gives the partition up: nothing more is
   * committed for it (its records come again), and on a stop its instance gets no shutdown
   * calls (the process exits).
   */
  async #close(state: PartitionState, reason: "revoked" | "lost" | "stopped"): Promise<void> {
    state.closing = true;
    state.buffer.length = 0;
    state.bufferedRecords = 0;
    state.bufferedBytes = 0;
    if (reason === "lost") state.lost = true;
    const grace = this.#s.stopGraceMs;
    const idle = await this.#waitFor(`idle:${state.id}`, grace, () => state.inflight === undefined);
    if (!idle) {
      state.abandoned = true;
      this.#status.abandonedPartitions++;
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
    if (this.#partitions.get(state.key) === state) this.#partitions.delete(state.key);
    this.#instances.delete(state.id);
  }

  #onKafkaError(error: KafkaError): void {
    if (error.fatal) this.#fail(error);
    else logger.warn("Kafka: {message}", { message: error.message });
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
   * here counts as lag), from the last fetch's high watermark, without a request.
   */
  #partitionLags(): PartitionLag[] {
    const lags: PartitionLag[] = [];
    if (!this.#consumer) return lags;
    for (const state of this.#partitions.values()) {
      if (state.closing) continue;
      const { high } = this.#consumer.cachedWatermarks(state.tp.topic, state.tp.partition);
      const [position] = this.#consumer.position([state.tp]);
      if (high < 0 || position === undefined || position.offset < 0) continue;
      const next = position.offset - state.bufferedRecords;
      lags.push({ ...state.tp, lag: Math.max(0, high - next) });
    }
    return lags.sort((a, b) => a.partition - b.partition);
  }

  #report(final: boolean): void {
    this.#lastStatusAt = Date.now();
    const status = this.#snapshot();
    this.#s.onStatus?.(status);
    if (final) {
      logger.info(
        "Summary: {records} records in {seconds} s, {skippedRecords} skipped, " +
          "{failedBatches} failed batches, {stoppedPartitions} stopped partitions, " +
          "{abandonedPartitions} partitions given up at the stop grace.",
        { ...status, seconds: status.seconds.toFixed(1) },
      );
    }
  }
}
