/**
 * `defineProcessor`: the user's side of Ferry. A script defines its processor once; run with
 * `deno run`, the definition starts the coordinator; loaded inside a Ferry worker, the same
 * call only registers the definition with the worker harness.
 *
 * @module
 */

import type { DownloadedFile } from "../files/downloaded_file.ts";

/**
 * The logger handed to processors: it logs through LogTape under
 * `["ferry", "processor", <name>]`. A message prints as written, except that `{name}` is
 * replaced by the property `name` when one is given (and `{{name}}` then prints `{name}`): other
 * braces (JSON text, say) are kept.
 *
 * @example
 * ```ts
 * import type { ProcessorLogger } from "./definition.ts";
 * import { processorLogger } from "./logger.ts";
 *
 * const logger: ProcessorLogger = processorLogger("checksum");
 * logger.info("Checked {path}.", { path: "run1/scan.csv" }); // Checked "run1/scan.csv".
 * logger.info("Read " + JSON.stringify({ temp: 21.5 })); // Read {"temp":21.5}
 * ```
 */
export interface ProcessorLogger {
  /** Logs at debug level. */
  debug(message: string, properties?: Record<string, unknown>): void;
  /** Logs at info level. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** Logs at warning level. */
  warn(message: string, properties?: Record<string, unknown>): void;
  /** Logs at error level. */
  error(message: string, properties?: Record<string, unknown>): void;
}

/**
 * A section that only one worker at a time may run (the seed's threading lock).
 *
 * @example Append to one results file from every worker
 * ```ts
 * import { defineProcessor } from "../../mod.ts";
 *
 * defineProcessor({
 *   name: "sizes",
 *   async process(file, lock, context) {
 *     const line = `${file.relativePath}\t${file.size}\n`;
 *     await lock.run(() =>
 *       Deno.writeTextFile(`${context.outputDir}/sizes.tsv`, line, { append: true })
 *     );
 *   },
 * });
 * ```
 */
export interface ProcessLock {
  /** Runs `fn` while holding the lock shared by every worker of this run. */
  run<T>(fn: () => T | Promise<T>): Promise<T>;
}

/** The type of an extra command-line option. */
export type OptionType = "string" | "number" | "boolean";

/** An extra command-line option a processor adds to the built-in ones. */
export interface OptionSpec {
  /** The value's type. */
  type: OptionType;
  /** One line for `--help`. */
  description: string;
  /** The value when the option is not given. */
  default?: string | number | boolean;
  /** Whether the option must be given (when it has no default). */
  required?: boolean;
}

/**
 * Extra options by name (camelCase; the flag is its kebab-case form).
 *
 * @example `--threshold 2.5 --label run7`: typed values in `context.options`
 * ```ts
 * import type { OptionSpecs, OptionValues } from "../../mod.ts";
 *
 * const options = {
 *   threshold: { type: "number", description: "alarm above this", default: 1 },
 *   label: { type: "string", description: "a tag for the results" },
 * } satisfies OptionSpecs;
 * const values: OptionValues<typeof options> = { threshold: 2.5, label: undefined };
 * const threshold: number = values.threshold; // has a default: never undefined
 * ```
 */
export type OptionSpecs = Record<string, OptionSpec>;

/** The value type of an extra option of type `T`. */
export type OptionValue<T extends OptionType> = T extends "number" ? number
  : T extends "boolean" ? boolean
  : string;

/** The parsed values of extra options. */
export type OptionValues<S extends OptionSpecs> = {
  [K in keyof S]: S[K] extends { default: string | number | boolean } | { required: true }
    ? OptionValue<S[K]["type"]>
    : OptionValue<S[K]["type"]> | undefined;
};

/**
 * What `initialize`, `process` and `shutdown` are told about the run.
 *
 * @example
 * ```ts
 * import { defineProcessor } from "../../mod.ts";
 *
 * defineProcessor({
 *   name: "hello",
 *   initialize(context) {
 *     context.logger.info("Worker {index} writes into {dir}.", {
 *       index: context.workerIndex,
 *       dir: context.outputDir,
 *     });
 *   },
 *   process() {},
 * });
 * ```
 */
export interface ProcessorContext<O = Record<string, unknown>> {
  /** The processor's name. */
  name: string;
  /** The output directory. */
  outputDir: string;
  /** The topic. */
  topic: string;
  /** Which worker this is, from 0. */
  workerIndex: number;
  /** The values of the processor's extra command-line options. */
  options: O;
  /** A logger under `["ferry", "processor", <name>]`. */
  logger: ProcessorLogger;
}

/** What `process` returns: nothing, an Error (failure), or results to produce. */
export type ProcessOutcome = void | Error | ProcessorResult | readonly ProcessorResult[];

/**
 * A file that used up its attempts, as the failure hook ({@linkcode ProcessorDefinition.onFailure})
 * is told about it. Its data is no longer in memory: `kept` says where it is kept.
 */
export interface FailedFile {
  /** Its relative path in the output directory. */
  relativePath: string;
  /** SHA-512 of its content, hex: with `mtime`, which generation of the path this is. */
  sha512: string;
  /** Its size in bytes. */
  size: number;
  /** Its modification time at upload (ms since the epoch), when the uploader sent one. */
  mtime?: number;
  /** How many attempts failed (the processor's `--max-attempts`, or 1 for an invalid file). */
  attempts: number;
  /**
   * Where its data is kept, relative to the output directory (`ferry retry` runs it again from
   * there); `""` when nothing is kept (an invalid file, whose content did not match its SHA-512).
   */
  kept: string;
}

/**
 * What the failure hook is told about the run: the processor's context without a worker (the
 * hook runs on the coordinator, the process's main thread).
 */
export type FailureContext<O = Record<string, unknown>> = Omit<ProcessorContext<O>, "workerIndex">;

/**
 * A processor's definition.
 *
 * @example A processor with its own `--min-size` option
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineProcessor } from "../../mod.ts";
 *
 * const processor = defineProcessor({
 *   name: "min-size",
 *   description: "Fails files smaller than --min-size bytes.",
 *   options: { minSize: { type: "number", description: "Smallest size", default: 1 } },
 *   process(file, _lock, context) {
 *     const minSize: number = context.options.minSize;
 *     if (file.size < minSize) return new Error(`"${file.relativePath}" is too small.`);
 *   },
 * });
 * assert.equal(processor.definition.name, "min-size");
 * ```
 */
export interface ProcessorDefinition<S extends OptionSpecs = OptionSpecs> {
  /** A short name: used in the default consumer group and log lines. */
  name: string;
  /** One line for `--help`. */
  description?: string;
  /** Extra command-line options. */
  options?: S;
  /** Runs once in each worker before its first file. */
  initialize?: (context: ProcessorContext<OptionValues<S>>) => void | Promise<void>;
  /**
   * Runs on every rebuilt file whose SHA-512 checked out. Return nothing for success; return
   * or throw an Error for failure (the file is recorded as failed, kept, and retried on the
   * next start). Return a {@linkcode ProcessorResult} (or an array of them) to produce them to
   * the output topic given with `--output-topic`.
   */
  process: (
    file: DownloadedFile,
    lock: ProcessLock,
    context: ProcessorContext<OptionValues<S>>,
  ) => ProcessOutcome | Promise<ProcessOutcome>;
  /** Runs once in each worker when the run stops. */
  shutdown?: (context: ProcessorContext<OptionValues<S>>) => void | Promise<void>;
  /**
   * Runs once per file when it has used up its attempts (`--max-attempts`), after its failure
   * is recorded, not once per attempt: the place to alert someone or move the file aside
   * (OpenMSIStream's `_failed_processing_callback`). It also runs for an invalid file (its
   * content did not match its SHA-512). It runs on the coordinator (the main thread), not in a
   * worker, so keep it short; an error it throws is logged, nothing else. After `ferry retry`
   * the file gets its attempts again, and the hook runs again if it uses them up again.
   *
   * @example Append every file given up on to a list
   * ```ts
   * import { defineProcessor } from "../../mod.ts";
   *
   * defineProcessor({
   *   name: "parse",
   *   process(file) {
   *     if (file.size === 0) return new Error(`"${file.relativePath}" is empty.`);
   *   },
   *   async onFailure(file, error, context) {
   *     const line = `${file.relativePath}\t${file.sha512.slice(0, 16)}\t${error.message}\n`;
   *     await Deno.writeTextFile(`${context.outputDir}/given-up.tsv`, line, { append: true });
   *   },
   * });
   * ```
   */
  onFailure?: (
    file: FailedFile,
    error: Error,
    context: FailureContext<OptionValues<S>>,
  ) => void | Promise<void>;
}

/**
 * A message a processor produces to the output topic (`--output-topic`): return one, or an
 * array of them, from `process` (or from `processRecords`). Ferry adds headers naming where it
 * came from (`ferry-source-path`, `ferry-source-sha512`, `ferry-source-topic` for a file;
 * `ferry-source-topic`, `ferry-source-partition`, `ferry-source-offset` for a record batch's
 * first record). With `--exactly-once` the results and the offsets they come from are committed
 * in one Kafka transaction: a `read_committed` consumer of the output topic sees each once.
 *
 * @example A processor that produces one JSON summary per file
 * ```ts
 * import { defineProcessor } from "../../mod.ts";
 *
 * defineProcessor({
 *   name: "line-counts",
 *   process(file) {
 *     const lines = new TextDecoder().decode(file.bytes).split("\n").length;
 *     return { key: file.relativePath, value: JSON.stringify({ path: file.relativePath, lines }) };
 *   },
 * });
 * // deno run -A line_counts.ts -b 127.0.0.1:19092 -t raw --output-topic counts --exactly-once
 * ```
 */
export interface ProcessorResult {
  /** The message's value: bytes, or text (sent as UTF-8). */
  value: Uint8Array | string;
  /** The message's key; without one, librdkafka's partitioner spreads the results. */
  key?: Uint8Array | string;
  /** Headers of your own, added before Ferry's. */
  headers?: Record<string, string>;
}

/** The hook a Ferry worker installs before it imports the user's script. */
export const WORKER_REGISTRATION: unique symbol = Symbol.for("ferry.worker.registration");

/** What a worker's registration hook receives. */
export type RegisteredDefinition =
  | { kind: "files"; definition: ProcessorDefinition }
  | { kind: "records"; definition: unknown };

type RegistrationHook = (registered: RegisteredDefinition) => void;

/** The registration hook, when this code runs inside a Ferry worker. */
export function workerRegistrationHook(): RegistrationHook | undefined {
  return (globalThis as { [WORKER_REGISTRATION]?: RegistrationHook })[WORKER_REGISTRATION];
}

/** Whether this code runs inside a Ferry worker. */
export function insideWorker(): boolean {
  return workerRegistrationHook() !== undefined;
}
