#!/usr/bin/env bash
# Ferry's test command:  bash scripts/test.sh [args for `deno task test`...]
#                        bash scripts/test.sh --engines new [test files...]
#
# Installs what is missing (scripts/install.sh), starts the dev Kafka broker unless it is
# already running, runs `deno task test` against it, and stops the broker again only if this
# script started it. Exits with the tests' status.
#
# --engines new: the Kafka-facing tests (the binding, file and record processors, faults, and
# librdkafka's struct offsets) with the newest librdkafka (built once into the cache) against
# a Kafka 4.x broker on port FERRY_KAFKA_NEW_PORT (default 19192), then the lifecycle tests
# (groups, stops) again with the KIP-848 consumer group protocol. Given test files, only those
# (classic protocol unless FERRY_TEST_GROUP_PROTOCOL=consumer). CI runs both (.ci/run).
#
# Environment: FERRY_KAFKA_PORT (default 19092), FERRY_KAFKA_DIR, FERRY_CACHE (see README).
# The tests get FERRY_TEST_BOOTSTRAP=127.0.0.1:<port> and FERRY_TEST_SASL_BOOTSTRAP=
# 127.0.0.1:<port+2> (SASL_PLAINTEXT, PLAIN; FERRY_TEST_SASL_USERNAME/PASSWORD); a broker it
# starts has TLS listeners and the authorizer (FERRY_KAFKA_TLS=1 unless set), for tests/security/,
# which get FERRY_TEST_SSL_BOOTSTRAP (<port+3>), FERRY_TEST_SASL_SSL_BOOTSTRAP (<port+4>),
# FERRY_TEST_TLS_EXPIRED_BOOTSTRAP (<port+5>), FERRY_TEST_TLS_WRONG_HOST_BOOTSTRAP (<port+6>) and
# FERRY_TEST_TLS_DIR (the certificates: scripts/kafka/tls.sh).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$FERRY_ROOT"

ENGINES=default
if [ "${1:-}" = --engines ]; then
  ENGINES=${2:-}
  shift 2 || true
  case "$ENGINES" in
  default) ;;
  new)
    # shellcheck source=scripts/engines.sh
    . "$FERRY_ROOT/scripts/engines.sh"
    ferry_use_new_engines
    ;;
  *) ferry_say "--engines must be default or new, got '$ENGINES'"; exit 2 ;;
  esac
fi

# Sourced (not `bash scripts/install.sh`) so that a freshly installed Deno lands on our PATH.
ferry_ensure_dev_tools
# librdkafka's header and a C compiler, for src/kafka/structs_test.ts (only warns when missing).
ferry_ensure_rdkafka_header
# versitygw, the S3-compatible server of the S3 transfer example's test (built once, cached).
# Without it only that test fails (naming the problem), so the other tests still run.
bash "$FERRY_ROOT/scripts/s3/server.sh" install ||
  ferry_say "versitygw is missing: tests/examples/s3_transfer_test.ts will fail (see above)"

# Uploads made by the tests keep their state (upload logs) here, not in the user's
# ~/.local/state; removed at the end.
XDG_STATE_HOME=$(mktemp -d "${TMPDIR:-/tmp}/ferry-test-state.XXXXXX")
export XDG_STATE_HOME
# shellcheck disable=SC2317 # called from the EXIT trap
ferry_test_cleanup() {
  rm -rf "$XDG_STATE_HOME"
  ferry_broker_down
}
trap ferry_test_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export FERRY_KAFKA_TLS=${FERRY_KAFKA_TLS:-1}
ferry_broker_up
# Only for the shared test broker: brokers the tests start of their own (tests/support/broker.ts,
# tests/scripts/) stay plaintext, on their own ports.
unset FERRY_KAFKA_TLS
PORT=$FERRY_KAFKA_PORT

export FERRY_TEST_BOOTSTRAP=127.0.0.1:$PORT
export FERRY_TEST_SASL_BOOTSTRAP=127.0.0.1:$((PORT + 2))
export FERRY_TEST_SASL_USERNAME=ferry
export FERRY_TEST_SASL_PASSWORD=ferry-secret
export FERRY_TEST_SSL_BOOTSTRAP=127.0.0.1:$((PORT + 3))
export FERRY_TEST_SASL_SSL_BOOTSTRAP=127.0.0.1:$((PORT + 4))
export FERRY_TEST_TLS_EXPIRED_BOOTSTRAP=127.0.0.1:$((PORT + 5))
export FERRY_TEST_TLS_WRONG_HOST_BOOTSTRAP=127.0.0.1:$((PORT + 6))
export FERRY_TEST_TLS_DIR=${FERRY_KAFKA_DIR:-$FERRY_ROOT/.cache/kafka-$PORT}/tls
if [ "$ENGINES" != new ] && ! (exec 3<>"/dev/tcp/127.0.0.1/$((PORT + 3))") 2>/dev/null; then
  ferry_say "the broker on port $PORT has no TLS listeners (started without --tls):" \
    "tests/security/ will fail; restart it with: FERRY_KAFKA_TLS=1 bash scripts/kafka/broker.sh restart"
fi

status=0
if [ "$ENGINES" = new ]; then
  ferry_test_new_engines "$@" || status=$?
else
  deno task test "$@" || status=$?
fi
if [ "$status" -ne 0 ]; then
  ferry_say "tests failed (exit $status); last 60 lines of the broker log:"
  ferry_broker logs --lines 60 >&2 || true
fi
exit "$status"
