/**
 * The first-assignment guard of a consumer's close, for librdkafka before 2.3.0: it aborts the
 * process (a failed assertion in the cooperative-sticky assignor, confluentinc/librdkafka#4312)
 * when a consumer that has had its JoinGroup answered is destroyed before its first assignment,
 * and a SyncGroup answer that arrives once closing began is dropped. So a consumer of that
 * assignor stopped during start-up waits (at most {@linkcode FIRST_ASSIGNMENT_WAIT_MS}) for its
 * first rebalance event before it closes; messages fetched meanwhile are dropped (nothing of
 * them was processed or committed). Apart from the consumer because it is a workaround for one
 * library bug, to be removed with the versions that have it.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { KafkaConfig } from "./config.ts";
import { hasLibraryFeature } from "./library_features.ts";

const logger = getLogger(["ferry", "kafka"]);

/**
 * How long a consumer closed before its first assignment waits for it on librdkafka before
 * 2.3.0, ms.
 */
export const FIRST_ASSIGNMENT_WAIT_MS = 10_000;

/**
 * Whether a consumer with this config, on the librdkafka loaded, must wait for its first
 * rebalance event before it closes (see the module).
 */
export function needsFirstAssignmentGuard(config: KafkaConfig): boolean {
  return !hasLibraryFeature("earlyCloseSafe") &&
    String(config["partition.assignment.strategy"] ?? "").includes("cooperative-sticky");
}

/**
 * Waits, at most {@linkcode FIRST_ASSIGNMENT_WAIT_MS}, for the group's first assignment, saying
 * so once.
 *
 * @param handleNext waits a little (100 ms) for the consumer's next event and handles it.
 * @param waiting whether to go on waiting: no rebalance event yet, and no fatal error.
 */
export async function awaitFirstRebalance(
  handleNext: () => Promise<void>,
  waiting: () => boolean,
): Promise<void> {
  logger.info(
    "Waiting up to {seconds} s for the group's first assignment before leaving it " +
      "(librdkafka before 2.3.0 crashes on a close in between).",
    { seconds: FIRST_ASSIGNMENT_WAIT_MS / 1000 },
  );
  const deadline = Date.now() + FIRST_ASSIGNMENT_WAIT_MS;
  while (waiting() && Date.now() < deadline) await handleNext();
}
