#!/usr/bin/env bash
# Installs what Ferry's tests and dev broker need, when missing (quiet when all is there):
#   - Deno 2.x (Deno 2.9.6 from npm into $FERRY_CACHE unless a Deno 2.x is on PATH)
#   - librdkafka1 and kcat (Debian packages, via apt-get)
#   - librdkafka-dev and a C compiler, for the test of the struct offsets (via apt-get)
#   - Apache Kafka 3.9.1 jars from Maven Central (via mvn, into $FERRY_CACHE)
#   - versitygw, the S3 test server (built with `go install` from the Go module proxy, cached)
#   - with --engines new: also the newest librdkafka (built from source into $FERRY_CACHE) and
#     the newest Kafka 4.x jars, which `scripts/test.sh --engines new` tests with
# Usage: bash scripts/install.sh [--engines new]
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
'') ;;
--engines) [ "${2:-}" = new ] || { ferry_say "usage: bash scripts/install.sh [--engines new]"; exit 2; } ;;
*) ferry_say "usage: bash scripts/install.sh [--engines new]"; exit 2 ;;
esac

ferry_ensure_dev_tools
ferry_ensure_rdkafka_header
if [ "${1:-}" = --engines ]; then
  ferry_ensure_new_librdkafka
  ferry_select_kafka_version "$FERRY_KAFKA_NEW_VERSION"
  ferry_ensure_kafka_jars
fi
bash "$(dirname "${BASH_SOURCE[0]}")/s3/server.sh" install
