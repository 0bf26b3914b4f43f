/**
 * `defineProcessor` and the runnable it returns.
 *
 * The runner and the command line are imported when first used, not with this module: every
 * Ferry worker imports the user's script, and with it this module, and needs neither (they
 * would cost each worker's start tens of milliseconds of CPU).
 *
 * @module
 */

import type { ProcessorArguments } from "../command/processor_options.ts";
import type { Progress } from "../command/progress.ts";
import {
  type OptionSpecs,
  type ProcessorDefinition,
  workerRegistrationHook,
} from "../processor/definition.ts";
import type { FileRunSettings, RunStatus } from "./runner.ts";

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

/**
 * The exit code of a finished file processor run (one that threw exits 1, or 2 for a usage
 * error, elsewhere):
 *
 * - stopped by its signal (SIGINT/SIGTERM): 0 when the stop went as planned, every running
 *   `process` call finished within the stop grace, whatever failed earlier in the run (the
 *   failures are in `ferry status` and the summary line), so that a service manager does not
 *   count every stop as a failure; 1 when the grace ran out with calls still running
 *   (`givenUp`: those files were not committed and are read again on the next start; the log
 *   says so);
 * - otherwise (`--exit-when-idle`): 0 when no file is failed; 1 while any file is failed and
 *   not processed since (`failedFiles`): failed in this run, or failed for good in an earlier
 *   run (used up `--max-attempts`, or invalid) and not run again with `ferry retry`. A failed
 *   generation retired by a newer processed generation of its path does not count. Without
 *   `failedFiles`, this run's `failed` and `invalid` decide.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exitCodeOf } from "./define.ts";
 * assert.equal(exitCodeOf({ failed: 0, invalid: 1 }), 1);
 * assert.equal(exitCodeOf({ failed: 0, invalid: 0, failedFiles: 2 }), 1); // from earlier runs
 * assert.equal(exitCodeOf({ failed: 2, invalid: 0, failedFiles: 0 }), 0); // all retired
 * assert.equal(exitCodeOf({ failed: 2, invalid: 0, stopped: true, givenUp: 0 }), 0);
 * assert.equal(exitCodeOf({ failed: 0, invalid: 0, stopped: true, givenUp: 1 }), 1);
 * ```
 *
 * @param status The run's final counts (`stopped` and `givenUp` false and 0 when left out).
 * @returns The exit code.
 */
export function exitCodeOf(
  status:
    & Pick<RunStatus, "failed" | "invalid">
    & Partial<Pick<RunStatus, "stopped" | "givenUp" | "failedFiles">>,
): number {
  if (status.stopped) return (status.givenUp ?? 0) > 0 ? 1 : 0;
  return (status.failedFiles ?? status.failed + status.invalid) > 0 ? 1 : 0;
}

/**
 * A processor defined with {@linkcode defineProcessor}: run it from the command line or code.
 *
 * @example Run from code until the topic is idle for two seconds (needs a broker)
 * ```ts ignore
 * import { defineProcessor } from "../../mod.ts";
 *
 * const sizes = defineProcessor({
 *   name: "sizes",
 *   process(file) {
 *     console.log(file.relativePath, file.size);
 *   },
 * });
 * const status = await sizes.run({
 *   topic: "raw-data",
 *   kafka: { "bootstrap.servers": "127.0.0.1:19092" },
 *   outputDir: "./out",
 *   exitWhenIdleMs: 2_000,
 * });
 * console.log(`${status.processed} processed, ${status.failed} failed`);
 * ```
 */
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
  async run(settings: RunSettings): Promise<RunStatus> {
    const name = this.definition.name;
    const { defaultGroup, runFileProcessor } = await import("./runner.ts");
    return await runFileProcessor({
      name,
      scriptUrl: settings.scriptUrl ?? Deno.mainModule,
      group: settings.group ?? defaultGroup(name, settings.topic),
      mode: "memory",
      workers: 2,
      options: {},
      statusIntervalMs: 30_000,
      maxAttempts: 3,
      processTimeoutMs: 3_600_000,
      brokerTimeoutMs: 0,
      stopGraceMs: 30_000,
      ...(this.definition.onFailure === undefined
        ? {}
        : { onFailure: this.definition.onFailure as FileRunSettings["onFailure"] }),
      ...settings,
    });
  }

  /**
   * Parses the command line (built-in options plus the processor's own), runs until stopped
   * (SIGINT/SIGTERM: no new file starts, running calls finish within `--stop-grace`; a second
   * signal: at once) or idle with `--exit-when-idle`, and exits with {@linkcode exitCodeOf}'s
   * code: 0 when every file was processed, or on a stop whose running calls all finished; 1 on
   * a runtime error, while a file of the output directory is failed (not stopped: this run's
   * failures and earlier ones that used up their attempts), or when the stop grace ran out; 2
   * on a usage error. Inside a Ferry worker this does nothing.
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

  /**
   * Runs with an already parsed command line, showing the numbers through `progress`: what
   * `runFromCommandLine` does once it has parsed its arguments, and what `ferry download`
   * runs. Resolves with the final counts ({@linkcode exitCodeOf} turns them into the exit
   * code).
   *
   * @param parsed The parsed command line.
   * @param signal Aborting it stops the run gracefully.
   * @param progress Where the run's numbers are shown.
   * @param scriptUrl The module the workers load; default `Deno.mainModule`.
   * @returns The final counts.
   * @internal Ferry's own commands use it; not part of the public API.
   */
  async runArguments(
    parsed: ProcessorArguments,
    signal: AbortSignal,
    progress: Progress,
    scriptUrl: string = Deno.mainModule,
  ): Promise<RunStatus> {
    const { defaultGroup } = await import("./runner.ts");
    return await this.run({
      scriptUrl,
      topic: parsed.topic,
      kafka: parsed.kafka,
      outputDir: parsed.outputDir,
      group: parsed.group ?? defaultGroup(this.definition.name, parsed.topic),
      mode: parsed.mode,
      workers: parsed.workers,
      downloadRegex: parsed.downloadRegex,
      options: parsed.options,
      exitWhenIdleMs: parsed.exitWhenIdleMs,
      stopGraceMs: parsed.stopGraceMs,
      statusIntervalMs: progress.intervalMs,
      maxAttempts: parsed.maxAttempts,
      processTimeoutMs: parsed.processTimeoutMs,
      brokerTimeoutMs: parsed.brokerTimeoutMs,
      maxPartialFiles: parsed.maxPartialFiles,
      maxPartialBytes: parsed.maxPartialBytes,
      checkChunks: parsed.checkChunks,
      metricsPort: parsed.metricsPort,
      failoverSeconds: parsed.failoverSeconds,
      logLevel: parsed.logLevel,
      results: parsed.results,
      signal,
      onStatus: (s) =>
        progress.update({
          done: s.processed,
          failed: s.failed + s.invalid,
          bytes: s.bytes,
          inProgress: s.inProgress + s.running,
          lag: s.lag,
        }),
    });
  }

  async #runCommandLine(args: readonly string[], options: CommandLineOptions): Promise<number> {
    const definition = this.definition;
    const [{ parseProcessorArguments }, { runCommand }] = await Promise.all([
      import("../command/processor_options.ts"),
      import("../command/run_command.ts"),
    ]);
    return await runCommand({
      name: definition.name,
      noun: "files",
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
        runLog: { outputDir: parsed.outputDir, name: definition.name },
        fileLevel: parsed.logFileLevel,
      }),
      reporting: (parsed) => parsed.reporting,
      statusIntervalMs: (parsed) => parsed.statusIntervalMs,
      run: async (parsed, signal, progress) =>
        exitCodeOf(await this.runArguments(parsed, signal, progress, options.scriptUrl)),
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
