/**
 * Authorization failures: the broker's authorizer refused this client's principal an operation
 * (no ACL for it). librdkafka reports them as errors it retries, or per message; the same
 * request fails again until someone grants the ACL, so the clients end at once instead (see
 * `client.ts`), with a message naming the permission that is missing. `docs/security.md` lists
 * the ACLs each run type needs.
 *
 * @module
 */

import type { KafkaConfig } from "./config.ts";
import { ErrorCode } from "./errors.ts";

/** The `rd_kafka_resp_err_t` codes of authorization failures. */
const AUTHORIZATION = new Set<number>([
  ErrorCode.TOPIC_AUTHORIZATION_FAILED,
  ErrorCode.GROUP_AUTHORIZATION_FAILED,
  ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
  ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
]);

/**
 * Whether `code` says the broker refused the principal an operation (no ACL).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isAuthorizationFailure } from "./authorization.ts";
 * import { ErrorCode } from "./errors.ts";
 *
 * assert.ok(isAuthorizationFailure(ErrorCode.GROUP_AUTHORIZATION_FAILED));
 * assert.ok(!isAuthorizationFailure(ErrorCode.TIMED_OUT));
 * ```
 */
export function isAuthorizationFailure(code: number): boolean {
  return AUTHORIZATION.has(code);
}

/** Who the principal is, from the configuration: the SASL user, else the client certificate. */
function principal(config: KafkaConfig): string {
  const user = config["sasl.username"];
  if (user !== undefined) return `user "${user}"`;
  const cert = config["ssl.certificate.location"];
  if (cert !== undefined) return `the principal of the client certificate "${cert}"`;
  return "this client's principal";
}

/**
 * The start of the message for an authorization failure: what the broker refused, and the ACL
 * to grant. `role` is what the client does: a consumer reads (Read), a producer writes (Write),
 * a look at the topic's metadata needs Describe; `topic`, when known, is the topic of the failed
 * request.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { authorizationMessage } from "./authorization.ts";
 * import { ErrorCode } from "./errors.ts";
 *
 * assert.equal(
 *   authorizationMessage(ErrorCode.GROUP_AUTHORIZATION_FAILED, "consumer", {
 *     "group.id": "g1",
 *     "sasl.username": "alice",
 *   }),
 *   'Not authorized: user "alice" lacks the Read permission on consumer group "g1" ' +
 *     "(grant it with an ACL, see docs/security.md)",
 * );
 * ```
 */
export function authorizationMessage(
  code: number,
  role: "producer" | "consumer" | "metadata",
  config: KafkaConfig,
  topic?: string,
): string {
  const who = principal(config);
  const on = topic === undefined ? "the topic" : `topic "${topic}"`;
  let missing: string;
  if (code === ErrorCode.TOPIC_AUTHORIZATION_FAILED) {
    missing = role === "consumer"
      ? `the Read permission on ${topic === undefined ? "the topic it reads" : on}`
      : role === "producer"
      ? `the Write permission on ${topic === undefined ? "the topic it writes" : on}`
      : `the Describe permission on ${on} (Read and Write include it)`;
  } else if (code === ErrorCode.GROUP_AUTHORIZATION_FAILED) {
    missing = `the Read permission on consumer group "${config["group.id"] ?? ""}"`;
  } else if (code === ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED) {
    missing = `the Write permission on transactional id "${config["transactional.id"] ?? ""}"`;
  } else {
    missing = "a permission on the cluster (IdempotentWrite for an idempotent producer on " +
      "brokers before Kafka 2.8)";
  }
  return `Not authorized: ${who} lacks ${missing} (grant it with an ACL, see docs/security.md)`;
}
