/**
 * `defineRecordProcessor` and the runnable it returns.
 *
 * As in `defineProcessor`'s module, the runner and the command line are imported when first
 * used: a Ferry worker importing the user's script needs neither.
 *
 * @module
 */

import { type OptionSpecs, workerRegistrationHook } from "../processor/definition.ts";
import type { CommandLineOptions } from "../file_processor/define.ts";
import type { RecordRunSettings, RecordRunStatus } from "./runner.ts";
import type { RecordProcessorDefinition } from "./types.ts";

/** Settings for {@linkcode RecordProcessor.run}; what is left out takes its default. */
export type RecordRunOptions =
  & Pick<RecordRunSettings, "topic" | "kafka">
  & Partial<Omit<RecordRunSettings, "topic" | "kafka" | "name">>;

/**
 * A record processor defined with {@linkcode defineRecordProcessor}.
 *
 * @example Run from code until the topic is idle for two seconds (needs a broker)
 * ```ts ignore
 * import { defineRecordProcessor } from "../../mod.ts";
 *
 * const counter = defineRecordProcessor({
 *   name: "counter",
 *   processRecords(records) {
 *     console.log(`partition ${records[0].partition}: ${records.length} records`);
 *   },
 *   autoCheckpoint: { everyRecords: 1_000 },
 * });
 * const status = await counter.run({
 *   topic: "events",
 *   kafka: { "bootstrap.servers": "127.0.0.1:19092" },
 *   exitWhenIdleMs: 2_000,
 * });
 * console.log(status);
 * ```
 */
export class RecordProcessor<S extends OptionSpecs = OptionSpecs> {
  /** The definition. */
  readonly definition: RecordProcessorDefinition<S>;

  /** Wraps a definition; use {@linkcode defineRecordProcessor}. */
  constructor(definition: RecordProcessorDefinition<S>) {
    this.definition = definition;
  }

  /** Runs with settings given in code until stopped through `signal` or idle. */
  async run(options: RecordRunOptions): Promise<RecordRunStatus> {
    const d = this.definition;
    const [{ runRecordProcessor }, { defaultGroup }] = await Promise.all([
      import("./runner.ts"),
      import("../file_processor/runner.ts"),
    ]);
    return await runRecordProcessor({
      name: d.name,
      scriptUrl: options.scriptUrl ?? Deno.mainModule,
      group: options.group ?? defaultGroup(d.name, options.topic),
      workers: 2,
      options: {},
      errorPolicy: d.errorPolicy ?? "stop-partition",
      retries: d.retries ?? 3,
      autoCheckpoint: d.autoCheckpoint ?? {},
      maxBatch: 500,
      statusIntervalMs: 30_000,
      stopGraceMs: 30_000,
      ...options,
    });
  }

  /**
   * Parses the command line, runs until stopped (SIGINT/SIGTERM) or idle with
   * `--exit-when-idle`, and exits: 0 (also on a signal, once every running batch finished
   * within `--stop-grace`), 1 on a runtime error, a partition stopped by the error policy or a
   * batch given up at the stop grace, 2 on a usage error. Inside a Ferry worker this does
   * nothing.
   */
  async runFromCommandLine(
    args: readonly string[] = Deno.args,
    options: CommandLineOptions = {},
  ): Promise<number> {
    if (workerRegistrationHook()) return 0;
    const d = this.definition;
    const [{ parseProcessorArguments }, { runCommand }, { defaultGroup }] = await Promise.all([
      import("../command/processor_options.ts"),
      import("../command/run_command.ts"),
      import("../file_processor/runner.ts"),
    ]);
    const code = await runCommand({
      name: d.name,
      noun: "records",
      parse: () => parseProcessorArguments(d.name, d.description, d.options ?? {}, args, "records"),
      logging: (parsed) => ({
        level: parsed.logLevel,
        file: parsed.logFile,
        name: d.name,
        fileLevel: parsed.logFileLevel,
      }),
      reporting: (parsed) => parsed.reporting,
      statusIntervalMs: (parsed) => parsed.statusIntervalMs,
      run: async (parsed, signal, progress) => {
        let everyRecords = parsed.checkpointEveryRecords ?? d.autoCheckpoint?.everyRecords;
        const everyMs = parsed.checkpointEveryMs ?? d.autoCheckpoint?.everyMs;
        // Results are produced with checkpoints: without a rule for them, one per batch.
        if (parsed.results && everyRecords === undefined && everyMs === undefined) {
          everyRecords = 1;
        }
        const status = await this.run({
          scriptUrl: options.scriptUrl ?? Deno.mainModule,
          topic: parsed.topic,
          kafka: parsed.kafka,
          group: parsed.group ?? defaultGroup(d.name, parsed.topic),
          workers: parsed.workers,
          options: parsed.options,
          errorPolicy: parsed.errorPolicy ?? d.errorPolicy ?? "stop-partition",
          retries: parsed.retries ?? d.retries ?? 3,
          deadLetterTopic: parsed.deadLetterTopic,
          maxBatch: parsed.maxBatch,
          results: parsed.results,
          autoCheckpoint: {
            ...(everyRecords === undefined ? {} : { everyRecords }),
            ...(everyMs === undefined ? {} : { everyMs }),
          },
          exitWhenIdleMs: parsed.exitWhenIdleMs,
          stopGraceMs: parsed.stopGraceMs,
          metricsPort: parsed.metricsPort,
          failoverSeconds: parsed.failoverSeconds,
          statusIntervalMs: progress.intervalMs,
          logLevel: parsed.logLevel,
          signal,
          onStatus: (s) =>
            progress.update({
              done: s.records,
              // Records that failed for good: skipped by the policy, or stopping a partition.
              failed: s.skippedRecords + s.failedBatches,
              bytes: s.bytes,
              lag: s.lag,
              detail: `${s.partitions} partitions` +
                (s.partitionLags.some((p) => p.lag > 0)
                  ? ` (lag ${s.partitionLags.map((p) => `p${p.partition}:${p.lag}`).join(" ")})`
                  : "") +
                (s.skippedRecords > 0 ? `, ${s.skippedRecords} skipped` : ""),
            }),
        });
        // A partition stopped by the policy, or given up with its batch running past the
        // stop grace (its records come again), is not a stop as planned.
        return status.stoppedPartitions > 0 || status.abandonedPartitions > 0 ? 1 : 0;
      },
    });
    if (options.exit ?? true) Deno.exit(code);
    return code;
  }
}

/**
 * Defines a record processor: one instance per assigned partition (`this` is per-partition
 * state), `initialize`, `processRecords(records, checkpointer, info)`, `shutdownRequested`
 * and `shutdown({ reason, checkpointer })`.
 *
 * @example
 * ```ts
 * import { defineRecordProcessor } from "../../mod.ts";
 *
 * const counter = defineRecordProcessor({
 *   name: "counter",
 *   async processRecords(records, checkpointer) {
 *     console.log(`partition ${records[0].partition}: ${records.length} records`);
 *     await checkpointer.checkpoint();
 *   },
 * });
 * if (import.meta.main) await counter.runFromCommandLine();
 * ```
 */
export function defineRecordProcessor<S extends OptionSpecs = Record<never, never>>(
  definition: RecordProcessorDefinition<S>,
): RecordProcessor<S> {
  if (
    typeof definition.name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(definition.name)
  ) {
    throw new TypeError(
      `Processor name ${JSON.stringify(definition.name)} must be letters, digits, ".", "_" or "-".`,
    );
  }
  if (typeof definition.processRecords !== "function") {
    throw new TypeError(
      `Record processor "${definition.name}" has no processRecords(records, checkpointer).`,
    );
  }
  workerRegistrationHook()?.({ kind: "records", definition });
  return new RecordProcessor(definition);
}
