/**
 * `defineProcessor` and the runnable it returns.
 *
 * @module
 */

import { parseProcessorArguments } from "./command_line.ts";
import { runCommand } from "./command_runner.ts";
import {
  type OptionSpecs,
  type ProcessorDefinition,
  workerRegistrationHook,
} from "./define_processor.ts";
import { defaultGroup, runFileProcessor, type RunStatus } from "./file_runner.ts";
import type { FileRunSettings } from "./file_runner.ts";

/** Options for {@linkcode FileProcessor.runFromCommandLine}. */
export interface CommandLineOptions {
  /** The module the workers load; default `Deno.mainModule` (the script being run). */
  scriptUrl?: string;
  /** Exit the process with the run's exit code when done; default true. */
  exit?: boolean;
}

/** Settings for {@linkcode FileProcessor.run}; what is left out takes the command line's default. */
export type RunSettings =
  & Pick<FileRunSettings, "topic" | "kafka" | "outputDir">
  & Partial<Omit<FileRunSettings, "topic" | "kafka" | "outputDir" | "name">>;

/** A processor defined with {@linkcode defineProcessor}: run it from the command line or code. */
export class FileProcessor<S extends OptionSpecs = OptionSpecs> {
  /** The definition. */
  readonly definition: ProcessorDefinition<S>;

  /** Wraps a definition; use {@linkcode defineProcessor}. */
  constructor(definition: ProcessorDefinition<S>) {
    this.definition = definition;
  }

  /**
   * Runs the processor with settings given in code, until stopped through `signal` or idle
   * with `exitWhenIdleMs`. Resolves with the final counts.
   */
  run(settings: RunSettings): Promise<RunStatus> {
    const name = this.definition.name;
    return runFileProcessor({
      name,
      scriptUrl: settings.scriptUrl ?? Deno.mainModule,
      group: settings.group ?? defaultGroup(name, settings.topic),
      mode: "memory",
      workers: 2,
      options: {},
      statusIntervalMs: 30_000,
      maxAttempts: 3,
      processTimeoutMs: 0,
      stopGraceMs: 30_000,
      ...settings,
    });
  }

  /**
   * Parses the command line (built-in options plus the processor's own), runs until stopped
   * (SIGINT/SIGTERM: graceful; a second signal: at once) or idle with `--exit-when-idle`, and
   * exits: 0 when every file was processed, 1 on a runtime error or when files failed, 2 on a
   * usage error. Inside a Ferry worker this does nothing.
   */
  async runFromCommandLine(
    args: readonly string[] = Deno.args,
    options: CommandLineOptions = {},
  ): Promise<number> {
    if (workerRegistrationHook()) return 0;
    const code = await this.#runCommandLine(args, options);
    if (options.exit ?? true) Deno.exit(code);
    return code;
  }

  #runCommandLine(args: readonly string[], options: CommandLineOptions): Promise<number> {
    const definition = this.definition;
    return runCommand({
      name: definition.name,
      parse: () =>
        parseProcessorArguments(
          definition.name,
          definition.description,
          definition.options ?? {},
          args,
        ),
      logging: (parsed) => ({
        level: parsed.logLevel,
        file: parsed.logFile,
        fileLevel: parsed.logFileLevel,
      }),
      run: async (parsed, signal, statusLine) => {
        const status = await this.run({
          scriptUrl: options.scriptUrl ?? Deno.mainModule,
          topic: parsed.topic,
          kafka: parsed.kafka,
          outputDir: parsed.outputDir,
          group: parsed.group ?? defaultGroup(definition.name, parsed.topic),
          mode: parsed.mode,
          workers: parsed.workers,
          downloadRegex: parsed.downloadRegex,
          options: parsed.options,
          exitWhenIdleMs: parsed.exitWhenIdleMs,
          statusIntervalMs: parsed.statusIntervalMs,
          maxAttempts: parsed.maxAttempts,
          processTimeoutMs: parsed.processTimeoutMs,
          logLevel: parsed.logLevel,
          signal,
          onStatus: (s) =>
            statusLine.update(
              `${s.processed} processed, ${s.failed} failed, ` +
                `${s.inProgress + s.running} in progress` +
                (s.lag === undefined ? "" : `, lag ${s.lag}`),
              s.bytes,
            ),
        });
        return status.failed + status.invalid > 0 ? 1 : 0;
      },
    });
  }
}

/**
 * Defines a file processor: your `process` runs on every file rebuilt from a topic, in
 * Deno workers. Run the script with `deno run`; in Ferry's workers the same call only
 * registers the definition.
 *
 * @example
 * ```ts
 * import { defineProcessor } from "../../mod.ts";
 *
 * const processor = defineProcessor({
 *   name: "sizes",
 *   process(file) {
 *     if (file.size === 0) return new Error(`"${file.relativePath}" is empty.`);
 *   },
 * });
 * if (import.meta.main) await processor.runFromCommandLine();
 * ```
 */
export function defineProcessor<S extends OptionSpecs = Record<never, never>>(
  definition: ProcessorDefinition<S>,
): FileProcessor<S> {
  if (
    typeof definition.name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(definition.name)
  ) {
    throw new TypeError(
      `Processor name ${JSON.stringify(definition.name)} must be letters, digits, ".", "_" or "-".`,
    );
  }
  if (typeof definition.process !== "function") {
    throw new TypeError(`Processor "${definition.name}" has no process(file, lock) function.`);
  }
  workerRegistrationHook()?.({
    kind: "files",
    definition: definition as unknown as ProcessorDefinition,
  });
  return new FileProcessor(definition);
}
