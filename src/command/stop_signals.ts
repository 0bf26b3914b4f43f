/**
 * How a long-running command is stopped: the first SIGINT/SIGTERM (or `quit` typed on a
 * terminal) asks it to finish what it is doing; a second one exits at once with 130.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { ExitCode } from "./exit_codes.ts";
import { watchForQuit } from "./quit_input.ts";

const logger = getLogger(["ferry", "command"]);

/**
 * Listens for the stop signals until disposed: the first calls `onFirst`, the second exits the
 * process at once with {@linkcode ExitCode.INTERRUPTED}. Start listening as early as possible, so
 * that a signal arriving during start-up stops the command cleanly instead of killing it.
 *
 * @example
 * ```ts
 * import { StopSignals } from "./stop_signals.ts";
 *
 * const controller = new AbortController();
 * using _signals = new StopSignals(() => controller.abort());
 * // ... run until controller.signal is aborted ...
 * ```
 */
export class StopSignals implements Disposable {
  readonly #listened: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM"];
  readonly #onSignal: () => void;
  #count = 0;

  /** Starts listening; `onFirst` is called on the first signal (or `quit`). */
  constructor(onFirst: () => void) {
    this.#onSignal = () => {
      if (++this.#count === 1) {
        onFirst();
      } else {
        logger.warn("Stopping at once.");
        Deno.exit(ExitCode.INTERRUPTED);
      }
    };
    for (const signal of this.#listened) Deno.addSignalListener(signal, this.#onSignal);
    watchForQuit(this.#onSignal); // `quit` typed on a terminal, OpenMSIStream's way
  }

  /** Stops listening (a `quit` reader on a terminal ends with the process). */
  [Symbol.dispose](): void {
    for (const signal of this.#listened) Deno.removeSignalListener(signal, this.#onSignal);
  }
}
