/**
 * Ferry: run your own TypeScript on data arriving through Apache Kafka — whole data files
 * rebuilt from OpenMSIStream-compatible chunk messages, or plain records.
 *
 * ```ts
 * import { defineProcessor } from "./mod.ts";
 *
 * const processor = defineProcessor({
 *   name: "checksum",
 *   async process(file, lock) {
 *     await lock.run(() => console.log(file.relativePath, file.sha512.slice(0, 16)));
 *   },
 * });
 * if (import.meta.main) await processor.runFromCommandLine();
 * ```
 *
 * @module
 */

export { defineProcessor, FileProcessor } from "./src/file_processor/define.ts";
export type { CommandLineOptions, RunSettings } from "./src/file_processor/define.ts";
export type {
  FailedFile,
  FailureContext,
  OptionSpec,
  OptionSpecs,
  OptionType,
  OptionValue,
  OptionValues,
  ProcessLock,
  ProcessorContext,
  ProcessorDefinition,
  ProcessorLogger,
  ProcessorResult,
  ProcessOutcome,
} from "./src/processor/definition.ts";
export type { FileRunSettings, RunStatus } from "./src/file_processor/run_state.ts";
export type { ResultsSettings } from "./src/file_processor/results.ts";
export { defineRecordProcessor, RecordProcessor } from "./src/record_processor/define.ts";
export type { RecordRunOptions } from "./src/record_processor/define.ts";
export type { RecordRunSettings, RecordRunStatus } from "./src/record_processor/run_state.ts";
export type { FileRunCounters, PartitionLag, RecordRunCounters } from "./src/command/metrics.ts";
export { CheckpointError, RecordError } from "./src/record_processor/types.ts";
export type {
  AutoCheckpoint,
  BatchInfo,
  Checkpointer,
  CheckpointErrorKind,
  ErrorPolicy,
  KafkaRecord,
  PartitionContext,
  RecordProcessorDefinition,
  ShutdownReason,
} from "./src/record_processor/types.ts";
export type {
  DownloadedFile,
  PartitionRange,
  ReassemblyMode,
} from "./src/files/downloaded_file.ts";
export * from "./src/kafka/mod.ts";
