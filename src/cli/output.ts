/**
 * Standard output of the `ferry` program. Every line a command prints, and commander's `--help`
 * and `--version`, go through {@linkcode StandardOutput}: it writes every byte (a pipe may take
 * a long write in parts), and when the reader went away (`ferry status DIR --all | head -1`)
 * it stops writing quietly instead of failing with "Broken pipe": the command goes on and exits
 * with the status it would have had.
 *
 * @module
 */

/** Something output can be written to, such as `Deno.stdout`. */
export interface SyncWriter {
  /** Writes some of `bytes`; returns how many. */
  writeSync(bytes: Uint8Array): number;
}

const encoder = new TextEncoder();

/**
 * Whether `error` says the reading end of a pipe (or socket) is gone: EPIPE, or a descriptor
 * closed under us.
 */
function isClosedPipe(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BadResource;
}

/**
 * Writes text to standard output (or another writer), whole, until the reader closes it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StandardOutput } from "./output.ts";
 *
 * const written: string[] = [];
 * let open = true;
 * const output = new StandardOutput({
 *   writeSync(bytes) {
 *     if (!open) throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
 *     written.push(new TextDecoder().decode(bytes));
 *     return bytes.length;
 *   },
 * });
 * output.write("one\n");
 * open = false;
 * output.write("two\n"); // the reader went away: no error
 * assert.equal(output.closed, true);
 * assert.deepEqual(written, ["one\n"]);
 * ```
 */
export class StandardOutput {
  readonly #writer: SyncWriter;
  #closed = false;

  /** @param writer Where to write; default `Deno.stdout`. */
  constructor(writer: SyncWriter = Deno.stdout) {
    this.#writer = writer;
  }

  /** Whether the reader went away (everything written since was dropped). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Writes `text` whole, or nothing once the reader is gone. */
  write(text: string): void {
    if (this.#closed || text === "") return;
    const bytes = encoder.encode(text);
    try {
      let written = 0;
      while (written < bytes.length) written += this.#writer.writeSync(bytes.subarray(written));
    } catch (error) {
      if (!isClosedPipe(error)) throw error;
      this.#closed = true;
    }
  }

  /** Writes `line` and a newline. */
  writeLine(line: string): void {
    this.write(`${line}\n`);
  }
}
