/**
 * The `ferry` command.
 *
 *     deno run -A cli.ts upload <path> --topic T --bootstrap-servers host:port
 *     deno run -A cli.ts --help
 *
 * Each subcommand lives in its own module under `src/cli/commands/`; this file only runs the
 * program. Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
 *
 * @module
 */

import { runCli } from "./src/cli/program.ts";

export { runCli };

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args));
}
