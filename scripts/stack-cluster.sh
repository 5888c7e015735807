# The cluster profile of the local stack (STACK_PROFILE=cluster): the engines as teams run them.
# Sourced by scripts/stack.sh, whose helpers and PostgreSQL it uses; not run on its own.
#
#   - Temporal server 1.32.2 built from its Go module (go install, cached in
#     .stack/temporal-cluster/<version>), PostgreSQL persistence and SQL visibility in databases
#     of its own on the stack's PostgreSQL, frontend, history, matching and the internal worker as
#     four processes, 4 history shards; namespaces and search attributes as the default profile's;
#   - the Temporal UI of the default profile's CLI, pointed at this cluster's frontend;
#   - three Kafka brokers (KRaft, each a controller too), topics replicated 3 times with
#     min.insync.replicas=2.
#
# Its own ports and folders (.stack/cluster/), so it runs beside the default profile:
#   temporal-frontend 7333 (HTTP 7344), temporal-history 7334, temporal-matching 7335,
#   temporal-worker 7339 (membership 6333-6339, metrics 8333-8339), temporal-ui http://127.0.0.1:8433;
#   kafka-1..3 19092-19094 (controllers 19191-19193).
#
#   STACK_PROFILE=cluster scripts/stack.sh start|stop|restart [service ...]
#   STACK_PROFILE=cluster scripts/stack.sh kill SERVICE      # SIGKILL, for the fault suite
#   STACK_PROFILE=cluster scripts/stack.sh status | env | build | temporal-path

TC_VERSION="1.32.2"
TC_GO_TOOLCHAIN="go1.27.3"
# The UI server the CLI's dev server embeds, of the release built on the server's API module
# (go.temporal.io/api v1.63.5; later ones need API versions the Go proxy here does not serve).
TC_UI_VERSION="2.56.4"
TC_HOME="$STACK/temporal-cluster/$TC_VERSION"
TC_BIN="$TC_HOME/bin"
TC_SCHEMA="$TC_HOME/schema"
C_SRC="$REPO/stack/cluster"
C_DIR="$STACK/cluster"
TC_DIR="$C_DIR/temporal"
TC_DATABASE=temporal_cluster
TC_VISIBILITY_DATABASE=temporal_cluster_visibility
TC_HISTORY_SHARDS=4
TC_FRONTEND_PORT=7333
TC_UI_PORT=8433
KC_BROKERS=(1 2 3)
KC_DEFAULT_LIBS="$K_LIBS"

# Start order: history and matching first (the frontend routes to them), the internal worker last.
CLUSTER_SERVICES=(postgres temporal-history temporal-matching temporal-frontend temporal-worker temporal-ui kafka-1 kafka-2 kafka-3)

# service -> gRPC (or HTTP, or Kafka) port
declare -A C_PORTS=(
  [temporal-frontend]=7333 [temporal-history]=7334 [temporal-matching]=7335 [temporal-worker]=7339
  [temporal-ui]=$TC_UI_PORT [kafka-1]=19092 [kafka-2]=19093 [kafka-3]=19094
)
declare -A C_METRICS_PORTS=([temporal-frontend]=8333 [temporal-history]=8334 [temporal-matching]=8335 [temporal-worker]=8339)
kafka_controller_port() { echo $((19190 + $1)); }

cluster_env() {
  printf 'TEMPORAL_ADDRESS=127.0.0.1:%s\n' "$TC_FRONTEND_PORT"
  printf 'KAFKA_BROKERS=127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094\n'
  printf 'TEMPORAL_UI_URL=http://127.0.0.1:%s\n' "$TC_UI_PORT"
}

# ==============================================================================
# Temporal server: the build (once per version)
# ==============================================================================
tc_installed() { [[ -f "$TC_HOME/.installed" ]]; }

# go install of the server, its SQL tool and the UI server (~12 min on 2 cores when Go's build
# cache is empty), and the schema files the tool applies, copied from the module: a cache of the
# module directory may be cleaned later. One build per version: .stack/temporal-cluster/<version>.
tc_build() {
  mkdir -p "$STACK/temporal-cluster"
  exec 8>"$STACK/temporal-cluster/.build.lock"
  command -v flock >/dev/null 2>&1 && { flock -w 3600 8 || die "temporal-cluster: another build still running"; }
  if tc_installed; then exec 8>&-; return 0; fi
  command -v go >/dev/null 2>&1 || apt_install golang-go
  local build="$TC_HOME.build" logfile="$STACK/temporal-cluster/build.log" module
  rm -rf "$build" && mkdir -p "$build/bin"
  log "temporal-cluster: go install go.temporal.io/server@v$TC_VERSION (~12 min on 2 cores; log: $logfile)"
  {
    GOTOOLCHAIN="$TC_GO_TOOLCHAIN" GOBIN="$build/bin" nice -n 10 go install "go.temporal.io/server/cmd/server@v$TC_VERSION" &&
      GOTOOLCHAIN="$TC_GO_TOOLCHAIN" GOBIN="$build/bin" nice -n 10 go install "go.temporal.io/server/cmd/tools/sql@v$TC_VERSION" &&
      mv "$build/bin/server" "$build/bin/temporal-server" &&
      GOTOOLCHAIN="$TC_GO_TOOLCHAIN" GOBIN="$build/bin" nice -n 10 go install "github.com/temporalio/ui-server/v2/cmd/server@v$TC_UI_VERSION" &&
      mv "$build/bin/server" "$build/bin/temporal-ui-server"
  } >"$logfile" 2>&1 || fail_with_log temporal-cluster "$logfile" "go install failed"
  module="$(GOTOOLCHAIN="$TC_GO_TOOLCHAIN" go env GOMODCACHE)/go.temporal.io/server@v$TC_VERSION"
  mv "$build/bin/sql" "$build/bin/temporal-sql-tool"
  cp -r "$module/schema/postgresql/v12" "$build/schema"
  chmod -R u+w "$build/schema"
  touch "$build/.installed"
  rm -rf "$TC_HOME" && mv "$build" "$TC_HOME"
  exec 8>&-
  log "temporal-cluster: built into $TC_HOME"
}

# ==============================================================================
# Temporal server: databases, config, processes
# ==============================================================================
tc_sql_tool() { "$TC_BIN/temporal-sql-tool" --plugin postgres12 --ep 127.0.0.1 -p "$PG_PORT" -u postgres "$@"; }

# Its two databases on the stack's PostgreSQL, the schema set up once and brought to this
# version's (update-schema applies only what is missing).
tc_schema() {
  local db dir
  for db in "$TC_DATABASE" "$TC_VISIBILITY_DATABASE"; do
    dir="$TC_SCHEMA/temporal/versioned"
    [[ "$db" == "$TC_VISIBILITY_DATABASE" ]] && dir="$TC_SCHEMA/visibility/versioned"
    if [[ "$(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAXqc \
      "select 1 from pg_database where datname = '$db'")" != 1 ]]; then
      createdb -h 127.0.0.1 -p "$PG_PORT" -U postgres "$db"
      tc_sql_tool --db "$db" setup-schema -v 0.0 >>"$TC_DIR/schema.log" 2>&1 ||
        fail_with_log temporal-cluster "$TC_DIR/schema.log" "setup-schema $db failed"
      log "temporal-cluster: created database $db"
    fi
    tc_sql_tool --db "$db" update-schema -d "$dir" >>"$TC_DIR/schema.log" 2>&1 ||
      fail_with_log temporal-cluster "$TC_DIR/schema.log" "update-schema $db failed"
  done
}

tc_write_config() {
  local service="$1" role="${1#temporal-}"
  sed -e "s|@HISTORY_SHARDS@|$TC_HISTORY_SHARDS|" -e "s|@DATABASE@|$TC_DATABASE|" \
    -e "s|@VISIBILITY_DATABASE@|$TC_VISIBILITY_DATABASE|" -e "s|@PG_PORT@|$PG_PORT|g" \
    -e "s|@METRICS_PORT@|${C_METRICS_PORTS[$service]}|" -e "s|@DYNAMIC_CONFIG@|$TC_DIR/dynamicconfig.yaml|" \
    "$C_SRC/temporal.yaml" >"$TC_DIR/$role.yaml.tmp"
  mv -f "$TC_DIR/$role.yaml.tmp" "$TC_DIR/$role.yaml"
}

tc_pid() { read_pidfile "$TC_DIR/${1#temporal-}.pid" "start --service ${1#temporal-}"; }

tc_launch() {
  local service="$1" role="${1#temporal-}" pid
  pid="$(tc_pid "$service")"
  if [[ -n "$pid" ]]; then log "$service: already running (pid $pid), reusing it"; return 0; fi
  ensure_port_free "$service" "${C_PORTS[$service]}"
  tc_write_config "$service"
  rotate_log "$TC_DIR/$role.log"
  log "$service: starting on 127.0.0.1:${C_PORTS[$service]}"
  launch_detached "$TC_DIR/$role.pid" "$TC_DIR/$role.log" "$TC_BIN/temporal-server" \
    --config-file "$TC_DIR/$role.yaml" --allow-no-auth start --service "$role"
}

tc_healthy() {
  "$TEMPORAL_BIN" operator cluster health --address "127.0.0.1:$TC_FRONTEND_PORT" --command-timeout 3s 2>/dev/null |
    grep -q SERVING
}

tc_wait() {
  local service="$1" role="${1#temporal-}" deadline=$((SECONDS + WAIT_SECONDS))
  until port_open "${C_PORTS[$service]}" && { [[ "$role" != frontend ]] || tc_healthy; }; do
    [[ -n "$(tc_pid "$service")" ]] || fail_with_log "$service" "$TC_DIR/$role.log" "process exited while starting"
    ((SECONDS < deadline)) || fail_with_log "$service" "$TC_DIR/$role.log" "not serving after ${WAIT_SECONDS}s"
    sleep 0.3
  done
  [[ "$role" == frontend ]] && temporal_register "127.0.0.1:$TC_FRONTEND_PORT" "$TC_DIR/frontend.log"
  log "$service: ready  127.0.0.1:${C_PORTS[$service]}"
}

tc_prepare() {
  tc_build
  temporal_install
  mkdir -p "$TC_DIR"
  cp "$C_SRC/dynamicconfig.yaml" "$TC_DIR/dynamicconfig.yaml"
  tc_schema
}

# The UI: the server the CLI's dev server embeds, built on its own (the dev server's UI always
# serves the dev server), pointed at the cluster's frontend.
ui_pid() { read_pidfile "$TC_DIR/ui.pid" "temporal-ui-server"; }

ui_launch() {
  local pid
  pid="$(ui_pid)"
  if [[ -n "$pid" ]]; then log "temporal-ui: already running (pid $pid), reusing it"; return 0; fi
  ensure_port_free temporal-ui "$TC_UI_PORT"
  mkdir -p "$TC_DIR/ui/config"
  cat >"$TC_DIR/ui/config/cluster.yaml" <<UI
temporalGrpcAddress: 127.0.0.1:$TC_FRONTEND_PORT
host: 127.0.0.1
port: $TC_UI_PORT
enableUi: true
defaultNamespace: default
disableNewsFetch: true
refreshInterval: 1m
cors:
  cookieInsecure: true
  allowOrigins: []
UI
  rotate_log "$TC_DIR/ui.log"
  log "temporal-ui: starting on http://127.0.0.1:$TC_UI_PORT (frontend 127.0.0.1:$TC_FRONTEND_PORT)"
  launch_detached "$TC_DIR/ui.pid" "$TC_DIR/ui.log" "$TC_BIN/temporal-ui-server" --root "$TC_DIR/ui" --env cluster start
}

ui_wait() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  until port_open "$TC_UI_PORT"; do
    [[ -n "$(ui_pid)" ]] || fail_with_log temporal-ui "$TC_DIR/ui.log" "process exited while starting"
    ((SECONDS < deadline)) || fail_with_log temporal-ui "$TC_DIR/ui.log" "not listening after ${WAIT_SECONDS}s"
    sleep 0.2
  done
  log "temporal-ui: ready  http://127.0.0.1:$TC_UI_PORT"
}

# ==============================================================================
# Kafka: three brokers
# ==============================================================================
kc_dir() { echo "$C_DIR/kafka-$1"; }
kc_pid() { read_pidfile "$(kc_dir "$1")/kafka.pid" "$(kc_dir "$1")/server.properties"; }

kc_write_props() {
  local id="$1" dir
  dir="$(kc_dir "$id")"
  mkdir -p "$dir/data"
  sed -e "s|@NODE_ID@|$id|" -e "s|@PORT@|${C_PORTS[kafka-$id]}|" \
    -e "s|@CONTROLLER_PORT@|$(kafka_controller_port "$id")|" -e "s|@LOG_DIR@|$dir/data|" \
    "$C_SRC/kafka.properties" | properties_escape >"$dir/server.properties.tmp"
  mv -f "$dir/server.properties.tmp" "$dir/server.properties"
}

# All three formatted with one cluster id, made once.
kc_format() {
  local id="$1" dir cluster_id
  dir="$(kc_dir "$id")"
  [[ -f "$dir/data/meta.properties" ]] && return 0
  if [[ ! -s "$C_DIR/kafka-cluster.id" ]]; then
    kafka_java kafka.tools.StorageTool random-uuid 2>"$C_DIR/kafka-format.log" | tail -n 1 >"$C_DIR/kafka-cluster.id"
    [[ -s "$C_DIR/kafka-cluster.id" ]] || fail_with_log kafka-cluster "$C_DIR/kafka-format.log" "random-uuid failed"
  fi
  cluster_id="$(cat "$C_DIR/kafka-cluster.id")"
  log "kafka-$id: formatting $dir/data (cluster id $cluster_id)"
  kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" >>"$dir/format.log" 2>&1 ||
    fail_with_log "kafka-$id" "$dir/format.log" "StorageTool format failed"
}

kc_launch() {
  local id="$1" dir pid
  dir="$(kc_dir "$id")"
  kafka_install
  kc_write_props "$id"
  pid="$(kc_pid "$id")"
  if [[ -n "$pid" ]]; then log "kafka-$id: already running (pid $pid), reusing it"; return 0; fi
  ensure_port_free "kafka-$id" "${C_PORTS[kafka-$id]}"
  ensure_port_free "kafka-$id" "$(kafka_controller_port "$id")"
  kc_format "$id"
  rotate_log "$dir/kafka.log"
  log "kafka-$id: starting broker on 127.0.0.1:${C_PORTS[kafka-$id]}"
  LC_ALL=C.UTF-8 launch_detached "$dir/kafka.pid" "$dir/kafka.log" java -Xms128m -Xmx384m -XX:+UseG1GC \
    -Djava.awt.headless=true -cp "$KC_DEFAULT_LIBS/*" kafka.Kafka "$dir/server.properties"
}

kc_answers() { KAFKA_PORT="${C_PORTS[kafka-$1]}" kafka_answers; }

kc_wait() {
  local id="$1" dir deadline=$((SECONDS + WAIT_SECONDS))
  dir="$(kc_dir "$id")"
  until grep -q 'Kafka Server started' "$dir/kafka.log" 2>/dev/null && kc_answers "$id"; do
    [[ -n "$(kc_pid "$id")" ]] || fail_with_log "kafka-$id" "$dir/kafka.log" "broker process exited while starting"
    ((SECONDS < deadline)) || fail_with_log "kafka-$id" "$dir/kafka.log" "not answering after ${WAIT_SECONDS}s"
    sleep 0.3
  done
  log "kafka-$id: ready  127.0.0.1:${C_PORTS[kafka-$id]}"
}

# ==============================================================================
# commands
# ==============================================================================
cluster_services_from_args() {
  local s
  if (($# == 0)); then echo "${CLUSTER_SERVICES[@]}"; return; fi
  for s in "$@"; do
    [[ " ${CLUSTER_SERVICES[*]} " == *" $s "* ]] || die "unknown service '$s' (expected: ${CLUSTER_SERVICES[*]})"
  done
  for s in "${CLUSTER_SERVICES[@]}"; do [[ " $* " == *" $s "* ]] && printf '%s ' "$s"; done
  echo
}

cluster_pid() {
  case "$1" in
    postgres) pg_pid ;;
    temporal-ui) ui_pid ;;
    temporal-*) tc_pid "$1" ;;
    kafka-*) kc_pid "${1#kafka-}" ;;
  esac
}

cluster_pidfile() {
  case "$1" in
    temporal-*) echo "$TC_DIR/${1#temporal-}.pid" ;;
    kafka-*) echo "$(kc_dir "${1#kafka-}")/kafka.pid" ;;
  esac
}

cluster_log() {
  case "$1" in
    postgres) echo "$PG_LOG" ;;
    temporal-*) echo "$TC_DIR/${1#temporal-}.log" ;;
    kafka-*) echo "$(kc_dir "${1#kafka-}")/kafka.log" ;;
  esac
}

cluster_start() {
  local services s start=$SECONDS temporal=0
  read -ra services <<<"$(cluster_services_from_args "$@")"
  for s in "${services[@]}"; do [[ "$s" == temporal-* ]] && temporal=1; done
  # PostgreSQL first: Temporal's schema is set up before its services start.
  if [[ " ${services[*]} " == *" postgres "* || $temporal == 1 ]]; then pg_launch; pg_wait; fi
  ((temporal)) && tc_prepare
  for s in "${services[@]}"; do
    case "$s" in temporal-ui) ui_launch ;; temporal-*) tc_launch "$s" ;; kafka-*) kc_launch "${s#kafka-}" ;; esac
  done
  for s in "${services[@]}"; do
    case "$s" in temporal-ui) ui_wait ;; temporal-*) tc_wait "$s" ;; kafka-*) kc_wait "${s#kafka-}" ;; esac
  done
  log "started (cluster profile): ${services[*]} ($((SECONDS - start))s)"
}

# stop_cluster: stops the cluster's own services; PostgreSQL is shared with the default profile
# and stops only when named.
cluster_stop() {
  local services i s
  if (($# == 0)); then read -ra services <<<"${CLUSTER_SERVICES[*]:1}"; else read -ra services <<<"$(cluster_services_from_args "$@")"; fi
  for ((i = ${#services[@]} - 1; i >= 0; i--)); do
    s="${services[$i]}"
    case "$s" in
      postgres) pg_stop ;;
      temporal-ui) stop_daemon "$s" "$TC_DIR/ui.pid" "$(ui_pid)" ;;
      *) stop_daemon "$s" "$(cluster_pidfile "$s")" "$(cluster_pid "$s")" ;;
    esac
  done
}

# SIGKILL, as a crash: the fault suite's way to kill a Temporal service or a broker.
cluster_kill() {
  local s pid
  for s in $(cluster_services_from_args "$@"); do
    [[ "$s" == postgres ]] && die "kill: PostgreSQL is shared with the default profile"
    pid="$(cluster_pid "$s")"
    [[ -n "$pid" ]] || { log "$s: not running"; continue; }
    log "$s: SIGKILL (pid $pid)"
    kill -KILL "$pid"
    while [[ -d "/proc/$pid" ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do sleep 0.05; done
  done
}

cluster_status() {
  local s pid state
  for s in "${CLUSTER_SERVICES[@]}"; do
    if [[ "$s" == postgres ]]; then pg_status; continue; fi
    pid="$(cluster_pid "$s")" state=stopped
    if [[ -n "$pid" ]]; then
      state=unhealthy
      case "$s" in
        kafka-*) kc_answers "${s#kafka-}" && state=running ;;
        temporal-frontend) tc_healthy && state=running ;;
        *) port_open "${C_PORTS[$s]}" && state=running ;;
      esac
    fi
    printf '%-18s %-9s port=%-5s pid=%-7s log=%s\n' "$s" "$state" "${C_PORTS[$s]}" "${pid:--}" "$(cluster_log "$s")"
  done
}

cluster_main() {
  local cmd="${1:-}"
  (($#)) && shift
  pg_resolve_dir
  mkdir -p "$C_DIR"
  case "$cmd" in
    start)   cluster_lock; cluster_start "$@" ;;
    stop)    cluster_lock; cluster_stop "$@" ;;
    restart) cluster_lock; cluster_stop "$@"; cluster_start "$@" ;;
    kill)    (($#)) || die "kill needs a service"; cluster_kill "$@" ;;
    status)  (($# == 0)) || die "status takes no arguments"; cluster_status ;;
    env)     cluster_env ;;
    build)   tc_build ;;
    temporal-path) take_lock; temporal_install; echo "$TEMPORAL_BIN" ;;
    *) echo "usage: STACK_PROFILE=cluster scripts/stack.sh start|stop|restart|kill [service ...] | status | env | build | temporal-path" >&2
       echo "services: ${CLUSTER_SERVICES[*]}" >&2; exit 2 ;;
  esac
}

# The profile's own lock: its start (a first build takes minutes) never holds up the default profile's.
cluster_lock() {
  exec 9>"$C_DIR/.lock"
  command -v flock >/dev/null 2>&1 || return 0
  flock -w 900 9 || die "another scripts/stack.sh (cluster profile) is still running (lock $C_DIR/.lock)"
}
