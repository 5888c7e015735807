#!/usr/bin/env bash
# Installs the Python example consumer's dependencies (examples/python-consumer/requirements.txt:
# confluent-kafka, jsonschema, PyYAML, pinned, from PyPI) into their own venv under .stack/, and
# prints the path of its python. Installs again only when the requirements changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REQUIREMENTS="$PWD/examples/python-consumer/requirements.txt"
DIR="$PWD/.stack/python-consumer"
PYTHON="$DIR/venv/bin/python"
STAMP="$DIR/installed-requirements.txt"

install_requirements() {
  [[ -x "$DIR/venv/bin/pip" ]] || python3 -m venv "$DIR/venv"
  "$DIR/venv/bin/pip" install --disable-pip-version-check -q -r "$REQUIREMENTS"
  "$PYTHON" -c 'import confluent_kafka, jsonschema, rfc3339_validator, yaml'
  cp "$REQUIREMENTS" "$STAMP"
}

mkdir -p "$DIR"
# Concurrent test runs share the venv: the second waits for the first's install.
exec 9>"$DIR/.lock"
command -v flock >/dev/null 2>&1 && flock -w 300 9
if [[ ! -x "$PYTHON" ]] || ! cmp -s "$REQUIREMENTS" "$STAMP"; then
  echo "[python-consumer] pip install -r examples/python-consumer/requirements.txt into $DIR/venv" >&2
  if ! install_requirements >"$DIR/pip.log" 2>&1; then
    echo "[python-consumer] ERROR: the install failed (log: $DIR/pip.log)" >&2
    tail -n 30 "$DIR/pip.log" >&2
    exit 1
  fi
fi
echo "$PYTHON"
