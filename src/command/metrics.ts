/**
 * An optional Prometheus-style metrics endpoint for a running file or record processor
 * (`--metrics-port <n>`): `GET http://127.0.0.1:<n>/metrics` answers in the Prometheus text
 * exposition format (version 0.0.4) with the run's counters (files processed, failed, invalid,
 * skipped; records processed, skipped; bytes received), gauges (files being rebuilt and
 * processed, partitions assigned) and the lag of every assigned partition, also under the
 * names Kafka exporters use (`kafka_consumergroup_lag`, `kafka_consumergroup_current_offset`,
 * `kafka_topic_partition_current_offset`, labelled `group`, `topic`, `partition`), so that
 * dashboards and alerts written for them work. It listens on loopback only: put a reverse proxy
 * in front to expose it.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { UploadBacklogFigures } from "./progress.ts";

const logger = getLogger(["ferry", "metrics"]);

/** One value of a metric, with its labels. */
export interface MetricSample {
  /** Label names and values, such as `{ partition: "3" }`. */
  labels?: Record<string, string>;
  /** The value. */
  value: number;
}

/** A metric family: a name, its help line, its type and its samples. */
export interface MetricFamily {
  /** The metric name, such as `ferry_files_processed_total`. */
  name: string;
  /** One line describing it. */
  help: string;
  /** `counter` (only goes up during a run) or `gauge`. */
  type: "counter" | "gauge";
  /** The samples; a family without samples is left out. */
  samples: MetricSample[];
}

/** How far one partition's reading is behind its end. */
export interface PartitionLag {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** Messages between the consumer's position and the partition's end. */
  lag: number;
  /** The offset of the next message to process, when known. */
  offset?: number;
  /** The partition's end (high watermark) as of the last fetch, when known. */
  end?: number;
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/**
 * Renders metric families in the Prometheus text exposition format.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderMetrics } from "./metrics.ts";
 *
 * const text = renderMetrics([{
 *   name: "ferry_partition_lag",
 *   help: "Messages not yet read.",
 *   type: "gauge",
 *   samples: [{ labels: { topic: "raw", partition: "0" }, value: 12 }],
 * }]);
 * assert.equal(
 *   text,
 *   "# HELP ferry_partition_lag Messages not yet read.\n" +
 *     "# TYPE ferry_partition_lag gauge\n" +
 *     'ferry_partition_lag{topic="raw",partition="0"} 12\n',
 * );
 * ```
 *
 * @param families The metric families.
 * @returns The exposition text, one line per sample.
 */
export function renderMetrics(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (family.samples.length === 0) continue;
    lines.push(`# HELP ${family.name} ${family.help.replaceAll("\n", " ")}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels ?? {})
        .map(([name, value]) => `${name}="${escapeLabel(value)}"`)
        .join(",");
      lines.push(`${family.name}${labels ? `{${labels}}` : ""} ${formatValue(sample.value)}`);
    }
  }
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}

/**
 * The metric families of a file processor's run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileRunMetrics, renderMetrics } from "./metrics.ts";
 *
 * const status = {
 *   processed: 3, failed: 1, invalid: 0, skipped: 0, filtered: 0, malformed: 0, abandoned: 0,
 *   inProgress: 2, running: 1, bytes: 4096, seconds: 9.5, lag: undefined, stopped: false,
 *   givenUp: 0,
 * };
 * const lags = [{ topic: "raw", partition: 0, lag: 7 }];
 * const text = renderMetrics(fileRunMetrics("checksum", "raw", status, lags));
 * assert.match(text, /^ferry_files_processed_total\{processor="checksum",topic="raw"\} 3$/m);
 * assert.match(text, /^ferry_partition_lag\{processor="checksum",topic="raw",partition="0"\} 7$/m);
 * ```
 *
 * @param processor The processor's name (a label on every sample).
 * @param topic The topic (a label on every sample).
 * @param status The run's counters.
 * @param lags The lag of each assigned partition whose lag is known.
 * @returns The families, in a stable order.
 */
export function fileRunMetrics(
  processor: string,
  topic: string,
  status: FileRunCounters,
  lags: readonly PartitionLag[],
  group?: string,
): MetricFamily[] {
  return runFamilies(processor, topic, lags, group, [
    [
      "ferry_files_processed_total",
      "counter",
      "Files processed successfully.",
      status.processed,
    ],
    ["ferry_files_failed_total", "counter", "Files whose process() failed.", status.failed],
    [
      "ferry_files_invalid_total",
      "counter",
      "Files whose content did not match their hash, or whose chunks did not fit.",
      status.invalid,
    ],
    [
      "ferry_files_skipped_total",
      "counter",
      "Files skipped because an earlier run processed (or failed) them.",
      status.skipped,
    ],
    [
      "ferry_messages_malformed_total",
      "counter",
      "Messages that were not valid chunks.",
      status.malformed,
    ],
    ["ferry_bytes_received_total", "counter", "Bytes of chunk data received.", status.bytes],
    [
      "ferry_files_in_progress",
      "gauge",
      "Files being rebuilt from their chunks.",
      status.inProgress,
    ],
    ["ferry_files_running", "gauge", "Files in process() right now.", status.running],
    ...(status.partialBytes === undefined ? [] : [[
      "ferry_partial_bytes",
      "gauge",
      "Bytes received of the files being rebuilt, waiting for their other chunks.",
      status.partialBytes,
    ] as RunMetric]),
    ...(status.failedPermanently === undefined ? [] : [[
      "ferry_files_failed_permanently",
      "gauge",
      "Files that used up their attempts and stay failed (ferry status lists them).",
      status.failedPermanently,
    ] as RunMetric]),
    ["ferry_run_seconds", "gauge", "Seconds since the run started.", status.seconds],
  ]);
}

/** The counters of a file processor run that its metrics show. */
export interface FileRunCounters {
  /** Files processed successfully. */
  processed: number;
  /** Files whose `process` failed. */
  failed: number;
  /** Files whose content did not match their hash, or whose chunks did not fit. */
  invalid: number;
  /** Files skipped because an earlier run processed (or failed) them. */
  skipped: number;
  /** Messages that were not valid chunks. */
  malformed: number;
  /** Bytes of chunk data received. */
  bytes: number;
  /** Files being rebuilt. */
  inProgress: number;
  /** Files in `process` now. */
  running: number;
  /** Seconds since the start. */
  seconds: number;
  /** Bytes received of the files being rebuilt (waiting for their other chunks), when known. */
  partialBytes?: number;
  /** Files that used up their attempts and stay failed (in the registry), when known. */
  failedPermanently?: number;
}

/** The counters of a record processor run that its metrics show. */
export interface RecordRunCounters {
  /** Records `processRecords` handled. */
  records: number;
  /** Records skipped by the `skip` policy. */
  skippedRecords: number;
  /** Bytes of keys and values received. */
  bytes: number;
  /** Records that kept failing (policies `stop-partition` and `exit`). */
  failedBatches: number;
  /** Partitions stopped by the `stop-partition` policy. */
  stoppedPartitions: number;
  /** Partitions assigned now. */
  partitions: number;
  /** Seconds since the start. */
  seconds: number;
}

/**
 * The metric families of a record processor run: its counters, and the lag of each assigned
 * partition (`ferry_partition_lag`, as for file processors).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordRunMetrics, renderMetrics } from "./metrics.ts";
 *
 * const status = {
 *   records: 1200, skippedRecords: 1, bytes: 65536, failedBatches: 0, stoppedPartitions: 0,
 *   partitions: 2, seconds: 4.5,
 * };
 * const text = renderMetrics(
 *   recordRunMetrics("counts", "events", status, [{ topic: "events", partition: 1, lag: 40 }]),
 * );
 * assert.match(text, /^ferry_records_processed_total\{processor="counts",topic="events"\} 1200$/m);
 * assert.match(text, /^ferry_partition_lag\{processor="counts",topic="events",partition="1"\} 40$/m);
 * ```
 *
 * @param processor The processor's name (a label on every sample).
 * @param topic The topic (a label on every sample).
 * @param status The run's counters.
 * @param lags The lag of each assigned partition whose lag is known.
 * @returns The families, in a stable order.
 */
export function recordRunMetrics(
  processor: string,
  topic: string,
  status: RecordRunCounters,
  lags: readonly PartitionLag[],
  group?: string,
): MetricFamily[] {
  return runFamilies(processor, topic, lags, group, [
    [
      "ferry_records_processed_total",
      "counter",
      "Records processRecords handled.",
      status.records,
    ],
    [
      "ferry_records_skipped_total",
      "counter",
      "Records skipped by the skip policy (sent to the dead-letter topic when set).",
      status.skippedRecords,
    ],
    [
      "ferry_records_failed_total",
      "counter",
      "Records that kept failing and stopped their partition or the run.",
      status.failedBatches,
    ],
    [
      "ferry_bytes_received_total",
      "counter",
      "Bytes of keys and values received.",
      status.bytes,
    ],
    ["ferry_partitions_assigned", "gauge", "Partitions assigned now.", status.partitions],
    [
      "ferry_partitions_stopped",
      "gauge",
      "Partitions stopped by the stop-partition policy.",
      status.stoppedPartitions,
    ],
    ["ferry_run_seconds", "gauge", "Seconds since the run started.", status.seconds],
  ]);
}

/** The counters of a `ferry upload` run that its metrics show. */
export interface UploadRunCounters {
  /** Files whose every chunk the broker acknowledged. */
  uploaded: number;
  /** Files skipped: uploaded before (the upload log says so), or empty. */
  skipped: number;
  /** Files that failed. */
  failed: number;
  /** Bytes of chunk data acknowledged. */
  bytes: number;
  /** Seconds since the start. */
  seconds: number;
  /** A watching upload's backlog now. */
  backlog?: UploadBacklogFigures;
}

/**
 * The metric families of a `ferry upload` run (labelled `processor="upload"` and the topic).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderMetrics, uploadRunMetrics } from "./metrics.ts";
 *
 * const text = renderMetrics(
 *   uploadRunMetrics("raw", { uploaded: 4, skipped: 1, failed: 0, bytes: 9000, seconds: 2 }),
 * );
 * assert.match(text, /^ferry_files_uploaded_total\{processor="upload",topic="raw"\} 4$/m);
 * ```
 *
 * @param topic The topic uploaded to.
 * @param status The run's counters.
 * @returns The families, in a stable order.
 */
export function uploadRunMetrics(topic: string, status: UploadRunCounters): MetricFamily[] {
  return runFamilies("upload", topic, [], undefined, [
    [
      "ferry_files_uploaded_total",
      "counter",
      "Files whose every chunk was acknowledged.",
      status.uploaded,
    ],
    [
      "ferry_files_skipped_total",
      "counter",
      "Files skipped: uploaded before (the upload log says so), or empty.",
      status.skipped,
    ],
    ["ferry_files_failed_total", "counter", "Files that failed to upload.", status.failed],
    [
      "ferry_bytes_sent_total",
      "counter",
      "Bytes of chunk data the broker acknowledged.",
      status.bytes,
    ],
    ["ferry_run_seconds", "gauge", "Seconds since the run started.", status.seconds],
    ...(status.backlog === undefined ? [] : [
      [
        "ferry_watch_backlog_files",
        "gauge",
        "Files settled and waiting for an upload slot (--watch).",
        status.backlog.waiting,
      ],
      [
        "ferry_watch_backlog_oldest_seconds",
        "gauge",
        "Seconds the longest-waiting settled file has waited (--watch).",
        status.backlog.oldestWaitingMs / 1000,
      ],
      [
        "ferry_watch_settling_files",
        "gauge",
        "Files changed recently, waiting to settle (--watch).",
        status.backlog.settling,
      ],
    ] satisfies RunMetric[]),
  ]);
}

/** One metric of a run: name, type, help line, value. */
type RunMetric = [name: string, type: "counter" | "gauge", help: string, value: number];

/**
 * A run's metrics, each one sample labelled with the processor and topic, then the lags, and,
 * with the group, the lags and offsets under Kafka exporters' names.
 */
function runFamilies(
  processor: string,
  topic: string,
  lags: readonly PartitionLag[],
  group: string | undefined,
  metrics: readonly RunMetric[],
): MetricFamily[] {
  const labels = { processor, topic };
  return [
    ...metrics.map(([name, type, help, value]) => ({
      name,
      type,
      help,
      samples: [{ labels, value }],
    })),
    lagFamily(labels, lags),
    ...(group === undefined ? [] : exporterFamilies(group, lags)),
  ];
}

/**
 * The lags and offsets under the names of the Kafka exporters people already scrape
 * (danielqsj/kafka_exporter): `kafka_consumergroup_lag` and `kafka_consumergroup_current_offset`
 * labelled `group`, `topic`, `partition`, and the partition's end as
 * `kafka_topic_partition_current_offset` labelled `topic`, `partition`.
 */
function exporterFamilies(group: string, lags: readonly PartitionLag[]): MetricFamily[] {
  const labels = (lag: PartitionLag) => ({
    group,
    topic: lag.topic,
    partition: String(lag.partition),
  });
  return [
    {
      name: "kafka_consumergroup_lag",
      type: "gauge",
      help: "Messages between this consumer's position and the end of the partition.",
      samples: lags.map((lag) => ({ labels: labels(lag), value: lag.lag })),
    },
    {
      name: "kafka_consumergroup_current_offset",
      type: "gauge",
      help: "The offset of the next message this consumer processes in the partition.",
      samples: lags.filter((lag) => lag.offset !== undefined)
        .map((lag) => ({ labels: labels(lag), value: lag.offset! })),
    },
    {
      name: "kafka_topic_partition_current_offset",
      type: "gauge",
      help: "The end of the partition (its high watermark) as of the last fetch.",
      samples: lags.filter((lag) => lag.end !== undefined).map((lag) => ({
        labels: { topic: lag.topic, partition: String(lag.partition) },
        value: lag.end!,
      })),
    },
  ];
}

function lagFamily(labels: Record<string, string>, lags: readonly PartitionLag[]): MetricFamily {
  return {
    name: "ferry_partition_lag",
    type: "gauge",
    help: "Messages between the consumer's position and the end of the partition.",
    samples: lags.map((lag) => ({
      labels: { ...labels, partition: String(lag.partition) },
      value: lag.lag,
    })),
  };
}

/** Options of {@linkcode serveMetrics}. */
export interface MetricsServerOptions {
  /** The TCP port on 127.0.0.1; 0 picks a free one (see {@linkcode MetricsServer.port}). */
  port: number;
  /** Called on every scrape. */
  collect: () => readonly MetricFamily[] | Promise<readonly MetricFamily[]>;
}

/** A running metrics endpoint; dispose of it (or call `close`) to stop listening. */
export interface MetricsServer extends AsyncDisposable {
  /** The port it listens on. */
  readonly port: number;
  /** Stops listening. */
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` on 127.0.0.1 (any other path answers 404).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveMetrics } from "./metrics.ts";
 *
 * await using server = serveMetrics({
 *   port: 0,
 *   collect: () => [{ name: "up", help: "Up.", type: "gauge", samples: [{ value: 1 }] }],
 * });
 * const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
 * assert.match(await response.text(), /^up 1$/m);
 * ```
 *
 * @param options The port and the collector.
 * @returns The server.
 * @throws {Deno.errors.AddrInUse} when the port is taken.
 */
export function serveMetrics(options: MetricsServerOptions): MetricsServer {
  try {
    return listen(options);
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    throw new Deno.errors.AddrInUse(
      `The metrics port ${options.port} on 127.0.0.1 is in use: choose another --metrics-port.`,
    );
  }
}

function listen(options: MetricsServerOptions): MetricsServer {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: options.port,
    onListen: () => {},
  }, async (request) => {
    const url = new URL(request.url);
    if (url.pathname !== "/metrics") {
      return new Response("Not found: metrics are at /metrics.\n", { status: 404 });
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method not allowed.\n", { status: 405 });
    }
    try {
      const text = renderMetrics(await options.collect());
      return new Response(text, {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    } catch (error) {
      logger.warn("Could not collect metrics: {error}", {
        error: error instanceof Error ? error.message : String(error),
      });
      return new Response("Could not collect metrics.\n", { status: 500 });
    }
  });
  const port = server.addr.port;
  logger.info("Metrics at http://127.0.0.1:{port}/metrics", { port });
  let closing: Promise<void> | undefined;
  const close = () => closing ??= server.shutdown();
  return { port, close, [Symbol.asyncDispose]: close };
}
