/**
 * `defineProcessor`: the user's side of Ferry. A script defines its processor once; run with
 * `deno run`, the definition starts the coordinator; loaded inside a Ferry worker, the same
 * call only registers the definition with the worker harness.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { DownloadedFile } from "../files/downloaded_file.ts";

/** A section that only one worker at a time may run (the seed's threading lock). */
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

/** Extra options by name (camelCase; the flag is its kebab-case form). */
export type OptionSpecs = Record<string, OptionSpec>;

type ValueOf<T extends OptionType> = T extends "number" ? number
  : T extends "boolean" ? boolean
  : string;

/** The parsed values of extra options. */
export type OptionValues<S extends OptionSpecs> = {
  [K in keyof S]: S[K] extends { default: string | number | boolean } | { required: true }
    ? ValueOf<S[K]["type"]>
    : ValueOf<S[K]["type"]> | undefined;
};

/** What `initialize`, `process` and `shutdown` are told about the run. */
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
  logger: Logger;
}

/** A processor's definition. */
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
   * next start).
   */
  process: (
    file: DownloadedFile,
    lock: ProcessLock,
    context: ProcessorContext<OptionValues<S>>,
  ) => void | Error | Promise<void | Error>;
  /** Runs once in each worker when the run stops. */
  shutdown?: (context: ProcessorContext<OptionValues<S>>) => void | Promise<void>;
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
