/**
 * Shared access to the terminal's standard error: log lines and a live status line take turns,
 * so a log line never lands in the middle of the status line.
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * Standard error, with at most one live status line at its bottom.
 *
 * @example
 * ```ts ignore
 * import { stderrTerminal } from "./terminal.ts";
 * stderrTerminal.setStatus("3/10 files");
 * stderrTerminal.writeLine("a log line"); // printed above the status line
 * stderrTerminal.clearStatus();
 * ```
 */
export class Terminal {
  readonly #write: (bytes: Uint8Array) => void;
  #status = "";

  /** Creates a terminal writing with `write` (default: standard error, synchronously). */
  constructor(write?: (bytes: Uint8Array) => void) {
    this.#write = write ?? ((bytes) => {
      let done = 0;
      while (done < bytes.length) done += Deno.stderr.writeSync(bytes.subarray(done));
    });
  }

  /** Writes a whole line (a newline is added when missing) above the status line. */
  writeLine(text: string): void {
    const line = text.endsWith("\n") ? text : `${text}\n`;
    if (this.#status === "") this.#write(encoder.encode(line));
    else this.#write(encoder.encode(`\r\x1b[2K${line}${this.#status}`));
  }

  /** Shows (or replaces) the status line. */
  setStatus(text: string): void {
    this.#status = text;
    this.#write(encoder.encode(`\r\x1b[2K${text}`));
  }

  /** Removes the status line. */
  clearStatus(): void {
    if (this.#status === "") return;
    this.#status = "";
    this.#write(encoder.encode("\r\x1b[2K"));
  }
}

/** The process's standard error. */
export const stderrTerminal: Terminal = new Terminal();
