#!/usr/bin/env bash
# Installs Schemathesis (PyPI) into its own venv under .stack/, as scripts/stack.sh does for the
# Temporal CLI, and prints the path of its CLI. A second run only checks the version.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SCHEMATHESIS_VERSION="4.32.5"
DIR="$PWD/.stack/schemathesis"
VENV="$DIR/venv"
CLI="$VENV/bin/schemathesis"
LOG="$DIR/pip.log"

installed() { [[ -x "$CLI" ]] && "$CLI" --version 2>/dev/null | grep -qx "schemathesis, version $SCHEMATHESIS_VERSION"; }

fail() {
  printf '[schemathesis] ERROR: %s (log: %s)\n' "$1" "$LOG" >&2
  tail -n 30 "$LOG" >&2 || true
  exit 1
}

mkdir -p "$DIR"
# One install at a time: concurrent test runs share the venv.
exec 9>"$DIR/.lock"
if command -v flock >/dev/null 2>&1; then flock -w 300 9 || fail "another install is still running ($DIR/.lock)"; fi
if ! installed; then
  echo "[schemathesis] pip install schemathesis==$SCHEMATHESIS_VERSION into $VENV" >&2
  command -v python3 >/dev/null 2>&1 || fail "python3 not found"
  if [[ ! -x "$VENV/bin/pip" ]]; then
    python3 -m venv "$VENV" >"$LOG" 2>&1 || fail "python3 -m venv failed"
  fi
  "$VENV/bin/pip" install --disable-pip-version-check -q "schemathesis==$SCHEMATHESIS_VERSION" >>"$LOG" 2>&1 ||
    fail "pip install schemathesis==$SCHEMATHESIS_VERSION failed"
  installed || fail "$CLI is not version $SCHEMATHESIS_VERSION: $("$CLI" --version 2>&1 | head -n 1)"
fi
echo "$CLI"
