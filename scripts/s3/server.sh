#!/usr/bin/env bash
# A throwaway S3-compatible server on loopback for the S3 transfer example and its test:
# Versity's versitygw (Apache-2.0) with its posix backend, which serves a directory (each
# subdirectory is a bucket). Built once from the Go module proxy with `go install` and cached.
#
# Usage: bash scripts/s3/server.sh [options] install|start|stop|status|logs|env
#
#   install  build versitygw into $FERRY_CACHE/versitygw-<version>/ unless it is there
#            (needs Go 1.25+: `go` on PATH or /usr/local/go/bin/go; about 2 minutes)
#   start    install if needed, start on 127.0.0.1:<port>, wait until it answers
#   env      print the AWS_* variables that point an S3 client at it (for `eval`)
#
# Options (flags win over environment variables):
#   --port N          listen port                       FERRY_S3_PORT   default 19190
#   --data-dir DIR    served directory, pid file, log   FERRY_S3_DIR    default <repo>/.cache/s3-<port>
#
# Credentials (test only, fixed): access key "ferry", secret "ferry-s3-secret", region us-east-1.
# Exit status: 0 ok; 1 failure; 2 usage error; 3 (status) not running.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VERSITYGW_VERSION=v1.8.0
BIN_DIR=$FERRY_CACHE/versitygw-${VERSITYGW_VERSION#v}/bin
BIN=$BIN_DIR/versitygw
ACCESS_KEY=ferry
SECRET_KEY=ferry-s3-secret
START_TIMEOUT=${FERRY_S3_START_TIMEOUT:-30}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

PORT=${FERRY_S3_PORT:-19190}
DATA_DIR=${FERRY_S3_DIR:-}
CMD=""
while [ "$#" -gt 0 ]; do
  case "$1" in
  --port) [ "$#" -ge 2 ] || usage; PORT=$2; shift 2 ;;
  --port=*) PORT=${1#--port=}; shift ;;
  --data-dir) [ "$#" -ge 2 ] || usage; DATA_DIR=$2; shift 2 ;;
  --data-dir=*) DATA_DIR=${1#--data-dir=}; shift ;;
  -h | --help | help) usage ;;
  install | start | stop | status | logs | env)
    [ -z "$CMD" ] || usage
    CMD=$1
    shift
    ;;
  *) ferry_say "unknown argument: $1"; usage ;;
  esac
done
[ -n "$CMD" ] || usage
DATA_DIR=${DATA_DIR:-$FERRY_ROOT/.cache/s3-$PORT}
PID_FILE=$DATA_DIR/versitygw.pid
LOG_FILE=$DATA_DIR/versitygw.log
ENDPOINT=http://127.0.0.1:$PORT

find_go() {
  if command -v go >/dev/null 2>&1; then
    command -v go
  elif [ -x /usr/local/go/bin/go ]; then
    echo /usr/local/go/bin/go
  else
    return 1
  fi
}

install() {
  if [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1; then
    return 0
  fi
  local go
  go=$(find_go) || ferry_die "Go 1.25+ is needed to build versitygw $VERSITYGW_VERSION and was" \
    "not found (PATH, /usr/local/go/bin). Install it from https://go.dev/dl/, then run:" \
    "bash scripts/s3/server.sh install"
  ferry_say "building versitygw $VERSITYGW_VERSION with $go (Go module proxy; first run only," \
    "about 2 minutes)"
  local tmp=$BIN_DIR.partial.$$
  rm -rf "$tmp"
  mkdir -p "$tmp"
  if ! GOBIN=$tmp GOFLAGS=-buildvcs=false "$go" install \
    "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >"$tmp/build.log" 2>&1; then
    tail -n 30 "$tmp/build.log" >&2
    rm -rf "$tmp"
    ferry_die "go install github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION failed" \
      "(see above). Is the Go module proxy (GOPROXY) reachable?"
  fi
  rm -f "$tmp/build.log"
  if [ -x "$BIN" ]; then
    rm -rf "$tmp" # another run finished first
  else
    mkdir -p "$(dirname "$BIN_DIR")"
    rm -rf "$BIN_DIR"
    mv "$tmp" "$BIN_DIR"
  fi
  ferry_say "versitygw ready: $BIN"
}

running_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid=$(cat "$PID_FILE")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

answers() {
  local code
  code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$ENDPOINT/" 2>/dev/null || true)
  [ -n "$code" ] && [ "$code" != 000 ]
}

start() {
  if running_pid >/dev/null; then
    ferry_say "versitygw already running on $ENDPOINT"
    return 0
  fi
  install
  mkdir -p "$DATA_DIR/root"
  ferry_say "starting versitygw on $ENDPOINT serving $DATA_DIR/root"
  # Credentials through the environment, so they never show in `ps`.
  ROOT_ACCESS_KEY_ID=$ACCESS_KEY ROOT_SECRET_ACCESS_KEY=$SECRET_KEY \
    nohup "$BIN" --port "127.0.0.1:$PORT" --quiet posix "$DATA_DIR/root" \
    >"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  local waited=0
  until answers; do
    if ! running_pid >/dev/null; then
      tail -n 20 "$LOG_FILE" >&2 || true
      ferry_die "versitygw exited at start (log: $LOG_FILE)"
    fi
    if [ "$waited" -ge $((START_TIMEOUT * 10)) ]; then
      stop
      ferry_die "versitygw did not answer on $ENDPOINT within ${START_TIMEOUT}s (log: $LOG_FILE)"
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  ferry_say "versitygw ready on $ENDPOINT (access key $ACCESS_KEY)"
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$PID_FILE"
    return 0
  fi
  kill "$pid" 2>/dev/null || true
  local waited=0
  while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 100 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
  ferry_say "versitygw on $ENDPOINT stopped"
}

case "$CMD" in
install) install ;;
start) start ;;
stop) stop ;;
status)
  if running_pid >/dev/null && answers; then
    echo "versitygw running on $ENDPOINT"
  else
    echo "versitygw not running on $ENDPOINT"
    exit 3
  fi
  ;;
logs) tail -n 100 "$LOG_FILE" ;;
env)
  printf 'export AWS_ENDPOINT_URL=%s\n' "$ENDPOINT"
  printf 'export AWS_ACCESS_KEY_ID=%s\n' "$ACCESS_KEY"
  printf 'export AWS_SECRET_ACCESS_KEY=%s\n' "$SECRET_KEY"
  printf 'export AWS_REGION=us-east-1\n'
  ;;
esac
