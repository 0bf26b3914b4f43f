/**
 * Watching whether the Kafka broker is reachable during a run: librdkafka reports
 * `_ALL_BROKERS_DOWN` when it loses every broker connection but says nothing when they come
 * back, so while the broker is away a cheap request probes it, and only an answered request
 * ends the outage (messages fetched before it are no news from the broker). One line per change
 * of state: the outage starts (unreachable), a reminder every minute while it lasts, it ends
 * (reachable again after how long, with the failed connection attempts in between counted);
 * librdkafka's own lines about each failed connection, and its connection errors, are folded
 * into that count. A connection error that no outage follows within a second is logged as it
 * was. With a limit, an outage that lasts longer stops the run with
 * {@linkcode BrokerUnreachableError}.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { ErrorCode, type KafkaError } from "../kafka/mod.ts";
import { foldLogLines } from "../kafka/log.ts";
import { roundSeconds } from "../command/progress.ts";

const logger = getLogger(["ferry", "file-processor"]);

/** How long a lone connection error waits for the outage it may announce (ms). */
const LONE_ERROR_WAIT_MS = 1000;

/** librdkafka's facilities for lines about a broker connection failing or timing out. */
const CONNECTION_FACILITIES = new Set(["FAIL", "REQTMOUT", "CONNECT"]);
/** Raised when the broker stayed unreachable for longer than the run's limit. */
export class BrokerUnreachableError extends Error {
  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import { BrokerUnreachableError } from "./broker_watch.ts";
   * const error = new BrokerUnreachableError("127.0.0.1:9092", 300_000);
   * console.assert(error.message.includes("unreachable for 300 s"));
   * ```
   */
  constructor(bootstrap: string, limitMs: number) {
    super(
      `The Kafka broker "${bootstrap}" was unreachable for ${limitMs / 1000} s ` +
        `(--broker-timeout); stopping. Nothing unfinished was committed: start the processor ` +
        `again once the broker is back, or raise --broker-timeout (0 waits for ever).`,
    );
    this.name = "BrokerUnreachableError";
  }
}

/** Options for {@linkcode BrokerWatch}. */
export interface BrokerWatchOptions {
  /** The bootstrap servers, for messages. */
  bootstrap: string;
  /** Stop after this long unreachable (ms); 0 waits for ever. */
  limitMs: number;
  /** How often to probe while unreachable (ms); default 1000. */
  probeEveryMs?: number;
  /** How often to repeat that it is still unreachable (ms); default 60 000. */
  reportEveryMs?: number;
}

/**
 * Tracks the broker's reachability from the client's errors and probes. Dispose of it when
 * the run ends (it stops folding librdkafka's lines).
 *
 * @example
 * ```ts
 * import { BrokerWatch } from "./broker_watch.ts";
 * import { ErrorCode, KafkaError } from "../kafka/mod.ts";
 * using watch = new BrokerWatch({ bootstrap: "127.0.0.1:9092", limitMs: 0 });
 * watch.noteError(new KafkaError(ErrorCode.ALL_BROKERS_DOWN, "_ALL_BROKERS_DOWN", "1/1 brokers are down"));
 * console.assert(watch.down);
 * await watch.tick(() => Promise.resolve()); // the probe answers: reachable again
 * await new Promise((resolve) => setTimeout(resolve, 0));
 * console.assert(!watch.down);
 * ```
 */
export class BrokerWatch implements Disposable {
  readonly #options: Required<BrokerWatchOptions>;
  #downSince: number | undefined;
  /** Failed connection attempts (librdkafka's lines and errors) since the outage began. */
  #failures = 0;
  #lastProbeAt = 0;
  #lastReportAt = 0;
  #probing: Promise<void> | undefined;
  #limitTimer: ReturnType<typeof setTimeout> | undefined;
  /** A connection error waiting to see whether an outage follows. */
  #lone: { message: string; timer: ReturnType<typeof setTimeout> } | undefined;
  readonly #fold: Disposable;
  #expire: (error: BrokerUnreachableError) => void = () => {};

  /**
   * Resolves once the broker has been unreachable for the limit (never when the limit is 0).
   * It comes from a timer, so it arrives even while the run's loop waits on a request that an
   * absent broker never answers.
   */
  readonly expired: Promise<BrokerUnreachableError>;

  constructor(options: BrokerWatchOptions) {
    this.#options = { probeEveryMs: 1000, reportEveryMs: 60_000, ...options };
    this.expired = new Promise((resolve) => this.#expire = resolve);
    this.#fold = foldLogLines((facility) => {
      if (!CONNECTION_FACILITIES.has(facility)) return false;
      if (this.#downSince !== undefined) this.#failures++;
      // Before an outage: the error event that comes with the line is reported (or folded).
      return true;
    });
  }

  /** Whether the broker is unreachable now (as far as is known). */
  get down(): boolean {
    return this.#downSince !== undefined;
  }

  /**
   * Takes a librdkafka error. Returns true when it was about reaching the broker (the caller
   * need not log it): the first one of an outage is logged here as an error, later ones are
   * counted, and a lone connection error is logged as a warning unless an outage follows.
   */
  noteError(error: KafkaError): boolean {
    const connection = error.code === ErrorCode.TRANSPORT || error.code === ErrorCode.RESOLVE;
    if (error.code === ErrorCode.ALL_BROKERS_DOWN) {
      if (this.#downSince === undefined) this.#begin(error);
      return true;
    }
    if (!connection) return false;
    if (this.#downSince !== undefined) {
      this.#failures++;
      return true;
    }
    if (this.#lone === undefined) {
      const timer = setTimeout(() => {
        const lone = this.#lone;
        this.#lone = undefined;
        if (lone) logger.warn("Kafka: {message}", { message: lone.message });
      }, LONE_ERROR_WAIT_MS);
      Deno.unrefTimer(timer);
      this.#lone = { message: error.message, timer };
    }
    return true;
  }

  #begin(error: KafkaError): void {
    if (this.#lone) clearTimeout(this.#lone.timer);
    this.#lone = undefined;
    this.#downSince = Date.now();
    this.#failures = 0;
    this.#lastReportAt = this.#downSince;
    const { bootstrap, limitMs } = this.#options;
    if (limitMs > 0) {
      const timer = setTimeout(
        () => this.#expire(new BrokerUnreachableError(bootstrap, limitMs)),
        limitMs,
      );
      Deno.unrefTimer(timer);
      this.#limitTimer = timer;
    }
    const waiting = limitMs > 0
      ? `Waiting for it to come back for up to ${limitMs / 1000} s (--broker-timeout)`
      : "Waiting for it to come back";
    logger.error(
      `The Kafka broker {bootstrap} is unreachable ({message}). ${waiting}; files in ` +
        "progress are kept and nothing unfinished is committed.",
      { bootstrap, message: error.message },
    );
  }

  /** A request to the broker succeeded after the outage began: it is reachable again. */
  #reachable(): void {
    if (this.#downSince === undefined) return;
    const seconds = roundSeconds((Date.now() - this.#downSince) / 1000);
    this.#downSince = undefined;
    clearTimeout(this.#limitTimer);
    logger.info(
      "The Kafka broker {bootstrap} is reachable again after {seconds} s; continuing ({failures} " +
        "failed connection attempts in between).",
      { bootstrap: this.#options.bootstrap, seconds, failures: this.#failures },
    );
  }

  /**
   * Called on every turn of the run's loop: while the broker is away, probes it now and then
   * (any request that needs it; resolving means it answered, which ends the outage), repeats
   * the report, and enforces the limit. A probe is not waited for (a request to an absent
   * broker can outlast its own timeout); one at a time runs in the background.
   *
   * @throws {BrokerUnreachableError} once it has been away longer than the limit.
   */
  async tick(probe: () => Promise<unknown>): Promise<void> {
    if (this.#downSince === undefined) return;
    const now = Date.now();
    if (this.#probing === undefined && now - this.#lastProbeAt >= this.#options.probeEveryMs) {
      this.#lastProbeAt = now;
      this.#probing = probe().then(
        () => this.#reachable(),
        (error) =>
          logger.debug("The broker probe failed: {error}", {
            error: error instanceof Error ? error.message : String(error),
          }),
      ).finally(() => this.#probing = undefined);
    }
    await Promise.resolve();
    if (this.#downSince === undefined) return;
    const away = Date.now() - this.#downSince;
    const { limitMs, reportEveryMs, bootstrap } = this.#options;
    if (limitMs > 0 && away >= limitMs) throw new BrokerUnreachableError(bootstrap, limitMs);
    if (Date.now() - this.#lastReportAt >= reportEveryMs) {
      this.#lastReportAt = Date.now();
      logger.warn(
        "The Kafka broker {bootstrap} is still unreachable after {seconds} s ({failures} " +
          "failed connection attempts).",
        { bootstrap, seconds: Math.round(away / 1000), failures: this.#failures },
      );
    }
  }

  /** Stops folding librdkafka's lines and drops a lone error not yet logged. */
  [Symbol.dispose](): void {
    this.#fold[Symbol.dispose]();
    if (this.#lone) clearTimeout(this.#lone.timer);
    this.#lone = undefined;
    clearTimeout(this.#limitTimer);
  }
}
