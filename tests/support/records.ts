/**
 * Plain records for the record-processor tests: putting keyed records on a topic (with a fresh
 * events file and group for the run that reads them), reading the events the recording record
 * processor (`tests/fixtures/recording_record_processor.ts`) writes and the offsets they
 * delivered. A group's committed offsets: `committedOffsets` in `broker.ts`.
 *
 * @module
 */

import { Producer } from "../../src/kafka/mod.ts";
import { BOOTSTRAP } from "./broker.ts";

/** How {@linkcode putRecords} makes the records. */
export interface PutRecordsOptions {
  /** The first `i`; default 0. */
  first?: number;
  /** Give every record a header `n` = i. */
  headers?: boolean;
  /** Pad every value with zeros to this many bytes. */
  valueBytes?: number;
  /** Give record `i` the timestamp `timestampBase + i * 1000` (ms); default: when produced. */
  timestampBase?: number;
}

/**
 * Produces `count` records per partition, valued `p<partition>-<i>` (from `first`; padded with
 * zeros to `valueBytes`), keyed `k<i % 7>`, with a header `n` = i when `headers` is set.
 */
export async function putRecords(
  topic: string,
  partitions: number,
  count: number,
  options: PutRecordsOptions = {},
): Promise<void> {
  const encoder = new TextEncoder();
  await using producer = new Producer({ "bootstrap.servers": BOOTSTRAP, "linger.ms": 5 });
  const deliveries: Promise<unknown>[] = [];
  const first = options.first ?? 0;
  for (let i = first; i < first + count; i++) {
    for (let partition = 0; partition < partitions; partition++) {
      const pending = await producer.send({
        topic,
        partition,
        key: encoder.encode(`k${i % 7}`),
        value: padded(encoder.encode(`p${partition}-${i}`), options.valueBytes ?? 0),
        ...(options.headers ? { headers: [{ key: "n", value: encoder.encode(String(i)) }] } : {}),
        ...(options.timestampBase === undefined
          ? {}
          : { timestamp: options.timestampBase + i * 1000 }),
      });
      deliveries.push(pending.delivered);
    }
  }
  await Promise.all(deliveries);
}

/** Where a recording record processor's run notes what it did. */
export interface RecordRun {
  /** A fresh, empty events file (`--events-file`). */
  events: string;
  /** A fresh consumer group name (`--group`). */
  group: string;
}

/**
 * Puts `count` records per partition on `topic` ({@linkcode putRecords}) and returns a fresh
 * events file and group name (`records-<random>`) for the run that reads them.
 */
export async function prepareRecordRun(
  topic: string,
  partitions: number,
  count: number,
  options: PutRecordsOptions = {},
): Promise<RecordRun> {
  await putRecords(topic, partitions, count, options);
  const events = await Deno.makeTempFile();
  return {
    events,
    group: `records-${crypto.randomUUID().slice(0, 8)}`,
  };
}

/** `bytes` followed by zeros up to `size` bytes (itself when already that long). */
function padded(bytes: Uint8Array, size: number): Uint8Array {
  if (bytes.length >= size) return bytes;
  const out = new Uint8Array(size);
  out.set(bytes);
  return out;
}

/** One line of the recording record processor's events file. */
export interface RecordEvent {
  /** The `--run-id` of the process that wrote it. */
  run: string;
  /** The partition. */
  partition: number;
  /** `initialize`, `records`, `checkpoint`, `shutdownRequested`, `shutdown`, ... */
  event: string;
  /**
   * The event's detail (for `records`: `<first>-<last> <count> <messagesBehindLatest>
   * <millisBehindLatest>`).
   */
  detail: string;
  /**
   * When the process wrote it (ms since the epoch): events of several processes are ordered by
   * it, not by when a test read them.
   */
  time: number;
}

/** The events written so far to `file` (none when it does not exist yet). */
export async function readEvents(file: string): Promise<RecordEvent[]> {
  let text = "";
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return text.split("\n").filter((line) => line.trim()).map((line) => {
    const [run, partition, event, detail, time] = line.split("\t");
    return { run, partition: Number(partition), event, detail: detail ?? "", time: Number(time) };
  });
}

/** The offsets `[first, last]` of a `records` event. */
export function recordRange(event: RecordEvent): [number, number] {
  const [first, last] = event.detail.split(" ")[0].split("-").map(Number);
  return [first, last];
}

/** The offsets the `records` events delivered, in the order delivered. */
export function deliveredOffsets(events: readonly RecordEvent[]): number[] {
  const out: number[] = [];
  for (const e of events.filter((e) => e.event === "records")) {
    const [first, last] = recordRange(e);
    for (let o = first; o <= last; o++) out.push(o);
  }
  return out;
}

/** The offsets `from`, `from + 1`, ..., `to - 1`. */
export function range(from: number, to: number): number[] {
  return [...Array(Math.max(0, to - from)).keys()].map((i) => i + from);
}
