/**
 * Example: the sample application of the Kinesis Client Library for Python (amazon-kclpy's
 * `samples/sample_kclpy_app.py`) in Ferry terms, for readers moving a KCL consumer to Kafka.
 * Every record is handled (here: one line `partition<TAB>offset<TAB>key<TAB>value` appended to
 * the file `--out`, key and value as JSON strings, `null` when absent), the largest offset
 * handled is remembered per partition, and every `--checkpoint-seconds` a batch ends with a
 * checkpoint up to that offset. A checkpoint that fails is handled by its kind, as the KCL
 * sample handles its exceptions, over `--checkpoint-retries` attempts with
 * `--checkpoint-sleep-seconds` between them. A graceful stop or revoke checkpoints once more in
 * `shutdownRequested`, so a restart goes on right after the last record handled.
 *
 *     deno run -A examples/kcl_sample.ts --topic events --bootstrap-servers 127.0.0.1:19092 \
 *       --out kcl-sample.tsv --checkpoint-seconds 10
 *
 * Ctrl-C (or `--exit-when-idle`) stops it gracefully; `--help` lists every option. How the KCL
 * sample's parts map to this file:
 *
 * | KCL sample                           | here                                  |
 * | ------------------------------------ | ------------------------------------- |
 * | `initialize`: no sequence number yet | `initialize`: `largestOffset` unset   |
 * | `process_record(data, key, seq)`     | `handle(record)`: a line for `--out`  |
 * | largest sequence number seen         | largest offset handled                |
 * | `CHECKPOINT_FREQ_SECONDS` (60)       | `--checkpoint-seconds` (60)           |
 * | `CHECKPOINT_RETRIES` (5)             | `--checkpoint-retries` (5)            |
 * | `SLEEP_SECONDS` (5)                  | `--checkpoint-sleep-seconds` (5)      |
 * | `checkpointer.checkpoint(seq)`       | `checkpointer.checkpoint({ offset })` |
 * | `ShutdownException`: no checkpoint   | kind `lost`: return quietly           |
 * | `ThrottlingException`: sleep, retry  | kind `failed`: sleep, retry           |
 * | `InvalidStateException`: report it   | kind `invalid`: log it, stop trying   |
 * | other errors: report, sleep, retry   | the same                              |
 * | `shutdown_requested`: checkpoint     | `shutdownRequested`: `checkpoint()`   |
 * | `lease_lost`: nothing to save        | `shutdown`, reason `lost`: log it     |
 *
 * Two differences on purpose. The KCL sample catches every error of `process_records`; here an
 * error is left to Ferry, which retries the batch and then applies the error policy
 * (`--error-policy`), so a record that could not be handled is never checkpointed past. And
 * the KCL sample retries after `InvalidStateException`; Ferry's `invalid` means a retry cannot
 * help (a bad argument, or a commit the broker will never accept), so this one stops trying.
 * A Kafka partition never ends, so there is no `shard_ended`.
 *
 * @module
 */

import {
  type Checkpointer,
  CheckpointError,
  defineRecordProcessor,
  type KafkaRecord,
  type ProcessorLogger,
} from "../mod.ts";

/** One partition's state: `this` in the functions below (a new object for every partition). */
interface PartitionState {
  partition: number;
  logger: ProcessorLogger;
  /** The file the lines go to. */
  out: string;
  /** The largest offset handled so far (the KCL sample's largest sequence number). */
  largestOffset: number | undefined;
  /** When the last checkpoint was tried (ms since the epoch). */
  lastCheckpointAt: number;
  everyMs: number;
  retries: number;
  sleepMs: number;
}

const decoder = new TextDecoder();

function text(bytes: Uint8Array | null): string {
  return bytes === null ? "null" : JSON.stringify(decoder.decode(bytes));
}

/** What the KCL sample's `process_record` stands for: here, one line per record. */
function handle(record: KafkaRecord): string {
  return `${record.partition}\t${record.offset}\t${text(record.key)}\t${text(record.value)}\n`;
}

/**
 * Checkpoints at `offset` (after the last record delivered when left out), trying up to
 * `retries` times, and decides by the error's kind whether another attempt can help.
 */
async function checkpointWithRetries(
  state: PartitionState,
  checkpointer: Checkpointer,
  offset?: number,
): Promise<void> {
  const { logger, partition } = state;
  for (let attempt = 1; attempt <= state.retries; attempt++) {
    try {
      await checkpointer.checkpoint(offset === undefined ? undefined : { offset });
      logger.debug("Checkpointed partition {partition}.", { partition });
      return;
    } catch (error) {
      if (error instanceof CheckpointError && error.kind === "lost") {
        // The partition is another member's now: nothing to save, nothing to retry.
        logger.info("Partition {partition} is no longer ours; skipping the checkpoint.", {
          partition,
        });
        return;
      }
      if (error instanceof CheckpointError && error.kind === "invalid") {
        // A retry would be refused the same way.
        logger.error("Checkpoint of partition {partition} refused: {error}", {
          partition,
          error: error.message,
        });
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      if (attempt === state.retries) {
        logger.error(
          "Checkpoint of partition {partition} failed {attempts} times, giving up until the " +
            "next one: {error}",
          { partition, attempts: attempt, error: message },
        );
        return;
      }
      // Kind `failed` (the broker kept refusing for now), or something unexpected.
      logger.warn(
        "Checkpoint of partition {partition} failed, trying again in {seconds} s: {error}",
        { partition, seconds: state.sleepMs / 1000, error: message },
      );
      await new Promise((resolve) => setTimeout(resolve, state.sleepMs));
    }
  }
}

const processor = defineRecordProcessor({
  name: "kcl-sample",
  description: "The amazon-kclpy sample's record processor: handles each record into --out, " +
    "checkpoints every --checkpoint-seconds.",
  options: {
    out: {
      type: "string",
      description: "file the handled records are appended to",
      default: "kcl-sample.tsv",
    },
    checkpointSeconds: {
      type: "number",
      description: "seconds between checkpoints (CHECKPOINT_FREQ_SECONDS)",
      default: 60,
    },
    checkpointRetries: {
      type: "number",
      description: "attempts of one checkpoint (CHECKPOINT_RETRIES)",
      default: 5,
    },
    checkpointSleepSeconds: {
      type: "number",
      description: "seconds between attempts of a checkpoint (SLEEP_SECONDS)",
      default: 5,
    },
  },
  initialize(this: PartitionState, { partition, startOffset, options, logger }) {
    this.partition = partition;
    this.logger = logger;
    this.out = options.out;
    this.largestOffset = undefined;
    this.lastCheckpointAt = Date.now();
    this.everyMs = options.checkpointSeconds * 1000;
    this.retries = Math.max(1, Math.floor(options.checkpointRetries));
    this.sleepMs = options.checkpointSleepSeconds * 1000;
    logger.info("Partition {partition} starts at offset {offset}.", {
      partition,
      offset: startOffset ?? "the beginning",
    });
  },
  async processRecords(this: PartitionState, records, checkpointer) {
    // One append per batch. Should it fail, the error goes to Ferry (retries, then the error
    // policy) before `largestOffset` moves: no checkpoint passes a record not written.
    await Deno.writeTextFile(this.out, records.map(handle).join(""), { append: true });
    for (const record of records) {
      // Records may come again after a failed attempt; the largest offset never goes back.
      if (this.largestOffset === undefined || record.offset > this.largestOffset) {
        this.largestOffset = record.offset;
      }
    }
    if (Date.now() - this.lastCheckpointAt > this.everyMs && this.largestOffset !== undefined) {
      // `{ offset }` commits offset + 1: the next start reads from the record after it.
      await checkpointWithRetries(this, checkpointer, this.largestOffset);
      this.lastCheckpointAt = Date.now();
    }
  },
  async shutdownRequested(this: PartitionState, checkpointer) {
    // Revoked or stopping: the last chance to save progress (everything delivered and handled).
    await checkpointWithRetries(this, checkpointer);
  },
  shutdown(this: PartitionState, { reason }) {
    if (reason === "lost") {
      // The KCL's lease_lost: another member owns the partition; it goes on from the last
      // checkpoint, so records since then are handled again there (at least once).
      this.logger.warn("Partition {partition} was lost.", { partition: this.partition });
    }
  },
});

if (import.meta.main) await processor.runFromCommandLine();
