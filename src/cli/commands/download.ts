/**
 * `ferry download`: rebuild the files of a topic into a directory (OpenMSIStream's
 * `DataFileDownloadDirectory`). It runs the built-in download processor
 * (`src/file_processor/download.ts`) through the same file runtime and with the same command line as
 * any processor, in disk mode.
 *
 * @module
 */

import type { Command } from "commander";
import {
  OPENMSISTREAM_ALIASES,
  processorProgram,
  readProcessorArguments,
} from "../../command/processor_options.ts";
import {
  DOWNLOAD_SCRIPT_URL,
  downloadGroup,
  downloadProcessor,
} from "../../file_processor/download.ts";
import { exitCodeOf } from "../../file_processor/define.ts";
import type { RunStatus } from "../../file_processor/runner.ts";
import { UsageError } from "../../command/exit_codes.ts";
import { configureLogging } from "../../command/logging.ts";
import { formatBytes, Progress } from "../../command/progress.ts";
import { Reporting } from "../../command/reporting.ts";
import type { CliContext, FlagAliases } from "../context.ts";
import { ferryInvocation } from "../invocation.ts";
import { shellQuote } from "../permissions.ts";

/** OpenMSIStream's flag names `ferry download` accepts (those of every processor). */
export const DOWNLOAD_ALIASES: FlagAliases = {
  ...OPENMSISTREAM_ALIASES,
  "--bootstrap_servers": "--bootstrap-servers",
};

/**
 * Builds the `download` subcommand: a processor's built-in command line (config file or
 * bootstrap servers, topic, group, workers, download regex, status interval, logging,
 * `--exit-when-idle`), with the output directory as `--output-dir` or as the first argument
 * (as OpenMSIStream's `DataFileDownloadDirectory output_dir` takes it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createDownloadCommand } from "./download.ts";
 *
 * const context = { exitCode: 0, signal: new AbortController().signal, print: () => {} };
 * const command = createDownloadCommand(context);
 * assert.equal(command.name(), "download");
 * assert.ok(command.options.some((o) => o.long === "--exit-when-idle"));
 * ```
 *
 * @param context Where the action reports its exit code and prints its summary.
 * @returns The command.
 */
export function createDownloadCommand(context: CliContext): Command {
  return processorProgram(
    "download",
    "Rebuild every file of a topic into a directory, at <output-dir>/<relative path>, in disk " +
      "mode: each chunk is written at its offset (memory stays small whatever the file size) " +
      "and a file is moved into place only once its SHA-512 checked out. The logs in " +
      "<output-dir>/.ferry (see `ferry status <output-dir>`) let a restarted download skip " +
      "what it already rebuilt. The default consumer group is derived from the topic and the " +
      "output directory, so each output directory gets every file. Topics written by " +
      "OpenMSIStream (a file's chunks spread over partitions) need a single process per group.",
    {},
    "download",
  )
    .summary(
      "rebuild the files of a topic into a directory (OpenMSIStream's DataFileDownloadDirectory)",
    )
    .argument("[output-dir]", "the output directory (or --output-dir)")
    .addHelpText(
      "after",
      `
Exit status: 0 every file rebuilt; 1 some file in the output directory could not be rebuilt
(its content did not match its SHA-512; in this run or an earlier one, see \`ferry status
<output-dir>\`), or a runtime error; 2 usage or configuration error. Stopped by SIGINT/SIGTERM:
0 once the files being rebuilt finished, 1 if --stop-grace ran out first. Of two generations
of one path (a file uploaded again after it changed), the newest stays at the path (by its
file_mtime when the uploader sent one, else the later one).

Examples:
  ferry download --topic raw-data --output-dir ./downloads -b 127.0.0.1:9092
  ferry download ./downloads --config ferry.config --topic_name raw-data --exit-when-idle
  ferry download -t raw-data -o ./tifs --download-regex '\\.tif$' --workers 4`,
    )
    .action(async (outputDir: string | undefined, flags: Record<string, unknown>) => {
      context.exitCode = await runDownload(outputDir, flags, context);
    });
}

async function runDownload(
  argument: string | undefined,
  flags: Record<string, unknown>,
  context: CliContext,
): Promise<number> {
  const flag = flags.outputDir as string | undefined;
  if (argument !== undefined && flag !== undefined && argument !== flag) {
    throw new UsageError(
      `Two output directories given, ${JSON.stringify(argument)} and --output-dir ` +
        `${JSON.stringify(flag)}: give one.`,
    );
  }
  const outputDir = flag ?? argument;
  if (outputDir === undefined || outputDir.trim() === "") {
    throw new UsageError(
      "No output directory given: use --output-dir DIR (or give DIR as the first argument).",
    );
  }
  const parsed = await readProcessorArguments({ ...flags, outputDir }, {});
  parsed.group ??= await downloadGroup(parsed.topic, outputDir);
  const reporting = new Reporting(parsed.reporting, {
    program: "download",
    noun: "files",
    role: "consumer",
  });
  await configureLogging({
    level: parsed.logLevel,
    file: parsed.logFile,
    runLog: { outputDir, name: "download" },
    fileLevel: parsed.logFileLevel,
    extraSinks: reporting.sinks,
  });
  const progress = new Progress({ noun: "files", logEveryMs: parsed.statusIntervalMs });
  let status: RunStatus;
  try {
    reporting.start(() => progress.state);
    status = await downloadProcessor.runArguments(
      parsed,
      context.signal,
      progress,
      DOWNLOAD_SCRIPT_URL,
    );
  } finally {
    progress.stop();
    await reporting.close();
  }
  for (const line of downloadSummary(status, outputDir)) context.print(line);
  return exitCodeOf(status);
}

/**
 * The summary `ferry download` prints at the end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { downloadSummary } from "./download.ts";
 *
 * const lines = downloadSummary({
 *   processed: 2, failed: 0, invalid: 1, skipped: 3, filtered: 0, malformed: 5, notChunks: 4,
 *   inProgress: 0, bytes: 2_000_000, seconds: 1,
 * }, "out", "deno run -A /opt/ferry/cli.ts");
 * assert.match(lines[0], /^Rebuilt 2 file\(s\) into "out"/);
 * assert.match(lines[0], /1 malformed chunk\(s\), 4 message\(s\) that are not chunks\.$/);
 * assert.match(lines[1], /`deno run -A \/opt\/ferry\/cli\.ts status out` lists them/);
 * ```
 *
 * @param status The run's final counts.
 * @param outputDir The output directory, as given.
 * @param ferry How the user runs `ferry` (for the command it prints); default this process's.
 * @returns The lines.
 */
export function downloadSummary(
  status:
    & Pick<
      RunStatus,
      | "processed"
      | "failed"
      | "invalid"
      | "skipped"
      | "filtered"
      | "malformed"
      | "notChunks"
      | "inProgress"
      | "bytes"
      | "seconds"
    >
    & Partial<Pick<RunStatus, "failedFiles">>,
  outputDir: string,
  ferry: string = ferryInvocation(),
): string[] {
  const rate = status.bytes / 1e6 / Math.max(0.001, status.seconds);
  const lines = [
    `Rebuilt ${status.processed} file(s) into ${JSON.stringify(outputDir)}, ` +
    `${formatBytes(status.bytes)} read in ${status.seconds.toFixed(1)} s ` +
    `(${rate.toFixed(1)} MB/s); ${status.skipped} already there, ${status.invalid} invalid, ` +
    `${status.filtered} chunk(s) filtered out, ${status.malformed - status.notChunks} malformed ` +
    `chunk(s), ${status.notChunks} message(s) that are not chunks.`,
  ];
  const failed = status.failedFiles ?? status.invalid + status.failed;
  if (failed > 0) {
    lines.push(
      `${failed} file(s) could not be rebuilt: ` +
        `\`${ferry} status ${shellQuote(outputDir)}\` lists them with the reasons.`,
    );
  }
  if (status.inProgress > 0) {
    lines.push(
      `${status.inProgress} file(s) incomplete at exit; their chunks are read again on the ` +
        "next start.",
    );
  }
  return lines;
}
