/**
 * How the user runs the `ferry` program, for the commands it prints (a hint such as "`ferry
 * status out` lists them" must run as printed): `deno run -A <absolute path of cli.ts>` when it
 * runs under Deno, the binary's path when it was compiled with `deno compile`.
 *
 * @module
 */

import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { shellQuote } from "./permissions.ts";

/**
 * The command line that runs this `ferry` program, to put in front of a subcommand.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ferryInvocation } from "./invocation.ts";
 *
 * assert.equal(
 *   ferryInvocation({ execPath: "/usr/bin/deno", mainModule: "file:///opt/ferry/cli.ts" }),
 *   "deno run -A /opt/ferry/cli.ts",
 * );
 * assert.equal(
 *   ferryInvocation({ execPath: "/usr/local/bin/ferry", mainModule: "file:///x/cli.ts" }),
 *   "/usr/local/bin/ferry",
 * );
 * ```
 *
 * @param process The executable and the main module; default this process's.
 * @returns The words, shell-quoted.
 */
export function ferryInvocation(
  process?: { execPath: string; mainModule: string },
): string {
  let execPath: string;
  let mainModule: string;
  try {
    execPath = process?.execPath ?? Deno.execPath();
    mainModule = process?.mainModule ?? Deno.mainModule;
  } catch {
    return "ferry"; // no permission to read them
  }
  if (!/^deno(\.exe)?$/.test(basename(execPath))) return shellQuote(execPath);
  const script = mainModule.startsWith("file:") ? fileURLToPath(mainModule) : mainModule;
  return `deno run -A ${shellQuote(script)}`;
}
