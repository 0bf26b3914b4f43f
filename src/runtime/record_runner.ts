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
  type ConsumedMessage,
  Consumer,
  type KafkaConfig,
  type KafkaError,
  partitionKey,
  Producer,
  type RebalanceEvent,
  type TopicPartition,
} from "../kafka/mod.ts";
import type { ErrorPolicy } from "./record_types.ts";
import { WorkerChannel } from "./worker_channel.ts";
import type {
  AutoCheckpoint,
  CheckpointFailure,
  FromWorker,
  SerializedError,
  WireRecord,
} from "./worker_protocol.ts";

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
}

/** Counters of a record processor run. */
export interface RecordRunStatus {
  /** Records handed to `processRecords` successfully. */
  records: number;
  /** Bytes of record values and keys. */
  bytes: number;
  /** Batches that failed after their retries. */
  failedBatches: number;
  /** Partitions stopped by the `stop-partition` policy. */
  stoppedPartitions: number;
  /** Partitions currently assigned. */
  partitions: number;
  /** Seconds since the start. */
  seconds: number;
}

interface PartitionState {
  tp: TopicPartition;
  key: string;
  worker: WorkerChannel;
  buffer: ConsumedMessage[];
  inflight: number | undefined;
  opened: boolean;
  closing: boolean;
  lost: boolean;
  stopped: boolean;
  paused: boolean;
}

const MAX_BUFFERED = 5000;

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
  readonly #workers: WorkerChannel[] = [];
  readonly #waiters = new Map<string, () => void>();
  readonly #started = Date.now();
  #consumer!: Consumer;
  #deadLetters: Producer | undefined;
  #nextWorker = 0;
  #nextBatch = 1;
  #lastMessageAt = Date.now();
  #lastStatusAt = Date.now();
  #everAssigned = false;
  #fatal: Error | undefined;
  readonly #status: RecordRunStatus = {
    records: 0,
    bytes: 0,
    failedBatches: 0,
    stoppedPartitions: 0,
    partitions: 0,
    seconds: 0,
  };

  constructor(settings: RecordRunSettings) {
    this.#s = settings;
  }

  async run(): Promise<RecordRunStatus> {
    const s = this.#s;
    {
      await using admin = new Admin(s.kafka, { onError: () => {} });
      await admin.partitionCount(s.topic, 15_000);
    }
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
      await Promise.all(this.#workers.map((w) => w.ready));
      this.#consumer = new Consumer({
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        ...s.kafka,
        "group.id": s.group,
        "enable.auto.commit": false,
        "enable.auto.offset.store": false,
      }, {
        onRebalance: (event) => this.#onRebalance(event),
        onError: (error) => this.#onKafkaError(error),
      });
      try {
        this.#consumer.subscribe([s.topic]);
        logger.info("Record processor {name} reading {topic} as group {group}.", {
          name: s.name,
          topic: s.topic,
          group: s.group,
        });
        await this.#loop();
        // Graceful stop: every instance gets shutdownRequested and shutdown("stopped").
        await Promise.all(
          [...this.#partitions.values()].map((state) => this.#close(state, "stopped")),
        );
      } finally {
        await this.#consumer.close();
      }
    } finally {
      await this.#deadLetters?.close();
      for (const worker of this.#workers) worker.post({ type: "shutdown" });
      await Promise.race([Promise.all(this.#workers.map((w) => w.stopped)), sleep(2000)]);
      for (const worker of this.#workers) worker.terminate();
    }
    this.#report(true);
    if (this.#fatal) throw this.#fatal;
    return this.#snapshot();
  }

  async #loop(): Promise<void> {
    const s = this.#s;
    while (!s.signal?.aborted && !this.#fatal) {
      const batch = await this.#consumer.poll({ maxMessages: 2000, timeoutMs: 100 });
      if (batch.length > 0) this.#lastMessageAt = Date.now();
      for (const message of batch) {
        const state = this.#partitions.get(partitionKey(message));
        if (!state || state.closing || state.stopped) continue;
        state.buffer.push(message);
      }
      for (const state of this.#partitions.values()) this.#pump(state);
      if (Date.now() - this.#lastStatusAt >= s.statusIntervalMs) this.#report(false);
      if (s.exitWhenIdleMs !== undefined && await this.#idle(s.exitWhenIdleMs)) break;
    }
  }

  async #idle(idleMs: number): Promise<boolean> {
    if (!this.#everAssigned || Date.now() - this.#lastMessageAt < idleMs) return false;
    for (const state of this.#partitions.values()) {
      if (state.inflight !== undefined || state.buffer.length > 0) return false;
    }
    const assigned = this.#consumer.assignment();
    for (const position of this.#consumer.position(assigned)) {
      const { high } = await this.#consumer.queryWatermarks(position.topic, position.partition);
      const state = this.#partitions.get(partitionKey(position));
      if (state?.stopped) continue;
      if (
        position.offset >= 0
          ? position.offset < high
          : high > 0 && !(await this.#committedAt(position, high))
      ) {
        return false;
      }
    }
    return true;
  }

  async #committedAt(tp: TopicPartition, high: number): Promise<boolean> {
    const [committed] = await this.#consumer.committed([tp], 5000);
    return committed.offset >= high;
  }

  /** Sends the next batch of a partition when none is in flight; pauses or resumes it. */
  #pump(state: PartitionState): void {
    if (state.inflight === undefined && state.opened && !state.closing && !state.stopped) {
      if (state.buffer.length > 0) {
        const messages = state.buffer.splice(0, this.#s.maxBatch);
        const batchId = this.#nextBatch++;
        state.inflight = batchId;
        const records: WireRecord[] = messages;
        const transfer: Transferable[] = [];
        const seen = new Set<ArrayBufferLike>();
        for (const record of records) {
          for (const bytes of [record.key, record.value, ...record.headers.map((h) => h.value)]) {
            if (bytes && bytes.buffer instanceof ArrayBuffer && !seen.has(bytes.buffer)) {
              seen.add(bytes.buffer);
              transfer.push(bytes.buffer);
            }
            this.#status.bytes += bytes?.byteLength ?? 0;
          }
        }
        const last = messages[messages.length - 1];
        const { high } = this.#consumer.cachedWatermarks(state.tp.topic, state.tp.partition);
        state.worker.post({
          type: "records",
          key: state.key,
          batchId,
          records,
          lag: {
            messagesBehindLatest: high >= 0 ? Math.max(0, high - last.offset - 1) : undefined,
            millisBehindLatest: last.timestamp === null
              ? undefined
              : Math.max(0, Date.now() - last.timestamp),
          },
        }, transfer);
        this.#status.records += messages.length;
      }
    }
    if (!state.paused && state.buffer.length > MAX_BUFFERED) {
      this.#consumer.pause([state.tp]);
      state.paused = true;
    } else if (state.paused && state.buffer.length < MAX_BUFFERED / 2 && !state.stopped) {
      this.#consumer.resume([state.tp]);
      state.paused = false;
    }
  }

  #onWorkerMessage(message: FromWorker, worker: WorkerChannel): void {
    switch (message.type) {
      case "opened": {
        const state = this.#partitions.get(message.key);
        if (!state) return;
        if (message.error) {
          logger.error("initialize failed for {key}: {error}", {
            key: message.key,
            error: message.error.message,
          });
          this.#stopPartition(state);
        } else state.opened = true;
        this.#wake(`opened:${message.key}`);
        break;
      }
      case "batch-done": {
        const state = this.#partitions.get(message.key);
        if (!state) return;
        state.inflight = undefined;
        if (message.error) this.#batchFailed(state, message.error, message.records ?? []);
        this.#wake(`idle:${message.key}`);
        break;
      }
      case "checkpoint":
        this.#checkpoint(worker, message.key, message.requestId, message.offset);
        break;
      case "closed":
        this.#wake(`closed:${message.key}`);
        break;
    }
  }

  #batchFailed(state: PartitionState, error: SerializedError, records: WireRecord[]): void {
    this.#status.failedBatches++;
    const first = records[0]?.offset;
    const last = records[records.length - 1]?.offset;
    const where = `partition ${state.tp.partition} offsets ${first}-${last}`;
    switch (this.#s.errorPolicy) {
      case "exit":
        this.#fail(new Error(`processRecords failed on ${where}: ${error.message}`));
        break;
      case "skip":
        logger.error("Skipping {count} records of {where} after failures: {error}", {
          count: records.length,
          where,
          error: error.message,
        });
        if (this.#s.deadLetterTopic) this.#sendToDeadLetters(records, error);
        break;
      default:
        logger.error("Stopping {where} after failures: {error}", { where, error: error.message });
        this.#stopPartition(state);
    }
  }

  #sendToDeadLetters(records: WireRecord[], error: SerializedError): void {
    const topic = this.#s.deadLetterTopic!;
    this.#deadLetters ??= new Producer(this.#s.kafka, { onError: (e) => this.#onKafkaError(e) });
    const encoder = new TextEncoder();
    for (const record of records) {
      this.#deadLetters.produce({
        topic,
        key: record.key,
        value: record.value,
        headers: [
          ...record.headers,
          { key: "ferry.error", value: encoder.encode(error.message) },
          {
            key: "ferry.source",
            value: encoder.encode(`${record.topic}/${record.partition}/${record.offset}`),
          },
        ],
      }).catch((e) =>
        logger.error("Could not send a record to the dead-letter topic {topic}: {error}", {
          topic,
          error: errorText(e),
        })
      );
    }
  }

  #stopPartition(state: PartitionState): void {
    if (state.stopped) return;
    state.stopped = true;
    state.buffer.length = 0;
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
    const state = this.#partitions.get(key);
    let failure: CheckpointFailure | undefined;
    if (!state || state.lost) {
      failure = { kind: "lost", message: `Partition "${key}" is no longer assigned here.` };
    } else {
      for (let attempt = 1;; attempt++) {
        try {
          await this.#consumer.commit([{ ...state.tp, offset }]);
          break;
        } catch (error) {
          const retriable = (error as KafkaError).retriable === true;
          if (!retriable || attempt >= 5) {
            failure = { kind: "failed", message: errorText(error) };
            break;
          }
          await sleep(100 * 2 ** attempt);
        }
      }
    }
    worker.post({ type: "checkpoint-result", requestId, ...(failure ? { error: failure } : {}) });
  }

  #waitFor(key: string, timeoutMs: number, ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const check = () => {
        if (ready()) done();
        else this.#waiters.set(key, check);
      };
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#waiters.set(key, check);
    });
  }

  #wake(key: string): void {
    const waiter = this.#waiters.get(key);
    this.#waiters.delete(key);
    waiter?.();
  }

  async #onRebalance(event: RebalanceEvent): Promise<void> {
    const names = event.partitions.map((p) => p.partition).join(", ");
    logger.info("Partitions {names} of {topic} {kind}.", {
      names,
      topic: this.#s.topic,
      kind: event.kind,
    });
    if (event.kind === "assigned") {
      this.#everAssigned = true;
      let committed: { offset: number }[] = event.partitions.map(() => ({ offset: -1001 }));
      try {
        committed = await this.#consumer.committed(event.partitions, 10_000);
      } catch (error) {
        logger.warn("Could not read committed offsets: {error}", { error: errorText(error) });
      }
      event.partitions.forEach((tp, i) => this.#open(tp, committed[i].offset));
      return;
    }
    const states = event.partitions
      .map((tp) => this.#partitions.get(partitionKey(tp)))
      .filter((s): s is PartitionState => s !== undefined);
    await Promise.all(
      states.map((state) => this.#close(state, event.kind === "lost" ? "lost" : "revoked")),
    );
  }

  #open(tp: TopicPartition, committed: number): void {
    const key = partitionKey(tp);
    const worker = this.#workers[this.#nextWorker++ % this.#workers.length];
    const state: PartitionState = {
      tp,
      key,
      worker,
      buffer: [],
      inflight: undefined,
      opened: false,
      closing: false,
      lost: false,
      stopped: false,
      paused: false,
    };
    this.#partitions.set(key, state);
    worker.post({
      type: "open",
      key,
      topic: tp.topic,
      partition: tp.partition,
      startOffset: committed >= 0 ? committed : undefined,
      autoCheckpoint: this.#s.autoCheckpoint,
      retries: this.#s.retries,
      retryBackoffMs: 200,
    });
  }

  /** Ends a partition's instance: waits for its batch, then shutdown(Requested). */
  async #close(state: PartitionState, reason: "revoked" | "lost" | "stopped"): Promise<void> {
    state.closing = true;
    state.buffer.length = 0;
    if (reason === "lost") state.lost = true;
    const grace = this.#s.stopGraceMs;
    await this.#waitFor(`idle:${state.key}`, grace, () => state.inflight === undefined);
    await this.#waitFor(`opened:${state.key}`, grace, () => state.opened || state.stopped);
    const closed = this.#waitFor(`closed:${state.key}`, grace, () => false);
    state.worker.post({ type: "close", key: state.key, reason });
    await closed;
    this.#partitions.delete(state.key);
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
    return {
      ...this.#status,
      partitions: this.#partitions.size,
      seconds: (Date.now() - this.#started) / 1000,
    };
  }

  #report(final: boolean): void {
    this.#lastStatusAt = Date.now();
    const status = this.#snapshot();
    this.#s.onStatus?.(status);
    if (final) {
      logger.info(
        "Summary: {records} records in {seconds} s, {failedBatches} failed batches, " +
          "{stoppedPartitions} stopped partitions.",
        { ...status, seconds: status.seconds.toFixed(1) },
      );
    }
  }
}
