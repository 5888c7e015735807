#!/usr/bin/env bash
# npm start: installs what is missing, starts the local stack, migrates the database, then
# runs the API and the worker in the foreground with readable logs. Ctrl-C stops the app;
# the stack keeps running (scripts/stack.sh stop ends it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-deps.sh
bash scripts/stack.sh start
node --import tsx src/db/migrate.ts
exec node --import tsx scripts/run-app.ts
