#!/usr/bin/env bash
# A throwaway single-node Apache Kafka 3.9.1 or 4.x broker (KRaft, no ZooKeeper) on loopback, for
# development and tests. Built from Maven Central jars (see scripts/kafka/pom.xml); no Docker.
#
# Usage: bash scripts/kafka/broker.sh [options] start|stop|status|logs|restart
#
# Options (flags win over environment variables):
#   --port N          client port (PLAINTEXT)            FERRY_KAFKA_PORT   default 19092
#                     the KRaft controller listens on N+1, SASL_PLAINTEXT on N+2; keep N+2
#                     below 32768, Linux's ephemeral ports, which any outgoing connection
#                     may hold (the start then fails with "Address already in use")
#   --data-dir DIR    config, data, pid file, broker.log FERRY_KAFKA_DIR    default <repo>/.cache/kafka-<port>
#   --no-sasl         leave out the SASL_PLAINTEXT listener  (FERRY_KAFKA_SASL=0)
#   --tls             add SSL (N+3) and SASL_SSL (N+4) listeners, two with bad certificates
#                     (N+5 expired, N+6 wrong host) and the StandardAuthorizer; certificates
#                     in <data dir>/tls (see scripts/kafka/tls.sh)   FERRY_KAFKA_TLS=1
#   --kafka-version V 3.9.1, or 4.4.0 (the newest 4.x)  FERRY_KAFKA_VERSION default 3.9.1
#                     a data dir keeps the version it was formatted with: give another
#                     version its own --port or --data-dir
#   --lines N         logs: how many lines to print (default 100)
#   --follow, -f      logs: keep following the log
#
# SASL_PLAINTEXT listener (mechanism PLAIN) users: ferry / ferry-secret, admin / admin-secret.
# Several brokers can run at once: give each its own --port (the default data dir follows it).
#
# Exit status: 0 ok; 1 failure; 2 usage error; 3 (status) not running or not answering.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=scripts/kafka/tls.sh
. "$(dirname "${BASH_SOURCE[0]}")/tls.sh"

CLUSTER_ID=Ft1JoZsNQhiobhszy-oujw # fixed: the data dir is throwaway (kafka-storage random-uuid)
START_TIMEOUT=${FERRY_KAFKA_START_TIMEOUT:-60} # seconds until the broker must answer
STOP_TIMEOUT=${FERRY_KAFKA_STOP_TIMEOUT:-30}   # seconds after TERM before KILL

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

PORT=${FERRY_KAFKA_PORT:-$FERRY_KAFKA_DEFAULT_PORT}
DATA_DIR=${FERRY_KAFKA_DIR:-}
SASL=${FERRY_KAFKA_SASL:-1}
TLS=${FERRY_KAFKA_TLS:-0}
LINES=100
FOLLOW=0
CMD=""

while [ "$#" -gt 0 ]; do
  case "$1" in
  --port) [ "$#" -ge 2 ] || usage; PORT=$2; shift 2 ;;
  --port=*) PORT=${1#--port=}; shift ;;
  --data-dir) [ "$#" -ge 2 ] || usage; DATA_DIR=$2; shift 2 ;;
  --data-dir=*) DATA_DIR=${1#--data-dir=}; shift ;;
  --no-sasl) SASL=0; shift ;;
  --sasl) SASL=1; shift ;;
  --tls) TLS=1; shift ;;
  --kafka-version) [ "$#" -ge 2 ] || usage; FERRY_KAFKA_VERSION=$2; shift 2 ;;
  --kafka-version=*) FERRY_KAFKA_VERSION=${1#--kafka-version=}; shift ;;
  --lines | -n) [ "$#" -ge 2 ] || usage; LINES=$2; shift 2 ;;
  --lines=*) LINES=${1#--lines=}; shift ;;
  --follow | -f) FOLLOW=1; shift ;;
  -h | --help | help) usage ;;
  start | stop | status | logs | restart)
    [ -z "$CMD" ] || usage
    CMD=$1
    shift
    ;;
  *) ferry_say "unknown argument: $1"; usage ;;
  esac
done
[ -n "$CMD" ] || usage
ferry_select_kafka_version "$FERRY_KAFKA_VERSION" || exit 2
KAFKA4=0
case "$FERRY_KAFKA_VERSION" in 3.*) ;; *) KAFKA4=1 ;; esac

case "$PORT" in
'' | *[!0-9]*) ferry_say "--port must be a number, got '$PORT'"; exit 2 ;;
esac
if [ "$PORT" -lt 1024 ] || [ "$PORT" -gt 65533 ]; then
  ferry_say "--port must be between 1024 and 65533 (it uses port, port+1, port+2), got $PORT"
  exit 2
fi
case "$LINES" in
'' | *[!0-9]*) ferry_say "--lines must be a number, got '$LINES'"; exit 2 ;;
esac
case "$SASL" in
0 | false | no) SASL=0 ;;
*) SASL=1 ;;
esac
case "$TLS" in
1 | true | yes) TLS=1 ;;
*) TLS=0 ;;
esac

CONTROLLER_PORT=$((PORT + 1))
SASL_PORT=$((PORT + 2))
DATA_DIR=${DATA_DIR:-$FERRY_ROOT/.cache/kafka-$PORT}
mkdir -p "$DATA_DIR"
DATA_DIR=$(cd "$DATA_DIR" && pwd)
PID_FILE=$DATA_DIR/broker.pid
LOG_FILE=$DATA_DIR/broker.log
OUT_FILE=$DATA_DIR/broker.out
PROPS=$DATA_DIR/server.properties
TLS_DIR=$DATA_DIR/tls
LOG4J=$DATA_DIR/log4j.properties
LOG_MARK=0 # lines of broker.log before this start (log4j appends): the rest is this start's
JAVA=java
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
  JAVA=$JAVA_HOME/bin/java
fi

# --- helpers ----------------------------------------------------------------------------------

# The command line of a process, or nothing when it does not exist.
cmdline_of() {
  if [ -r "/proc/$1/cmdline" ]; then
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true
  else
    ps -p "$1" -o args= 2>/dev/null || true
  fi
}

# Prints the pid of this data dir's broker when it is alive; fails otherwise.
broker_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid=$(tr -dc '0-9' <"$PID_FILE")
  [ -n "$pid" ] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid: it must be our broker, with our config file.
  case "$(cmdline_of "$pid")" in
  *kafka.Kafka*"$PROPS"*) printf '%s\n' "$pid" ;;
  *) return 1 ;;
  esac
}

# Succeeds when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Succeeds when the broker answers a metadata request on the PLAINTEXT listener.
answering() {
  port_open "$PORT" || return 1
  kcat -b "127.0.0.1:$PORT" -L -m 5 >/dev/null 2>&1
}

# Succeeds when the SASL_PLAINTEXT listener accepts the ferry user.
sasl_answering() {
  port_open "$SASL_PORT" || return 1
  kcat -b "127.0.0.1:$SASL_PORT" -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=PLAIN \
    -X sasl.username=ferry -X sasl.password=ferry-secret -L -m 5 >/dev/null 2>&1
}

print_endpoints() {
  printf 'PLAINTEXT       127.0.0.1:%s\n' "$PORT"
  if [ "$SASL" = 1 ]; then
    printf 'SASL_PLAINTEXT  127.0.0.1:%s  (PLAIN: ferry/ferry-secret, admin/admin-secret)\n' \
      "$SASL_PORT"
  fi
  if [ "$TLS" = 1 ]; then
    printf 'SSL, SASL_SSL   127.0.0.1:%s, 127.0.0.1:%s  (expired cert :%s, wrong host :%s)\n' \
      $(ferry_tls_ports "$PORT")
    printf 'certificates    %s\n' "$TLS_DIR"
  fi
}

# What port $1 is to the broker.
port_role() {
  case "$1" in
  "$PORT") echo "the client port, --port" ;;
  "$CONTROLLER_PORT") echo "the KRaft controller port, --port + 1" ;;
  "$SASL_PORT") echo "the SASL port, --port + 2" ;;
  *) echo "a port of the broker" ;;
  esac
}

# This system's ephemeral port range ("32768 60999"), or nothing when unknown.
ephemeral_range() {
  local range
  range=$(tr -s ' \t' '  ' 2>/dev/null </proc/sys/net/ipv4/ip_local_port_range) || return 0
  case "$range" in
  [0-9]*' '[0-9]*) printf '%s\n' "$range" ;;
  esac
}

# Succeeds when one of the broker's ports ($PORT..$PORT+2) lies in the ephemeral range.
in_ephemeral_range() {
  local range lo hi
  range=$(ephemeral_range)
  [ -n "$range" ] || return 1
  lo=${range% *}
  hi=${range#* }
  [ "$((PORT + 2))" -ge "$lo" ] && [ "$PORT" -le "$hi" ]
}

# What to do about a port in use: choose other ports, outside the ephemeral range.
port_advice() {
  ferry_say "choose other ports: FERRY_KAFKA_PORT=N bash scripts/kafka/broker.sh start (or" \
    "--port N); the broker uses N, N+1 and N+2 (default $FERRY_KAFKA_DEFAULT_PORT)."
  if in_ephemeral_range; then
    local range
    range=$(ephemeral_range)
    ferry_say "ports ${range% *}-${range#* } are this system's ephemeral ports, which outgoing" \
      "connections take as their own: with N+2 below ${range% *} no connection can hold them."
  fi
}

# The sockets on 127.0.0.1:$1 and their processes (ss; as much as it may show), a line each.
holders() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Htanp "( sport = :$1 )" 2>/dev/null | head -n 5 | sed 's/^/  /' >&2 || true
}

# Prints the connections that hold 127.0.0.1:$1 as their local port (an outgoing connection
# may be given any ephemeral port); fails when there are none, or when ss is not there to say.
# Only live ones count: the closing sockets of a broker that just stopped do not keep the
# broker from listening again.
connections_on() {
  command -v ss >/dev/null 2>&1 || return 1
  local out
  out=$(ss -Htanp state established state syn-sent \
    "( src 127.0.0.1:$1 or src [::ffff:127.0.0.1]:$1 )" 2>/dev/null) || return 1
  [ -n "$out" ] || return 1
  printf '%s\n' "$out"
}

# This start's lines of broker.log (those after LOG_MARK), then the JVM's output.
new_log_lines() {
  if [ -f "$LOG_FILE" ]; then
    local lines
    lines=$(wc -l <"$LOG_FILE")
    if [ "$lines" -ge "$LOG_MARK" ]; then
      tail -n "+$((LOG_MARK + 1))" "$LOG_FILE"
    else
      cat "$LOG_FILE" # rolled over meanwhile
    fi
  fi
  if [ -f "$OUT_FILE" ]; then cat "$OUT_FILE"; fi
}

# Says why this start failed, from its log: for a port in use, which one and what to do;
# otherwise the first ERROR line and the exception under it (the deepest "Caused by").
explain_failure() {
  local log bind first cause
  log=$(new_log_lines)
  bind=$(grep -o -m 1 'failed to bind to [^ ]*: Address already in use' <<<"$log" || true)
  if [ -n "$bind" ]; then
    local addr=${bind#failed to bind to }
    addr=${addr%: Address already in use}
    ferry_say "cause: Address already in use: the broker could not listen on $addr" \
      "($(port_role "${addr##*:}")): another process holds that port."
    holders "${addr##*:}"
    port_advice
    return
  fi
  if grep -q 'Address already in use' <<<"$log"; then
    ferry_say "cause: Address already in use: another process holds one of the ports" \
      "$PORT, $CONTROLLER_PORT, $SASL_PORT (see $LOG_FILE)."
    port_advice
    return
  fi
  first=$(grep -m 1 -E '^\[[^]]*\] (ERROR|FATAL) ' <<<"$log" || true)
  if [ -z "$first" ]; then
    first=$(grep -m 1 -E '(Exception|Error)(:|$)' <<<"$log" || true)
  fi
  if [ -z "$first" ]; then
    ferry_say "no ERROR in this start's lines of $LOG_FILE or $OUT_FILE; see the lines above."
    return
  fi
  ferry_say "cause, the first error in the log: $first"
  cause=$(awk -v first="$first" '
    found && /^\[/ { exit }
    $0 == first { found = 1; next }
    found && /^Caused by: / { caused = $0 }
    found && exception == "" && /^[A-Za-z_$][A-Za-z0-9_.$]*(Exception|Error)/ { exception = $0 }
    END { print (caused != "" ? caused : exception) }' <<<"$log")
  if [ -n "$cause" ]; then ferry_say "  $cause"; fi
}

# On a failed start: this start's last log lines, then why it failed (last, to be seen).
show_failure_logs() {
  local lines
  lines=$(new_log_lines | tail -n 30)
  if [ -n "$lines" ]; then
    ferry_say "--- last lines of this start's log ($LOG_FILE, JVM output in $OUT_FILE) ---"
    printf '%s\n' "$lines" >&2
    ferry_say "---"
  fi
  explain_failure
}

write_config() {
  local listeners advertised protomap
  listeners="PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT"
  advertised="PLAINTEXT://127.0.0.1:$PORT"
  protomap="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
  if [ "$SASL" = 1 ]; then
    listeners="$listeners,SASL_PLAINTEXT://127.0.0.1:$SASL_PORT"
    advertised="$advertised,SASL_PLAINTEXT://127.0.0.1:$SASL_PORT"
    protomap="$protomap,SASL_PLAINTEXT:SASL_PLAINTEXT"
  fi
  if [ "$TLS" = 1 ]; then
    ferry_tls_certs "$TLS_DIR"
    listeners="$listeners,$(ferry_tls_listeners "$PORT")"
    advertised="$advertised,$(ferry_tls_listeners "$PORT")"
    protomap="$protomap,$FERRY_TLS_PROTOCOLS"
  fi
  mkdir -p "$DATA_DIR/data"
  cat >"$PROPS" <<EOF
# Written by scripts/kafka/broker.sh on every start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protomap
log.dirs=$DATA_DIR/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
# Let tests use short consumer session timeouts (Kafka's default minimum is 6000).
group.min.session.timeout.ms=1000
log.cleaner.dedupe.buffer.size=16777216
num.recovery.threads.per.data.dir=1
message.max.bytes=16777216
replica.fetch.max.bytes=16777216
EOF
  if [ "$SASL" = 1 ]; then
    cat >>"$PROPS" <<'EOF'
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_ferry="ferry-secret";
EOF
  fi
  if [ "$TLS" = 1 ]; then ferry_tls_properties "$TLS_DIR" >>"$PROPS"; fi
  cat >"$LOG4J" <<EOF
# Written by scripts/kafka/broker.sh on every start.
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$LOG_FILE
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
EOF
  # For the storage format step: warnings only, to its own output (format.out).
  cat >"$DATA_DIR/log4j-tools.properties" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
  if [ "$KAFKA4" = 1 ]; then
    # KIP-848 groups (group.protocol=consumer) take their session timeout and heartbeat
    # interval from the broker: as short as the tests' classic groups ask for theirs.
    cat >>"$PROPS" <<'EOF'
group.consumer.min.session.timeout.ms=1000
group.consumer.session.timeout.ms=6000
group.consumer.min.heartbeat.interval.ms=500
group.consumer.heartbeat.interval.ms=500
EOF
    write_log4j2_config
  fi
}

# Kafka 4.x logs through log4j2: the same two configurations in its properties format.
write_log4j2_config() {
  cat >"$DATA_DIR/log4j2.properties" <<EOF
# Written by scripts/kafka/broker.sh on every start.
appender.file.type=RollingFile
appender.file.name=file
appender.file.fileName=$LOG_FILE
appender.file.filePattern=$LOG_FILE.%i
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
appender.file.policies.type=Policies
appender.file.policies.size.type=SizeBasedTriggeringPolicy
appender.file.policies.size.size=20MB
appender.file.strategy.type=DefaultRolloverStrategy
appender.file.strategy.max=2
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=file
logger.request.name=kafka.request.logger
logger.request.level=WARN
logger.clients.name=org.apache.kafka.clients
logger.clients.level=WARN
EOF
  cat >"$DATA_DIR/log4j2-tools.properties" <<'EOF'
appender.stderr.type=Console
appender.stderr.name=stderr
appender.stderr.target=SYSTEM_ERR
appender.stderr.layout.type=PatternLayout
appender.stderr.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=WARN
rootLogger.appenderRef.stderr.ref=stderr
EOF
}

# --- commands ---------------------------------------------------------------------------------

# Waits until the broker with pid $1 answers; fails (after printing logs) when it dies or when
# START_TIMEOUT seconds pass.
wait_ready() {
  local pid=$1 deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      ferry_say "the broker (pid $pid, port $PORT) exited during startup."
      show_failure_logs
      rm -f "$PID_FILE"
      return 1
    fi
    if answering && { [ "$SASL" = 0 ] || sasl_answering; } &&
      { [ "$TLS" = 0 ] || ferry_tls_answering "$TLS_DIR" "$PORT"; }; then
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      ferry_say "the broker (pid $pid) did not answer on 127.0.0.1:$PORT within ${START_TIMEOUT}s."
      show_failure_logs
      ferry_say "it was left running for inspection; stop it with: bash scripts/kafka/broker.sh --port $PORT stop"
      return 1
    fi
    sleep 1
  done
}

cmd_start() {
  ferry_ensure_librdkafka # kcat, for the readiness check
  ferry_ensure_java
  ferry_ensure_kafka_jars
  local pid t0=$SECONDS
  if pid=$(broker_pid); then
    local running
    running=$(cat "$DATA_DIR/data/.ferry-kafka-version" 2>/dev/null || true)
    if [ -n "$running" ] && [ "$running" != "$FERRY_KAFKA_VERSION" ]; then
      ferry_say "error: the broker of $DATA_DIR (pid $pid) runs Kafka $running, not" \
        "$FERRY_KAFKA_VERSION: stop it first, or give Kafka $FERRY_KAFKA_VERSION another --port."
      return 1
    fi
    if answering; then
      ferry_say "Kafka broker already running (pid $pid, data dir $DATA_DIR)"
      print_endpoints
      return 0
    fi
    ferry_say "Kafka broker (pid $pid) is running but not answering yet; waiting"
    wait_ready "$pid" || return 1
    print_endpoints
    return 0
  fi
  rm -f "$PID_FILE"
  local p held ports=("$PORT" "$CONTROLLER_PORT")
  [ "$SASL" = 0 ] || ports+=("$SASL_PORT")
  # shellcheck disable=SC2207 # four numbers
  [ "$TLS" = 0 ] || ports+=($(ferry_tls_ports "$PORT"))
  for p in "${ports[@]}"; do
    if port_open "$p"; then
      ferry_say "port 127.0.0.1:$p ($(port_role "$p")) is already in use (Address already in" \
        "use): another process listens there, not the broker of $DATA_DIR."
      holders "$p"
      port_advice
      return 1
    fi
    if held=$(connections_on "$p"); then
      ferry_say "port 127.0.0.1:$p ($(port_role "$p")) is already in use (Address already in" \
        "use): a connection holds it as its own port, so the broker could not listen there:"
      printf '%s\n' "$held" | head -n 5 | sed 's/^/  /' >&2
      port_advice
      return 1
    fi
  done
  if in_ephemeral_range; then
    ferry_say "note: ports $PORT-$SASL_PORT lie in this system's ephemeral port range" \
      "($(ephemeral_range | tr ' ' '-')): an outgoing connection may take one of them."
  fi

  write_config
  LOG_MARK=0
  if [ -f "$LOG_FILE" ]; then LOG_MARK=$(wc -l <"$LOG_FILE"); fi
  local logprop="-Dlog4j.configuration=file:$LOG4J"
  local toolsprop="-Dlog4j.configuration=file:$DATA_DIR/log4j-tools.properties"
  if [ "$KAFKA4" = 1 ]; then
    logprop="-Dlog4j2.configurationFile=$DATA_DIR/log4j2.properties"
    toolsprop="-Dlog4j2.configurationFile=$DATA_DIR/log4j2-tools.properties"
  fi
  local formatted
  formatted=$(cat "$DATA_DIR/data/.ferry-kafka-version" 2>/dev/null || true)
  if [ -n "$formatted" ] && [ "$formatted" != "$FERRY_KAFKA_VERSION" ]; then
    ferry_say "error: $DATA_DIR/data holds Kafka $formatted's data, not Kafka" \
      "$FERRY_KAFKA_VERSION's: give Kafka $FERRY_KAFKA_VERSION another --port or --data-dir," \
      "or delete $DATA_DIR."
    return 1
  fi
  # The controller quorum is static (controller.quorum.voters), which 4.x formats as it is.
  if ! "$JAVA" -Xmx256m "$toolsprop" -cp "$FERRY_KAFKA_LIBS/*" kafka.tools.StorageTool format \
    -t "$CLUSTER_ID" -c "$PROPS" -g >"$DATA_DIR/format.out" 2>&1; then
    ferry_say "formatting the storage in $DATA_DIR/data failed:"
    cat "$DATA_DIR/format.out" >&2
    return 1
  fi
  printf '%s\n' "$FERRY_KAFKA_VERSION" >"$DATA_DIR/data/.ferry-kafka-version"

  local java_cmd=("$JAVA" -Xms256m -Xmx512m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true "-Dkafka.logs.dir=$DATA_DIR" "$logprop"
    -cp "$FERRY_KAFKA_LIBS/*" kafka.Kafka "$PROPS")
  # The child writes its own pid (exec keeps it), so the pid file is right even when setsid
  # has to fork. setsid/nohup: detached from this shell's session and terminal; fd 9 (our lock)
  # is closed so that the broker does not hold it.
  local detach=()
  if command -v setsid >/dev/null 2>&1; then detach=(setsid); else detach=(nohup); fi
  printf '=== %s start ===\n' "$(date '+%Y-%m-%d %H:%M:%S')" >"$OUT_FILE"
  # shellcheck disable=SC2016 # $$ and $@ are for the child shell
  "${detach[@]}" bash -c 'echo "$$" >"$0"; exec "$@"' "$PID_FILE" "${java_cmd[@]}" \
    </dev/null >>"$OUT_FILE" 2>&1 9>&- &
  local waited=0
  until [ -s "$PID_FILE" ] || [ "$waited" -ge 50 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  pid=$(tr -dc '0-9' <"$PID_FILE" 2>/dev/null || true)
  [ -n "$pid" ] || { ferry_say "the broker did not start (no pid file)."; show_failure_logs; return 1; }
  ferry_say "starting Kafka $FERRY_KAFKA_VERSION broker (pid $pid, data dir $DATA_DIR)"
  wait_ready "$pid" || return 1
  ferry_say "Kafka broker ready after $((SECONDS - t0))s"
  print_endpoints
}

cmd_stop() {
  local pid
  if ! pid=$(broker_pid); then
    rm -f "$PID_FILE"
    ferry_say "Kafka broker not running (data dir $DATA_DIR)"
    return 0
  fi
  ferry_say "stopping Kafka broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      ferry_say "still running after ${STOP_TIMEOUT}s; sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 0.5
  done
  rm -f "$PID_FILE"
  ferry_say "Kafka broker stopped"
}

cmd_status() {
  local pid
  if ! pid=$(broker_pid); then
    echo "not running (data dir $DATA_DIR)"
    return 3
  fi
  if ! answering; then
    echo "pid $pid is running but not answering on 127.0.0.1:$PORT"
    return 3
  fi
  local version # written at the format (not by brokers formatted before the option existed)
  version=$(cat "$DATA_DIR/data/.ferry-kafka-version" 2>/dev/null || true)
  echo "running${version:+ Kafka $version} (pid $pid, data dir $DATA_DIR)"
  if grep -q '^listeners=.*SASL_SSL' "$PROPS" 2>/dev/null; then TLS=1; fi
  print_endpoints
}

cmd_logs() {
  if [ ! -f "$LOG_FILE" ]; then
    ferry_say "no broker log yet at $LOG_FILE"
    return 0
  fi
  if [ "$FOLLOW" = 1 ]; then
    exec tail -n "$LINES" -F "$LOG_FILE"
  fi
  tail -n "$LINES" "$LOG_FILE"
}

# Serialise start/stop/restart on one data dir (flock is in util-linux; skipped without it).
case "$CMD" in
start | stop | restart)
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$DATA_DIR/broker.lock"
    flock -w 120 9 || ferry_die "another broker.sh holds $DATA_DIR/broker.lock"
  fi
  ;;
esac

case "$CMD" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
logs) cmd_logs ;;
restart)
  cmd_stop
  cmd_start
  ;;
esac
