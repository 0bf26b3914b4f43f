# shellcheck shell=bash
# Shared helpers for Ferry's scripts. Source it, do not run it:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   ferry_ensure_deno; ferry_ensure_librdkafka; ferry_ensure_kafka_jars
#
# Every ensure function is idempotent and silent when there is nothing to do. Messages go to
# stderr, prefixed "ferry:". Nothing here prompts: it is run by CI with no stdin and no TTY.
#
# Environment:
#   FERRY_CACHE          where downloads are kept (default: $HOME/.cache/ferry)
#   FERRY_RDKAFKA_PATH   a librdkafka shared library to use instead of the system one
#   FERRY_NO_INSTALL=1   never install system packages; fail with the command to run instead

# Pinned versions. The Kafka versions must match scripts/kafka/pom.xml.
FERRY_DENO_VERSION=2.9.6
# The Kafka versions the dev broker runs: the default (3.9.1, the last 3.x) and the newest 4.x.
FERRY_KAFKA_DEFAULT_VERSION=3.9.1
FERRY_KAFKA_NEW_VERSION=4.4.0
# The one to use: FERRY_KAFKA_VERSION from the environment (or broker.sh --kafka-version).
FERRY_KAFKA_VERSION=${FERRY_KAFKA_VERSION:-$FERRY_KAFKA_DEFAULT_VERSION}

# The dev broker's default client port (the KRaft controller listens on +1, SASL on +2). Below
# Linux's ephemeral port range (32768-60999 by default), from which outgoing connections take
# their local ports: a port in that range can be held by any connection, and the broker then
# fails to start with "Address already in use".
FERRY_KAFKA_DEFAULT_PORT=19092

FERRY_CACHE=${FERRY_CACHE:-$HOME/.cache/ferry}
FERRY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FERRY_KAFKA_LIBS=$FERRY_CACHE/kafka-$FERRY_KAFKA_VERSION/libs

# ferry_select_kafka_version V: makes V (3.9.1 or $FERRY_KAFKA_NEW_VERSION; "3" and "4" name
# them too) the Kafka version of this shell (FERRY_KAFKA_VERSION, exported, and
# FERRY_KAFKA_LIBS). Fails (status 2) with a message for any other version.
ferry_select_kafka_version() {
  local v=$1
  case "$v" in
  3 | 3.9 | "$FERRY_KAFKA_DEFAULT_VERSION") v=$FERRY_KAFKA_DEFAULT_VERSION ;;
  4 | "${FERRY_KAFKA_NEW_VERSION%.*}" | "$FERRY_KAFKA_NEW_VERSION") v=$FERRY_KAFKA_NEW_VERSION ;;
  *)
    ferry_say "error: unsupported Kafka version '$v': the dev broker runs" \
      "$FERRY_KAFKA_DEFAULT_VERSION or $FERRY_KAFKA_NEW_VERSION (--kafka-version or FERRY_KAFKA_VERSION)."
    return 2
    ;;
  esac
  export FERRY_KAFKA_VERSION=$v
  FERRY_KAFKA_LIBS=$FERRY_CACHE/kafka-$v/libs
}

ferry_say() {
  printf 'ferry: %s\n' "$*" >&2
}

ferry_die() {
  ferry_say "error: $*"
  exit 1
}

# --- system packages ------------------------------------------------------------------------

_ferry_apt_updated=0

# Runs a command as root: directly when we are root, through sudo when it is available
# (non-interactively when there is no terminal), else fails.
_ferry_as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    if [ -t 0 ]; then sudo "$@"; else sudo -n "$@"; fi
  else
    return 1
  fi
}

# ferry_apt_install PKG... : installs Debian/Ubuntu packages, running `apt-get update` once per
# shell first. Returns 1 (with the exact command to run by hand) when that is not possible.
ferry_apt_install() {
  local cmd="apt-get install -y --no-install-recommends $*"
  if [ "${FERRY_NO_INSTALL:-0}" = 1 ]; then
    ferry_say "missing: $*; FERRY_NO_INSTALL=1, so not installing. Run: sudo apt-get update && sudo $cmd"
    return 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    ferry_say "missing: $*; apt-get is not available on this system."
    return 1
  fi
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    ferry_say "missing: $*; not root and no sudo. Run as root: apt-get update && $cmd"
    return 1
  fi
  ferry_say "installing $* (apt-get)"
  if [ "$_ferry_apt_updated" = 0 ]; then
    if ! _ferry_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2; then
      ferry_say "apt-get update failed. Run: sudo apt-get update && sudo $cmd"
      return 1
    fi
    _ferry_apt_updated=1
  fi
  if ! _ferry_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "$@" >&2; then
    ferry_say "apt-get install failed. Run: sudo apt-get update && sudo $cmd"
    return 1
  fi
}

# --- Deno -----------------------------------------------------------------------------------

# Succeeds when `deno` on PATH is Deno 2.x.
_ferry_deno_on_path_ok() {
  command -v deno >/dev/null 2>&1 || return 1
  local v
  v=$(deno --version 2>/dev/null | head -n 1) || return 1
  case "$v" in
  "deno 2."*) return 0 ;;
  *) return 1 ;;
  esac
}

# ferry_ensure_deno: makes `deno` (2.x) available on PATH in the calling shell. Uses the one on
# PATH when it is 2.x; otherwise installs Deno $FERRY_DENO_VERSION from npm (the `deno` package
# and its per-platform binary package) into $FERRY_CACHE/deno-<version> and prepends its bin
# directory to PATH.
ferry_ensure_deno() {
  if _ferry_deno_on_path_ok; then
    return 0
  fi
  local dir=$FERRY_CACHE/deno-$FERRY_DENO_VERSION
  local bin=$dir/bin
  if [ ! -x "$bin/deno" ] || ! "$bin/deno" --version >/dev/null 2>&1; then
    if ! command -v npm >/dev/null 2>&1; then
      ferry_die "Deno 2.x is not on PATH and npm is not available to install it." \
        "Install Node.js/npm (Debian: apt-get install npm), or Deno itself (https://deno.com)."
    fi
    ferry_say "installing Deno $FERRY_DENO_VERSION from npm into $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    # --ignore-scripts: the package's postinstall only checks for the binary, which npm has
    # already unpacked from the matching optional dependency (@deno/<platform>).
    if ! npm install --prefix "$dir" --ignore-scripts --no-audit --no-fund --no-save \
      --loglevel=error "deno@$FERRY_DENO_VERSION" >/dev/null; then
      ferry_die "npm install deno@$FERRY_DENO_VERSION failed (see above)."
    fi
    local exe=""
    local cand
    for cand in "$dir"/node_modules/@deno/*/deno; do
      if [ -x "$cand" ]; then
        exe=$cand
        break
      fi
    done
    [ -n "$exe" ] || ferry_die "npm installed deno@$FERRY_DENO_VERSION but no binary for" \
      "this platform ($(uname -sm)) was found under $dir/node_modules/@deno/."
    mkdir -p "$bin"
    ln -sf "$exe" "$bin/deno"
    "$bin/deno" --version >/dev/null 2>&1 || ferry_die "$bin/deno does not run."
    ferry_say "Deno $FERRY_DENO_VERSION installed; to use it in your shell: export PATH=\"$bin:\$PATH\""
  fi
  case ":$PATH:" in
  *":$bin:"*) ;;
  *) PATH=$bin:$PATH ;;
  esac
  export PATH
}

# --- librdkafka and kcat --------------------------------------------------------------------

# Succeeds when the dynamic loader can find librdkafka.so.1 (or FERRY_RDKAFKA_PATH is a file).
_ferry_have_librdkafka() {
  if [ -n "${FERRY_RDKAFKA_PATH:-}" ] && [ -f "$FERRY_RDKAFKA_PATH" ]; then
    return 0
  fi
  local ldconfig
  ldconfig=$(command -v ldconfig 2>/dev/null || true)
  [ -n "$ldconfig" ] || [ ! -x /sbin/ldconfig ] || ldconfig=/sbin/ldconfig
  if [ -n "$ldconfig" ]; then
    # No `grep -q`: it may exit early and fail the pipe under `set -o pipefail`.
    "$ldconfig" -p 2>/dev/null | grep 'librdkafka\.so\.1' >/dev/null
    return
  fi
  # macOS (Homebrew) and other systems without ldconfig.
  local d
  for d in /opt/homebrew/lib /usr/local/lib /usr/lib /usr/lib64; do
    if [ -e "$d/librdkafka.dylib" ] || [ -e "$d/librdkafka.so.1" ]; then
      return 0
    fi
  done
  return 1
}

_ferry_librdkafka_help() {
  ferry_say "Install them by hand:"
  ferry_say "  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y librdkafka1 kcat"
  ferry_say "  macOS:         brew install librdkafka kcat"
  ferry_say "  Or point FERRY_RDKAFKA_PATH at a librdkafka shared library (librdkafka.so.1)."
}

# ferry_ensure_librdkafka: librdkafka (loaded by Ferry through Deno FFI) and kcat (used by the
# dev broker's readiness check and the benchmarks). Installs Debian's librdkafka1 and kcat with
# apt-get when missing.
ferry_ensure_librdkafka() {
  local missing=()
  _ferry_have_librdkafka || missing+=(librdkafka1)
  command -v kcat >/dev/null 2>&1 || missing+=(kcat)
  [ "${#missing[@]}" -eq 0 ] && return 0
  if ! ferry_apt_install "${missing[@]}"; then
    ferry_say "librdkafka and kcat are required (missing: ${missing[*]})."
    _ferry_librdkafka_help
    exit 1
  fi
  if ! _ferry_have_librdkafka || ! command -v kcat >/dev/null 2>&1; then
    ferry_say "installed ${missing[*]}, but librdkafka.so.1 or kcat is still not found."
    _ferry_librdkafka_help
    exit 1
  fi
}

# Succeeds when librdkafka's header is where src/kafka/structs_test.ts looks for it.
_ferry_have_rdkafka_header() {
  local d
  for d in "${FERRY_RDKAFKA_INCLUDE:-}" /usr/include /usr/local/include /opt/homebrew/include; do
    if [ -n "$d" ] && [ -f "$d/librdkafka/rdkafka.h" ]; then
      return 0
    fi
  done
  return 1
}

# ferry_ensure_rdkafka_header: librdkafka's header (Debian's librdkafka-dev) and a C compiler,
# which src/kafka/structs_test.ts uses to check the struct offsets in src/kafka/structs.ts
# against rdkafka.h. Installs them with apt-get when missing; when that is not possible it only
# warns: that one test then fails, saying what is missing, and the others still run.
ferry_ensure_rdkafka_header() {
  local missing=()
  _ferry_have_rdkafka_header || missing+=(librdkafka-dev)
  command -v "${CC:-cc}" >/dev/null 2>&1 || missing+=(gcc libc6-dev)
  [ "${#missing[@]}" -eq 0 ] && return 0
  if ! ferry_apt_install "${missing[@]}"; then
    ferry_say "missing ${missing[*]}: src/kafka/structs_test.ts will fail (see above)."
  fi
  return 0
}

# --- the newest librdkafka, built from source -------------------------------------------------

# The newest librdkafka Ferry is tested with, next to the system one (Debian 12's 2.0.2). Its
# source comes from the npm tarball of @confluentinc/kafka-javascript, which carries it in
# deps/librdkafka (npm is reachable where GitHub release tarballs may not be).
FERRY_RDKAFKA_NEW_VERSION=2.15.1
FERRY_RDKAFKA_NEW_NPM=@confluentinc/kafka-javascript@1.10.1
FERRY_RDKAFKA_NEW_DIR=$FERRY_CACHE/librdkafka-$FERRY_RDKAFKA_NEW_VERSION
# The shared library to point FERRY_RDKAFKA_PATH at, and its header (FERRY_RDKAFKA_INCLUDE).
FERRY_RDKAFKA_NEW_LIB=$FERRY_RDKAFKA_NEW_DIR/lib/librdkafka.so.1
FERRY_RDKAFKA_NEW_INCLUDE=$FERRY_RDKAFKA_NEW_DIR/include

# ferry_ensure_new_librdkafka: builds librdkafka $FERRY_RDKAFKA_NEW_VERSION once into
# $FERRY_RDKAFKA_NEW_DIR (`./configure && make libs`, a few minutes on 2 cores), installing the
# Debian -dev packages it needs (OpenSSL, zlib, zstd) when missing. The library is
# $FERRY_RDKAFKA_NEW_LIB; select it with FERRY_RDKAFKA_PATH. A marker file is written only after
# a complete build, so an interrupted build is redone on the next run.
ferry_ensure_new_librdkafka() {
  local dir=$FERRY_RDKAFKA_NEW_DIR
  if [ -f "$dir/.ferry-complete" ] && [ -f "$FERRY_RDKAFKA_NEW_LIB" ]; then
    return 0
  fi
  local missing=() pkg
  for pkg in libssl-dev zlib1g-dev libzstd-dev make gcc libc6-dev pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ] && command -v dpkg >/dev/null 2>&1; then
    ferry_apt_install "${missing[@]}" ||
      ferry_die "the packages librdkafka $FERRY_RDKAFKA_NEW_VERSION builds with are missing (see above)."
  fi
  command -v npm >/dev/null 2>&1 ||
    ferry_die "npm is needed to fetch librdkafka's source ($FERRY_RDKAFKA_NEW_NPM). Debian: apt-get install npm"
  local tmp=$dir.partial.$$
  rm -rf "$tmp"
  mkdir -p "$tmp"
  ferry_say "building librdkafka $FERRY_RDKAFKA_NEW_VERSION from $FERRY_RDKAFKA_NEW_NPM into $dir (first run only, a few minutes)"
  local tarball
  if ! tarball=$(cd "$tmp" && npm pack --silent "$FERRY_RDKAFKA_NEW_NPM" 2>"$tmp.log"); then
    cat "$tmp.log" >&2
    rm -rf "$tmp" "$tmp.log"
    ferry_die "npm pack $FERRY_RDKAFKA_NEW_NPM failed (see above). Is the npm registry reachable?"
  fi
  tar -xzf "$tmp/$tarball" -C "$tmp" package/deps/librdkafka
  local src=$tmp/package/deps/librdkafka
  local found
  found=$(sed -n 's/^#define RD_KAFKA_VERSION *0x\([0-9a-f]\{2\}\)\([0-9a-f]\{2\}\)\([0-9a-f]\{2\}\).*/\1 \2 \3/p' \
    "$src/src/rdkafka.h" | { read -r a b c && printf '%d.%d.%d' "0x$a" "0x$b" "0x$c"; })
  if [ "$found" != "$FERRY_RDKAFKA_NEW_VERSION" ]; then
    rm -rf "$tmp" "$tmp.log"
    ferry_die "$FERRY_RDKAFKA_NEW_NPM carries librdkafka '$found', not $FERRY_RDKAFKA_NEW_VERSION." \
      "Update FERRY_RDKAFKA_NEW_VERSION in scripts/lib.sh."
  fi
  # No curl (OAUTHBEARER OIDC) and no GSSAPI: Ferry uses neither, and they need more packages.
  if ! (cd "$src" && ./configure --disable-curl --disable-gssapi >"$tmp.log" 2>&1 &&
    make -j"$(nproc 2>/dev/null || echo 2)" libs >>"$tmp.log" 2>&1); then
    tail -n 40 "$tmp.log" >&2
    rm -rf "$tmp" "$tmp.log"
    ferry_die "building librdkafka $FERRY_RDKAFKA_NEW_VERSION failed (see above)."
  fi
  rm -f "$tmp.log"
  # Only the library and its header are kept (the build tree is ~200 MB).
  mkdir -p "$tmp/out/lib" "$tmp/out/include/librdkafka"
  cp "$src/src/librdkafka.so.1" "$tmp/out/lib/"
  cp "$src/src/rdkafka.h" "$tmp/out/include/librdkafka/"
  printf 'librdkafka %s\n' "$FERRY_RDKAFKA_NEW_VERSION" >"$tmp/out/.ferry-complete"
  if [ -f "$dir/.ferry-complete" ]; then
    rm -rf "$tmp" # another run finished first; keep its copy
  else
    rm -rf "$dir"
    mv "$tmp/out" "$dir"
    rm -rf "$tmp"
  fi
  ferry_say "librdkafka $FERRY_RDKAFKA_NEW_VERSION ready: FERRY_RDKAFKA_PATH=$FERRY_RDKAFKA_NEW_LIB"
}

# --- Kafka broker jars ----------------------------------------------------------------------

# ferry_ensure_java: java (17+) and, with "mvn" as argument, Maven.
ferry_ensure_java() {
  local pkgs=()
  command -v java >/dev/null 2>&1 || pkgs+=(openjdk-17-jre-headless)
  if [ "${1:-}" = mvn ]; then
    command -v mvn >/dev/null 2>&1 || pkgs+=(maven)
  fi
  [ "${#pkgs[@]}" -eq 0 ] && return 0
  if ! ferry_apt_install "${pkgs[@]}"; then
    ferry_die "Java 17+ and Maven are needed for the dev Kafka broker." \
      "Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless maven;" \
      "macOS: brew install openjdk@17 maven"
  fi
}

# ferry_ensure_kafka_jars: Apache Kafka $FERRY_KAFKA_VERSION's jars from Maven Central in
# $FERRY_KAFKA_LIBS, resolved by Maven from scripts/kafka/pom.xml. A marker file is written
# only after a complete download, so an interrupted download is redone on the next run.
ferry_ensure_kafka_jars() {
  local marker=$FERRY_KAFKA_LIBS/.ferry-complete
  if [ -f "$marker" ]; then
    return 0
  fi
  ferry_ensure_java mvn
  local pom=$FERRY_ROOT/scripts/kafka/pom.xml
  [ -f "$pom" ] || ferry_die "missing $pom"
  local tmp=$FERRY_KAFKA_LIBS.partial.$$
  ferry_say "downloading Kafka $FERRY_KAFKA_VERSION jars from Maven Central (~60 MB, first run only)"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  # Kafka 4.x needs another logging backend: the pom's kafka4 profile.
  local profile=()
  case "$FERRY_KAFKA_VERSION" in
  3.*) ;;
  *) profile=(-P kafka4) ;;
  esac
  # Output kept aside: Maven 3.8 in batch mode prints stray colour codes even with -q.
  if ! mvn -B -q -f "$pom" "${profile[@]}" -Dkafka.version="$FERRY_KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$tmp" >"$tmp.log" 2>&1; then
    sed 's/\x1b\[[0-9;]*m//g' "$tmp.log" >&2
    rm -rf "$tmp" "$tmp.log"
    ferry_die "mvn could not download the Kafka jars (see above). Is Maven Central reachable?"
  fi
  rm -f "$tmp.log"
  if ! ls "$tmp"/kafka_2.13-"$FERRY_KAFKA_VERSION".jar >/dev/null 2>&1; then
    rm -rf "$tmp"
    ferry_die "mvn finished but kafka_2.13-$FERRY_KAFKA_VERSION.jar is missing."
  fi
  printf 'kafka %s\n' "$FERRY_KAFKA_VERSION" >"$tmp/.ferry-complete"
  if [ -f "$marker" ]; then
    # Another run finished first; keep its copy.
    rm -rf "$tmp"
  else
    rm -rf "$FERRY_KAFKA_LIBS"
    mv "$tmp" "$FERRY_KAFKA_LIBS"
  fi
  ferry_say "Kafka jars ready in $FERRY_KAFKA_LIBS"
}

# ferry_ensure_dev_tools: everything the dev broker and the tests need, installed when missing
# (Deno, librdkafka and kcat, the Kafka jars).
ferry_ensure_dev_tools() {
  ferry_ensure_deno
  ferry_ensure_librdkafka
  ferry_ensure_kafka_jars
}

# --- the dev broker, for scripts that need one ------------------------------------------------

# Whether ferry_broker_up started the broker (so ferry_broker_down stops it again).
_ferry_started_broker=0

# ferry_broker [ARGS...]: runs scripts/kafka/broker.sh (its port from FERRY_KAFKA_PORT).
ferry_broker() {
  bash "$FERRY_ROOT/scripts/kafka/broker.sh" "$@"
}

# ferry_broker_up: makes sure a Kafka broker answers on 127.0.0.1:$FERRY_KAFKA_PORT (default
# $FERRY_KAFKA_DEFAULT_PORT), exporting FERRY_KAFKA_PORT. Uses one that is already running there, from this checkout
# or started some other way (another checkout, another data dir: used and left alone); otherwise
# starts the dev broker, which ferry_broker_down then stops again.
ferry_broker_up() {
  export FERRY_KAFKA_PORT=${FERRY_KAFKA_PORT:-$FERRY_KAFKA_DEFAULT_PORT}
  local bootstrap=127.0.0.1:$FERRY_KAFKA_PORT
  if ferry_broker status >/dev/null 2>&1; then
    ferry_say "using the Kafka broker already running on $bootstrap"
  elif kcat -b "$bootstrap" -L -m 5 >/dev/null 2>&1; then
    ferry_say "using the Kafka broker answering on $bootstrap (not started from this checkout)"
  else
    _ferry_started_broker=1
    ferry_broker start >&2
  fi
}

# ferry_broker_down: stops the broker if ferry_broker_up started it (for an EXIT trap); never
# fails.
ferry_broker_down() {
  if [ "$_ferry_started_broker" = 1 ]; then
    _ferry_started_broker=0
    ferry_broker stop || true
  fi
}
