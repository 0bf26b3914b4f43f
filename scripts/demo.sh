#!/usr/bin/env bash
# Ferry's demo:  bash scripts/demo.sh
#
# Installs what is missing (as scripts/test.sh does), starts the dev Kafka broker unless one is
# running, creates a fresh topic, uploads the sample instrument data in examples/data/ with
# `ferry upload`, runs the example processor examples/summary.ts over it (live progress line,
# exits when idle), then prints a table of every file and writes an HTML report with plots.
# The topic is deleted at the end, and the broker stopped again only if this script started it.
# Every run uses a new topic and output directory, so it can be run again and again.
#
# Environment: FERRY_KAFKA_PORT (default 19092), FERRY_CACHE (see README),
# FERRY_DEMO_OUTPUT (output directory; default .cache/demo/<run id> in the repository).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$FERRY_ROOT"

ferry_ensure_dev_tools

BOOTSTRAP=127.0.0.1:${FERRY_KAFKA_PORT:-$FERRY_KAFKA_DEFAULT_PORT}
RUN_ID=$(date +%Y%m%d-%H%M%S)-$$
TOPIC=ferry-demo-$RUN_ID
OUT=${FERRY_DEMO_OUTPUT:-$FERRY_ROOT/.cache/demo/$RUN_ID}

created_topic=0
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  if [ "$created_topic" = 1 ]; then
    created_topic=0
    deno run -A examples/demo/topic.ts delete "$BOOTSTRAP" "$TOPIC" || true
  fi
  ferry_broker_down
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Prints a step's title and the command, then runs it.
step() {
  local title=$1
  shift
  printf '\n\033[1m== %s\033[0m\n$ %s\n' "$title" "$*" >&2
  "$@"
}

ferry_broker_up

mkdir -p "$OUT"
step "Creating topic $TOPIC (4 partitions)" \
  deno run -A examples/demo/topic.ts create "$BOOTSTRAP" "$TOPIC" 4
created_topic=1

step "Uploading examples/data/ (CSV logs, spectra, raw detector frames) as chunk messages" \
  deno run -A cli.ts upload examples/data --topic "$TOPIC" --bootstrap-servers "$BOOTSTRAP" \
  --upload-log-dir "$OUT/upload-log"

step "Running the example processor examples/summary.ts (exits once idle for 2 s)" \
  deno run -A examples/summary.ts --topic "$TOPIC" --bootstrap-servers "$BOOTSTRAP" \
  --output-dir "$OUT" --status-interval 0.5 --exit-when-idle 2 --log-file "$OUT/summary.log"

step "Summary of every file (from $OUT/summary.jsonl)" \
  deno run -A examples/summary_report.ts "$OUT"

printf '\nDone. Open the report in a browser: %s\n' "$OUT/report.html" >&2
printf 'Write your own processor: deno run -A cli.ts new my-processor\n' >&2
