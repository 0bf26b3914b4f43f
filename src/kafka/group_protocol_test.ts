import assert from "node:assert/strict";
import { KafkaConfigError } from "./config.ts";
import { checkGroupProtocol, groupProtocolConfig, groupProtocolOf } from "./group_protocol.ts";
import { hasLibraryFeature } from "./library_features.ts";
import { librdkafkaVersion } from "./ffi.ts";

Deno.test("groupProtocolOf: consumer in any case, classic otherwise", () => {
  assert.equal(groupProtocolOf({ "group.protocol": "CONSUMER" }), "consumer");
  assert.equal(groupProtocolOf({ "group.protocol": "classic" }), "classic");
  assert.equal(groupProtocolOf({ "session.timeout.ms": 6000 }), "classic");
});

Deno.test("an unknown group.protocol is refused, quoting it", () => {
  assert.throws(
    () => checkGroupProtocol({ "group.protocol": "cooperative" }),
    (error: unknown) =>
      error instanceof KafkaConfigError && error.property === "group.protocol" &&
      error.message.includes(`"cooperative" is not a group protocol`),
  );
});

Deno.test("classic: the property left out, the user's assignor kept", () => {
  assert.deepEqual(
    groupProtocolConfig({ "group.protocol": "classic", "partition.assignment.strategy": "range" }),
    { "partition.assignment.strategy": "range" },
  );
});

Deno.test("consumer: refused by an old librdkafka, else with classic-only properties", () => {
  const config = { "group.protocol": "consumer", "heartbeat.interval.ms": 500 };
  if (!hasLibraryFeature("consumerGroupProtocol")) {
    assert.throws(
      () => checkGroupProtocol(config),
      (error: unknown) =>
        error instanceof KafkaConfigError &&
        error.message.includes(
          `needs librdkafka 2.10.0 or newer, and this is ${librdkafkaVersion()}`,
        ),
    );
    return;
  }
  assert.throws(
    () => checkGroupProtocol(config),
    (error: unknown) =>
      error instanceof KafkaConfigError && error.property === "heartbeat.interval.ms" &&
      error.message.includes(`"heartbeat.interval.ms" cannot be set`),
  );
  assert.deepEqual(groupProtocolConfig({ "group.protocol": "consumer" }), {
    "group.protocol": "consumer",
  });
});
