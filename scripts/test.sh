#!/usr/bin/env bash
# npm test: installs what is missing, starts the local stack, runs the whole suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Plain text when the output is a log, not a terminal (Vitest colours it whenever CI is set).
[[ -t 1 ]] || export NO_COLOR=1
bash scripts/ensure-deps.sh
# Schemathesis, for test/integration/openapi-fuzz.test.ts (scripts/fuzz-api.sh checks it again).
bash scripts/ensure-schemathesis.sh >/dev/null
# The browser tests drive Debian's Chromium (playwright-core never downloads a browser).
if [[ ! -x /usr/bin/chromium ]]; then
  if [[ $EUID -ne 0 ]]; then
    echo "[test] the browser tests need Debian's chromium: as root, apt-get install chromium" >&2
    exit 1
  fi
  echo "[test] installing Debian's chromium for the browser tests" >&2
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
bash scripts/stack.sh start
# STACK_PROFILE=cluster: the tests find the cluster's Temporal frontend, UI and Kafka brokers
# (scripts/stack-cluster.sh). Beside it the default profile runs too, for the one test of what
# only it serves: Temporal behind nginx's TLS and Kafka's SASL_SSL listener (production-connections).
if [[ "${STACK_PROFILE:-default}" == cluster ]]; then
  while IFS= read -r setting; do export "${setting?}"; done < <(bash scripts/stack.sh env)
  [[ " $* " == *" --project faults "* ]] || STACK_PROFILE=default bash scripts/stack.sh start
fi
# Types and lint first: seconds, and a clearer failure than a test would give.
npx tsc --noEmit
npx biome check .
export TEMPORAL_CLI_PATH="$(bash scripts/stack.sh temporal-path)"
# Worker processes started by tests load one prebuilt workflow bundle instead of each running webpack.
WORKFLOW_BUNDLE_PATH="$(node --import tsx scripts/build-workflows.ts dist/test-workflow-bundle.js)"
export WORKFLOW_BUNDLE_PATH
exec npx vitest run "$@"
