/**
 * What every processor's `runFromCommandLine` shares: parse (usage errors exit 2), configure
 * logging, stop gracefully on the first SIGINT/SIGTERM and at once on the second, show
 * progress, turn runtime errors into exit code 1, and flush the logs before exiting.
 *
 * @module
 */

import { CommanderError } from "commander";
import { dispose, getLogger } from "@logtape/logtape";
import { ConfigError } from "../config/config_error.ts";
import { UsageError } from "./command_line.ts";
import { configureRunLogging, type RunLoggingOptions, StatusLine } from "./run_output.ts";

const logger = getLogger(["ferry", "runtime"]);

/** One command-line run of a processor. */
export interface CommandRun<P> {
  /** The processor's name, for messages. */
  name: string;
  /** Parses the command line. */
  parse(): Promise<P>;
  /** The logging the parsed command line asks for. */
  logging(parsed: P): RunLoggingOptions;
  /** Runs; resolves with the exit code. */
  run(parsed: P, signal: AbortSignal, status: StatusLine): Promise<number>;
}

/** Runs a processor from the command line; resolves with the exit code. */
export async function runCommand<P>(command: CommandRun<P>): Promise<number> {
  let parsed: P;
  try {
    parsed = await command.parse();
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode; // --help
    if (error instanceof UsageError || error instanceof ConfigError) {
      writeError(`${command.name}: ${error.message}\nRun with --help for the options.`);
      return 2;
    }
    throw error;
  }
  await configureRunLogging(command.logging(parsed));
  const controller = new AbortController();
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals === 1) {
      logger.info("Stopping: finishing running work (a second signal stops at once).");
      controller.abort();
    } else {
      logger.warn("Stopping at once.");
      Deno.exit(130);
    }
  };
  const listened: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of listened) Deno.addSignalListener(signal, onSignal);
  const status = new StatusLine();
  try {
    return await command.run(parsed, controller.signal, status);
  } catch (error) {
    status.done();
    if (error instanceof ConfigError || error instanceof UsageError) {
      writeError(`${command.name}: ${error.message}`);
      return 2;
    }
    writeError(`${command.name}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    status.done();
    for (const signal of listened) Deno.removeSignalListener(signal, onSignal);
    await dispose(); // flushes the log sinks
  }
}

function writeError(text: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(text.endsWith("\n") ? text : text + "\n"));
}
