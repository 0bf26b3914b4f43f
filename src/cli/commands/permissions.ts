/**
 * `ferry permissions <script> [--output-dir D] [--config F] [--log-file L] [--metrics-port P]`:
 * prints the `deno run` line with the narrowest permissions that run the processor script (see
 * `src/cli/permissions.ts` for why each flag is there).
 *
 * @module
 */

import { Command } from "commander";
import { UsageError } from "../../command/exit_codes.ts";
import {
  definesRecordProcessor,
  denoRunLine,
  processorPermissions,
  recordMemberPermissions,
} from "../permissions.ts";
import { tcpPort } from "../../command/processor_options.ts";
import type { CliContext } from "../context.ts";

interface PermissionFlags {
  outputDir?: string;
  config?: string;
  logFile?: string;
  metricsPort?: number;
}

/**
 * Builds the `permissions` subcommand.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPermissionsCommand } from "./permissions.ts";
 *
 * const context = { exitCode: 0, signal: new AbortController().signal, print: () => {} };
 * assert.equal(createPermissionsCommand(context).name(), "permissions");
 * ```
 *
 * @param context Where the action prints.
 * @returns The command.
 */
export function createPermissionsCommand(context: CliContext): Command {
  return new Command("permissions")
    .summary("print the deno run line with the narrowest permissions for a processor script")
    .description(
      "Print the `deno run` command line that runs a processor script with the narrowest Deno " +
        "permissions that work: --allow-ffi (librdkafka; Deno cannot scope it to one library " +
        "for code that reads C structures), --allow-read of Ferry's modules, the script's " +
        "folder, the output directory and the config file, --allow-write of the output " +
        "directory (for a record processor, of the folder where it claims its static group " +
        "membership slot), --allow-env of the variables Ferry and the config file read, " +
        "--allow-sys=hostname (the membership id names the host). No --allow-net unless " +
        "--metrics-port is given: librdkafka's sockets are native. Every path is absolute, and " +
        "Ferry's deno.json is " +
        "passed with --config when the script has no deno.json of its own mapping Ferry's npm " +
        "packages (ferry new writes one), so the line runs as printed from any folder.",
    )
    .argument("<script>", "the processor script")
    .option(
      "-o, --output-dir <dir>",
      "the output directory the run will use (required for a file processor)",
    )
    .option("-c, --config <file>", "the config file the run will use")
    .option("--log-file <path>", "the log file the run will use, if outside the output directory")
    .option(
      "--metrics-port <port>",
      "the metrics port the run will serve on 127.0.0.1 (adds --allow-net for it)",
      tcpPort,
    )
    .addHelpText(
      "after",
      `
Add the topic and the other options to the printed line. Modules the script imports from other
local folders need adding to --allow-read.

Examples:
  ferry permissions examples/checksum.ts --output-dir out --config ferry.config
  ferry permissions examples/record_counts.ts --metrics-port 9100`,
    )
    .action(async (script: string, flags: PermissionFlags) => {
      try {
        await Deno.stat(script);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
        throw new UsageError(`Script ${JSON.stringify(script)} does not exist.`);
      }
      const records = definesRecordProcessor(await Deno.readTextFile(script));
      if (!records && flags.outputDir === undefined) {
        throw new UsageError(
          `Give the processor's --output-dir: ${JSON.stringify(script)} is a file processor, ` +
            "and its permissions cover that folder.",
        );
      }
      // A record processor claims its static-membership slot in the state folder.
      const member = records ? recordMemberPermissions() : { write: [], env: [] };
      const port = flags.metricsPort;
      let permissions;
      try {
        permissions = await processorPermissions({
          script,
          outputDir: flags.outputDir,
          configFile: flags.config,
          logFile: flags.logFile,
          write: member.write,
          env: member.env,
          // The host name is part of the processor's static group membership id.
          sys: ["hostname"],
          // The metrics endpoint listens on loopback: that port only (0: any free one).
          net: port === undefined ? [] : [port === 0 ? "127.0.0.1" : `127.0.0.1:${port}`],
        });
      } catch (error) {
        if (error instanceof RangeError) throw new UsageError(error.message);
        throw error;
      }
      context.print(denoRunLine(permissions));
    });
}
