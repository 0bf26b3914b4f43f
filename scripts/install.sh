#!/usr/bin/env bash
# Installs what Ferry's tests and dev broker need, when missing (quiet when all is there):
#   - Deno 2.x (Deno 2.9.6 from npm into $FERRY_CACHE unless a Deno 2.x is on PATH)
#   - librdkafka1 and kcat (Debian packages, via apt-get)
#   - librdkafka-dev and a C compiler, for the test of the struct offsets (via apt-get)
#   - Apache Kafka 3.9.1 jars from Maven Central (via mvn, into $FERRY_CACHE)
#   - versitygw, the S3 test server (built with `go install` from the Go module proxy, cached)
# Usage: bash scripts/install.sh
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ferry_ensure_dev_tools
ferry_ensure_rdkafka_header
bash "$(dirname "${BASH_SOURCE[0]}")/s3/server.sh" install
