/**
 * One Ferry worker as the coordinator sees it: the Deno `Worker` running the harness, its
 * start-up handshake, forwarded log lines, and how it ends (stopped, or died).
 *
 * @module
 */

import { emitWorkerLog } from "./log.ts";
import type { FromWorker, SerializedError, ToWorker, WorkerInit } from "./protocol.ts";

const HARNESS_URL = new URL("./harness.ts", import.meta.url);

/** Raised when a worker cannot start (for example the user's script fails to import). */
export class WorkerStartError extends Error {
  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { WorkerStartError } from "./channel.ts";
   * const error = new WorkerStartError({ name: "SyntaxError", message: "Unexpected token" });
   * assert.ok(error.message.includes("Unexpected token"));
   * ```
   */
  constructor(error: SerializedError) {
    super(`A worker could not start: ${error.name}: ${error.message}`);
    this.name = "WorkerStartError";
  }
}

/** What a channel tells its owner. */
export interface WorkerChannelHandlers {
  /** Every message other than the handshake, logs and `stopped`. */
  onMessage: (message: FromWorker) => void;
  /** The worker died (an uncaught error outside the user's handlers). */
  onDeath: (reason: string) => void;
}

/** A started worker. */
export class WorkerChannel {
  /** Which worker this is, from 0. */
  readonly index: number;
  /** Resolves when the user's script is loaded and `initialize` ran. */
  readonly ready: Promise<void>;
  /** Resolves when the worker stopped (after `shutdown`) or was terminated. */
  readonly stopped: Promise<void>;
  readonly #worker: Worker;
  #stoppedResolve!: () => void;
  #dead = false;

  constructor(init: WorkerInit, handlers: WorkerChannelHandlers) {
    this.index = init.workerIndex;
    this.#worker = new Worker(HARNESS_URL, { type: "module", name: `ferry-worker-${this.index}` });
    this.stopped = new Promise((resolve) => this.#stoppedResolve = resolve);
    this.ready = new Promise((resolve, reject) => {
      this.#worker.onmessage = (event: MessageEvent<FromWorker>) => {
        const message = event.data;
        switch (message.type) {
          case "ready":
            resolve();
            break;
          case "init-failed":
            reject(new WorkerStartError(message.error));
            break;
          case "stopped":
            this.#stoppedResolve();
            break;
          case "log":
            emitWorkerLog(message, this.index);
            break;
          case "closing":
            // Deno gives the parent no event when a worker closes itself: the harness says so.
            reject(new WorkerStartError({ name: "WorkerError", message: message.reason }));
            if (!this.#dead) {
              this.#dead = true;
              handlers.onDeath(message.reason);
            }
            break;
          default:
            handlers.onMessage(message);
        }
      };
      this.#worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        const reason = event.message || "the worker died";
        reject(new WorkerStartError({ name: "WorkerError", message: reason }));
        if (!this.#dead) {
          this.#dead = true;
          handlers.onDeath(reason);
        }
      };
    });
    // A failed start is reported through `ready`; do not let it go unhandled here.
    this.ready.catch(() => undefined);
    this.#worker.postMessage(init);
  }

  /** Sends a message, transferring the listed buffers. */
  post(message: ToWorker, transfer: Transferable[] = []): void {
    this.#worker.postMessage(message, transfer);
  }

  /** Stops the worker at once. */
  terminate(): void {
    this.#dead = true;
    this.#worker.terminate();
    this.#stoppedResolve();
  }
}
