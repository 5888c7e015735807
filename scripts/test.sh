#!/usr/bin/env bash
# npm test: installs what is missing, starts the local stack, runs the whole suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-deps.sh
bash scripts/stack.sh start
# Types and lint first: seconds, and a clearer failure than a test would give.
npx tsc --noEmit
npx biome check .
export TEMPORAL_CLI_PATH="$(bash scripts/stack.sh temporal-path)"
exec npx vitest run "$@"
