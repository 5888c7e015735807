#!/usr/bin/env bash
# Property-based fuzz of the API against its own OpenAPI document (Schemathesis 4, pinned in
# scripts/ensure-schemathesis.sh), bounded in time. Fails on any 5xx and on any answer its document
# does not allow.
#
#   scripts/fuzz-api.sh API_URL TOKEN      (TOKEN: a bearer token with every scope)
#
# test/integration/openapi-fuzz.test.ts runs it against the integration suite's API. By hand,
# against `npm start`: scripts/fuzz-api.sh http://127.0.0.1:3000 "$TOKEN", with a token that has
# every scope in API_KEYS (it creates, completes and cancels orders there).
#
# Environment:
#   FUZZ_SECONDS        time budget: the fuzzing and stateful phases repeat until it is spent (default 90)
#   FUZZ_MAX_EXAMPLES   test cases per operation in each round (default 100)
#   FUZZ_SEED           replay a run: the seed its summary printed (default: a new one)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
(($# == 2)) || { echo "usage: scripts/fuzz-api.sh API_URL TOKEN" >&2; exit 2; }
API_URL="${1%/}"
TOKEN="$2"
SECONDS_BUDGET="${FUZZ_SECONDS:-90}"
CLI="$(bash scripts/ensure-schemathesis.sh)"
# Schemathesis keeps its example database and caches in its working directory: under .stack/.
WORK_DIR="$PWD/.stack/schemathesis/work"
mkdir -p "$WORK_DIR"

# The fuzz learns order ids from GET /orders and then cancels, completes and resumes them: every
# listing asks for a customer of this run only, so it never touches the orders of other tests (nor
# waits on those whose workflows no worker serves). Its POST /orders all name one new cart of that
# customer, so the document's example creates this run's order, whatever earlier runs did.
CUSTOMER_ID="$(cat /proc/sys/kernel/random/uuid)"
CART_ID="$(cat /proc/sys/kernel/random/uuid)"
CONFIG="$WORK_DIR/schemathesis-$$.toml"
trap 'rm -f "$CONFIG"' EXIT
cat >"$CONFIG" <<EOF
[parameters]
"query.customerId" = "$CUSTOMER_ID"
"body.customerId" = "$CUSTOMER_ID"
"body.cartId" = "$CART_ID"
EOF

checks=(
  not_a_server_error
  status_code_conformance
  content_type_conformance
  response_headers_conformance
  response_schema_conformance
  # A method a path does not list answers 405 with an Allow header naming those it does.
  unsupported_method
  allow_header_conformance
  # An operation that declares bearer security refuses a request without a valid token.
  ignored_auth
)
args=(
  --config-file "$CONFIG"
  run "$API_URL/docs/json"
  --header "Authorization: Bearer $TOKEN"
  --checks "$(IFS=,; echo "${checks[*]}")"
  --max-time "$SECONDS_BUDGET"
  --max-examples "${FUZZ_MAX_EXAMPLES:-100}"
  # One: with two, runs on Python 3.11 failed in Hypothesis itself ("SystemError: AST constructor
  # recursion depth mismatch", two threads parsing at once), not in the API.
  --workers 1
  # Above TRANSITION_WAIT_MS (10 s in the tests), after which a transition answers 202.
  --request-timeout 15
  --no-color
)
[[ -n "${FUZZ_SEED:-}" ]] && args+=(--seed "$FUZZ_SEED")

cd "$WORK_DIR"
echo "[fuzz] $API_URL for ${SECONDS_BUDGET}s, orders of customer $CUSTOMER_ID" >&2
# A cap on the wall clock beyond the budget, should the run hang: SIGINT first, so Schemathesis
# prints what it found so far; exit 124.
timeout --signal=INT --kill-after=15 "$((SECONDS_BUDGET + 60))" "$CLI" "${args[@]}"
