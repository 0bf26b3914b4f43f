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

export { defineProcessor, FileProcessor } from "./src/runtime/file_processor.ts";
export type { CommandLineOptions, RunSettings } from "./src/runtime/file_processor.ts";
export type {
  OptionSpec,
  OptionSpecs,
  OptionType,
  OptionValue,
  OptionValues,
  ProcessLock,
  ProcessorContext,
  ProcessorDefinition,
  ProcessorLogger,
} from "./src/runtime/define_processor.ts";
export type { FileRunSettings, RunStatus } from "./src/runtime/file_runner.ts";
export { defineRecordProcessor, RecordProcessor } from "./src/runtime/record_processor.ts";
export type { RecordRunOptions } from "./src/runtime/record_processor.ts";
export type { RecordRunSettings, RecordRunStatus } from "./src/runtime/record_runner.ts";
export type { AutoCheckpoint } from "./src/runtime/worker_protocol.ts";
export { CheckpointError, RecordError } from "./src/runtime/record_types.ts";
export type {
  BatchInfo,
  Checkpointer,
  CheckpointErrorKind,
  ErrorPolicy,
  KafkaRecord,
  PartitionContext,
  RecordProcessorDefinition,
  ShutdownReason,
} from "./src/runtime/record_types.ts";
export type {
  DownloadedFile,
  PartitionRange,
  ReassemblyMode,
} from "./src/files/downloaded_file.ts";
export * from "./src/kafka/mod.ts";
