/**
 * Closing a file run while the broker is away: closing the consumer waits for a commit in
 * flight and the group leave, which an absent broker never answers, so the close is given a
 * while and then left; and a run stopped by the outage limit exits anyway if closing still
 * hangs. Both are as safe as `kill -9`: nothing unfinished was committed. Apart from the runner
 * because these are the only places where a run gives up on a clean close.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { errorText } from "../processor/errors.ts";

const logger = getLogger(["ferry", "file-processor"]);

/** How long a run stopping for a broker outage may take to close before the process exits. */
const OUTAGE_EXIT_GRACE_MS = 20_000;

/** How long closing the consumer may take with the broker away (ms). */
const CLOSE_WAIT_MS = 10_000;

/**
 * After the outage limit: if closing hangs on requests the absent broker never answers, exit 1
 * anyway. That is as safe as `kill -9`: nothing unfinished was committed, the logs are whole.
 */
export function exitIfStuck(): void {
  const timer = setTimeout(() => {
    logger.error(
      "Could not close cleanly with the broker away; exiting (nothing unfinished was " +
        "committed).",
    );
    Deno.exit(1);
  }, OUTAGE_EXIT_GRACE_MS);
  Deno.unrefTimer(timer);
}

/**
 * Closes the consumer. With the broker away (asked once closing began), a commit in flight and
 * the group leave wait for it; after 10 s the run ends without them (nothing unfinished was
 * committed), and a failure to close is logged rather than thrown.
 *
 * @param waitMs how long to wait with the broker away (10 s unless a test says otherwise).
 */
export async function closeConsumer(
  consumer: { close(): Promise<void> },
  brokerDown: () => boolean,
  waitMs = CLOSE_WAIT_MS,
): Promise<void> {
  const closing = consumer.close();
  if (!brokerDown()) return await closing;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const closed = await Promise.race([
    closing.then(() => true, (error) => {
      logger.warn("Closing the Kafka consumer failed: {error}", { error: errorText(error) });
      return true;
    }),
    new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), waitMs)),
  ]);
  clearTimeout(timer);
  if (!closed) {
    logger.warn("The Kafka consumer did not close within 10 s with the broker away; leaving it.");
  }
}
