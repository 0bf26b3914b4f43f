import assert from "node:assert/strict";
import { authorizationMessage, isAuthorizationFailure } from "./authorization.ts";
import { ErrorCode } from "./errors.ts";

Deno.test("isAuthorizationFailure: the topic, group, cluster and transactional id codes", () => {
  for (
    const code of [
      ErrorCode.TOPIC_AUTHORIZATION_FAILED,
      ErrorCode.GROUP_AUTHORIZATION_FAILED,
      ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
      ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    ]
  ) assert.ok(isAuthorizationFailure(code), String(code));
  assert.ok(!isAuthorizationFailure(ErrorCode.SASL_AUTHENTICATION_FAILED));
});

Deno.test("authorizationMessage names the principal and the permission each role needs", () => {
  const cert = { "ssl.certificate.location": "/c.pem", "transactional.id": "ferry-tx-1" };
  const topic = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
  assert.match(
    authorizationMessage(topic, "producer", cert, "raw"),
    /^Not authorized: the principal of the client certificate "\/c\.pem" lacks the Write permission on topic "raw"/,
  );
  assert.match(
    authorizationMessage(topic, "consumer", {}),
    /lacks the Read permission on the topic it reads/,
  );
  assert.match(
    authorizationMessage(topic, "metadata", {}, "raw"),
    /lacks the Describe permission on topic "raw" \(Read and Write include it\)/,
  );
  assert.match(
    authorizationMessage(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, "producer", cert),
    /lacks the Write permission on transactional id "ferry-tx-1"/,
  );
  assert.match(
    authorizationMessage(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, "producer", {}),
    /this client's principal lacks a permission on the cluster \(IdempotentWrite/,
  );
});
