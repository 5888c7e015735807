#!/usr/bin/env bash
# npm start: installs what is missing, starts the local stack, migrates the database, builds
# both processes (scripts/build.ts), then runs the API and the worker in the foreground
# with readable logs. Ctrl-C stops the app; the stack keeps running (scripts/stack.sh stop ends it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-deps.sh
bash scripts/stack.sh start
# STACK_PROFILE=cluster: the API and the worker use the cluster's Temporal frontend and Kafka brokers (scripts/stack-cluster.sh).
if [[ "${STACK_PROFILE:-default}" == cluster ]]; then
  while IFS= read -r setting; do export "${setting?}"; done < <(bash scripts/stack.sh env)
fi
node --import tsx src/db/migrate.ts
# Both run compiled, the worker's workflows prebuilt: they start sooner and use less memory.
node --import tsx scripts/build.ts >/dev/null

# Dev tokens when API_KEYS is unset: made once, kept in the git-ignored stack folder, printed
# only when made (they are secrets, however local).
if [[ -z "${API_KEYS:-}" ]]; then
  keys=.stack/dev-api-keys.json
  if [[ ! -f "$keys" ]]; then
    checkout="dev-checkout-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    ops="dev-ops-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    printf '{"%s":["orders:create","orders:read"],"%s":["orders:read","orders:manage"]}\n' "$checkout" "$ops" > "$keys"
    chmod 600 "$keys"
    echo "[start] API_KEYS was unset: generated dev tokens (kept in $keys)"
    echo "[start]   checkout token (orders:create, orders:read): $checkout"
    echo "[start]   ops token      (orders:read, orders:manage):  $ops"
  else
    echo "[start] API_KEYS unset: using the dev tokens in $keys"
  fi
  API_KEYS="$(cat "$keys")"
  export API_KEYS
fi
exec node --import tsx scripts/run-app.ts
