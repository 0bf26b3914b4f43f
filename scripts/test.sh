#!/usr/bin/env bash
# Ferry's test command:  bash scripts/test.sh [args for `deno task test`...]
#
# Installs what is missing (scripts/install.sh), starts the dev Kafka broker unless it is
# already running, runs `deno task test` against it, and stops the broker again only if this
# script started it. Exits with the tests' status.
#
# Environment: FERRY_KAFKA_PORT (default 39092), FERRY_KAFKA_DIR, FERRY_CACHE (see README).
# The tests get FERRY_TEST_BOOTSTRAP=127.0.0.1:<port> and FERRY_TEST_SASL_BOOTSTRAP=
# 127.0.0.1:<port+2> (SASL_PLAINTEXT, PLAIN; FERRY_TEST_SASL_USERNAME/PASSWORD).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$FERRY_ROOT"

# Sourced (not `bash scripts/install.sh`) so that a freshly installed Deno lands on our PATH.
ferry_ensure_deno
ferry_ensure_librdkafka
ferry_ensure_kafka_jars
# versitygw, the S3-compatible server of the S3 transfer example's test (built once, cached).
# Without it only that test fails (naming the problem), so the other tests still run.
bash "$FERRY_ROOT/scripts/s3/server.sh" install ||
  ferry_say "versitygw is missing: tests/examples_s3_transfer_test.ts will fail (see above)"

PORT=${FERRY_KAFKA_PORT:-39092}
export FERRY_KAFKA_PORT=$PORT
BROKER=(bash "$FERRY_ROOT/scripts/kafka/broker.sh")

started_broker=0
# shellcheck disable=SC2317 # called from the EXIT trap
stop_broker() {
  if [ "$started_broker" = 1 ]; then
    started_broker=0
    "${BROKER[@]}" stop || true
  fi
}
trap stop_broker EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if "${BROKER[@]}" status >/dev/null 2>&1; then
  ferry_say "using the Kafka broker already running on 127.0.0.1:$PORT"
elif kcat -b "127.0.0.1:$PORT" -L -m 5 >/dev/null 2>&1; then
  # Started some other way (another checkout, another data dir): use it, leave it alone.
  ferry_say "using the Kafka broker answering on 127.0.0.1:$PORT (not started from this checkout)"
else
  started_broker=1
  "${BROKER[@]}" start >&2
fi

export FERRY_TEST_BOOTSTRAP=127.0.0.1:$PORT
export FERRY_TEST_SASL_BOOTSTRAP=127.0.0.1:$((PORT + 2))
export FERRY_TEST_SASL_USERNAME=ferry
export FERRY_TEST_SASL_PASSWORD=ferry-secret

status=0
deno task test "$@" || status=$?
if [ "$status" -ne 0 ]; then
  ferry_say "tests failed (exit $status); last 60 lines of the broker log:"
  "${BROKER[@]}" logs --lines 60 >&2 || true
fi
exit "$status"
