#!/usr/bin/env bash
# Creates (once, then reuses) a Python virtual environment with OpenMSIStream installed, and
# prints the path of its python interpreter on stdout. Progress and errors go to stderr.
#
#   FERRY_CACHE      cache directory (default: $HOME/.cache/ferry)
#   FERRY_PYTHON     python interpreter used to create the venv (default: python3)
#
# Used by tests/interop/chunks_test.ts to compare Ferry's chunk codec with
# OpenMSIStream's own serializer. Idempotent and safe to run concurrently (flock).
set -euo pipefail

OPENMSISTREAM_VERSION="1.8.8"

cache="${FERRY_CACHE:-$HOME/.cache/ferry}"
venv="$cache/openmsistream-venv"
marker="$venv/.ferry-openmsistream-$OPENMSISTREAM_VERSION"
python="${FERRY_PYTHON:-python3}"

if [[ -f "$marker" && -x "$venv/bin/python" ]]; then
  echo "$venv/bin/python"
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/openmsistream-venv.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi

# Another process may have finished the install while this one waited for the lock.
if [[ -f "$marker" && -x "$venv/bin/python" ]]; then
  echo "$venv/bin/python"
  exit 0
fi

if ! command -v "$python" >/dev/null 2>&1; then
  echo "venv.sh: Python interpreter \"$python\" not found; install Python 3.9+ or set FERRY_PYTHON." >&2
  exit 1
fi

echo "venv.sh: creating $venv with openmsistream==$OPENMSISTREAM_VERSION (first run only)" >&2
rm -rf "$venv"
"$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "openmsistream==$OPENMSISTREAM_VERSION" >&2
# Import the modules the helper scripts use, so a broken install fails here and not later.
"$venv/bin/python" -c "import openmsistream.kafka_wrapper.serialization" >&2
touch "$marker"
echo "$venv/bin/python"
