/**
 * What every processor's `runFromCommandLine` shares: parse (usage errors exit 2), configure
 * logging, stop gracefully on the first SIGINT/SIGTERM and at once on the second, show
 * progress, turn runtime errors into exit code 1, and flush the logs before exiting.
 *
 * @module
 */

import { CommanderError } from "commander";
import { getLogger } from "@logtape/logtape";
import { ConfigError } from "../config/config_error.ts";
import { KafkaConfigError, LibraryLoadError } from "../kafka/mod.ts";
import { ExitCode, UsageError } from "./exit_codes.ts";
import { closeLogging, configureLogging, type LoggingOptions } from "./logging.ts";
import { Progress } from "./progress.ts";
import { Reporting, type ReportingSettings } from "./reporting.ts";
import { stderrTerminal } from "./terminal.ts";
import { StopSignals } from "./stop_signals.ts";

const logger = getLogger(["ferry", "command"]);

/** One command-line run of a processor. */
export interface CommandRun<P> {
  /** The processor's name, for messages. */
  name: string;
  /** What its progress counts, plural (`files`, `records`). */
  noun: string;
  /** Parses the command line. */
  parse(): Promise<P>;
  /** The logging the parsed command line asks for. */
  logging(parsed: P): LoggingOptions;
  /** Where its heartbeats and logs go (`--heartbeat-topic`, `--log-topic`), if anywhere. */
  reporting?(parsed: P): ReportingSettings | undefined;
  /** How often, in ms, a status line is logged when standard error is not a terminal. */
  statusIntervalMs(parsed: P): number;
  /**
   * Runs, showing its numbers through `progress` (set its state and call `show()` every
   * `progress.intervalMs`); resolves with the exit code.
   */
  run(parsed: P, signal: AbortSignal, progress: Progress): Promise<number>;
}

/** Runs a processor from the command line; resolves with the exit code. */
export async function runCommand<P>(command: CommandRun<P>): Promise<number> {
  // Listening before anything else: a signal during start-up stops the run cleanly.
  const controller = new AbortController();
  using _signals = new StopSignals(() => {
    logger.info("Stopping: finishing running work (a second signal stops at once).");
    controller.abort();
  });
  let parsed: P;
  try {
    parsed = await command.parse();
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode; // --help
    if (error instanceof UsageError || error instanceof ConfigError) {
      writeError(`${command.name}: ${error.message}\nRun with --help for the options.`);
      return ExitCode.USAGE;
    }
    if (error instanceof LibraryLoadError) {
      writeError(`${command.name}: ${error.message}`);
      return ExitCode.FAILURE;
    }
    throw error;
  }
  const reporting = new Reporting(command.reporting?.(parsed), {
    program: command.name,
    noun: command.noun,
    role: "consumer",
  });
  try {
    await configureLogging({ ...command.logging(parsed), extraSinks: reporting.sinks });
  } catch (error) {
    // A log file that cannot be opened (LogFileError says which and what to do): one line.
    writeError(`${command.name}: ${error instanceof Error ? error.message : String(error)}`);
    return ExitCode.FAILURE;
  }
  const progress = new Progress({
    noun: command.noun,
    logEveryMs: command.statusIntervalMs(parsed),
  });
  if (controller.signal.aborted) {
    logger.info("Stopped before starting; nothing was read.");
    await reporting.close();
    await closeLogging();
    return ExitCode.OK;
  }
  try {
    reporting.start(() => progress.state);
    return await command.run(parsed, controller.signal, progress);
  } catch (error) {
    progress.stop();
    if (
      error instanceof ConfigError || error instanceof UsageError ||
      error instanceof KafkaConfigError
    ) {
      writeError(`${command.name}: ${error.message}`);
      return ExitCode.USAGE;
    }
    writeError(`${command.name}: ${error instanceof Error ? error.message : String(error)}`);
    return ExitCode.FAILURE;
  } finally {
    progress.stop();
    await reporting.close(); // the last heartbeat and log lines
    await closeLogging(); // flushes the log sinks
  }
}

function writeError(text: string): void {
  stderrTerminal.writeLine(text);
}
