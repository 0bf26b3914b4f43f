# shellcheck shell=bash
# The second set of engines Ferry is tested with: the newest librdkafka against the newest
# Kafka 4.x (the first is Debian's librdkafka 2.0.2 against Kafka 3.9.1). Sourced by
# scripts/test.sh for `--engines new`, after scripts/lib.sh; not run on its own.

# The tests that talk to Kafka, run on both sets of engines (the rest run once, on the first).
FERRY_KAFKA_FACING_TESTS=(tests/kafka tests/processor tests/record_processor tests/fault src/kafka)
# The lifecycle tests (groups, stops), run once more with the KIP-848 consumer group protocol.
FERRY_LIFECYCLE_TESTS=(tests/processor/group_test.ts tests/processor/stop_test.ts
  tests/record_processor/group_test.ts tests/record_processor/stop_test.ts)

# ferry_use_new_engines: builds (once) and selects the newest librdkafka (FERRY_RDKAFKA_PATH,
# and its header for the struct test), and selects Kafka $FERRY_KAFKA_NEW_VERSION on its own
# port (FERRY_KAFKA_NEW_PORT, default 19192; its data dir follows the port), all exported.
ferry_use_new_engines() {
  ferry_ensure_new_librdkafka
  export FERRY_RDKAFKA_PATH=$FERRY_RDKAFKA_NEW_LIB
  export FERRY_RDKAFKA_INCLUDE=$FERRY_RDKAFKA_NEW_INCLUDE
  ferry_select_kafka_version "$FERRY_KAFKA_NEW_VERSION"
  export FERRY_KAFKA_PORT=${FERRY_KAFKA_NEW_PORT:-19192}
  # tests/security/ runs on the first set only: this broker needs no TLS listeners.
  export FERRY_KAFKA_TLS=0
}

# ferry_test_new_engines [FILES...]: runs the Kafka-facing tests, then the lifecycle tests with
# the consumer group protocol; given files, only those. Returns the first failure's status.
ferry_test_new_engines() {
  ferry_say "engines: $(deno run --allow-all "$FERRY_ROOT/cli.ts" --version | tr '\n' ' ')" \
    "against Kafka $FERRY_KAFKA_VERSION on 127.0.0.1:$FERRY_KAFKA_PORT"
  if [ "$#" -gt 0 ]; then
    deno test --allow-all "$@"
    return
  fi
  local status=0
  deno test --allow-all "${FERRY_KAFKA_FACING_TESTS[@]}" || status=$?
  ferry_say "the lifecycle tests again, with group.protocol=consumer (KIP-848)"
  local second=0
  FERRY_TEST_GROUP_PROTOCOL=consumer deno test --allow-all "${FERRY_LIFECYCLE_TESTS[@]}" ||
    second=$?
  [ "$status" -ne 0 ] || status=$second
  return "$status"
}
