/**
 * `quit` typed on an interactive terminal stops a long-running command gracefully, as
 * OpenMSIStream's programs stop (they read `q` or `quit` on standard input): the same as a first
 * Ctrl-C. Only when standard input is a terminal, so a piped or closed standard input (a
 * service, a test) is never read.
 *
 * @module
 */

/** The words that stop (OpenMSIStream's: `q` and `quit`, any case). */
const QUIT_WORDS = new Set(["q", "quit"]);

/**
 * Whether a line typed is a request to stop.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isQuit } from "./quit_input.ts";
 *
 * assert.ok(isQuit(" QUIT\n"));
 * assert.ok(isQuit("q"));
 * assert.ok(!isQuit("quit now"));
 * ```
 */
export function isQuit(line: string): boolean {
  return QUIT_WORDS.has(line.trim().toLowerCase());
}

/**
 * Reads standard input, when it is a terminal, and calls `onQuit` each time `quit` (or `q`) is
 * typed on a line of its own. Returns at once; reading ends with the process (commands exit with
 * `Deno.exit`) or when standard input closes.
 *
 * @param onQuit Called for each `quit` line.
 * @param stdin The input (default `Deno.stdin`).
 * @returns Whether standard input is watched (false: not a terminal).
 */
export function watchForQuit(
  onQuit: () => void,
  stdin: { isTerminal(): boolean; readable: ReadableStream<Uint8Array> } = Deno.stdin,
): boolean {
  if (!stdin.isTerminal()) return false;
  (async () => {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const bytes of stdin.readable) {
      buffered += decoder.decode(bytes, { stream: true });
      let end;
      while ((end = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        if (isQuit(line)) onQuit();
      }
    }
  })().catch(() => undefined); // a terminal that goes away leaves Ctrl-C and signals
  return true;
}
