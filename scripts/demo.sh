#!/usr/bin/env bash
# Run the poolscope agent beside a throw-away database tier.
#
#   scripts/demo.sh [--duration SECONDS]
#
# Installs missing packages, builds, starts PostgreSQL (pg_stat_statements),
# Redis, PgBouncer and Prometheus (scraping the agent and the workload, with
# the alert rules) in a temp folder, and runs the agent and the demo
# product-catalog workload until Ctrl-C (or for SECONDS). Now and then the
# workload leaks a lease, runs slow queries and exhausts its pool, and an
# outside session idles in a transaction. Everything is stopped and deleted
# on exit. Environment: BUILD_DIR, POOLSCOPE_SANITIZE, POOLSCOPE_SKIP_DEPS
# (as in scripts/test.sh); DEMO_WORKLOAD_ARGS: extra flags for
# poolscope-demo-workload (see its --help).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by common.sh
PS_TAG=demo.sh
# shellcheck source=lib/deps.sh
. "$HERE/lib/deps.sh"

usage() {
    sed -n '2,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
}

DURATION=''
while [ "$#" -gt 0 ]; do
    case $1 in
        --duration)
            [ "$#" -ge 2 ] || usage
            DURATION=$2
            shift 2
            ;;
        --duration=*)
            DURATION=${1#--duration=}
            shift
            ;;
        -h | --help) usage ;;
        *) usage ;;
    esac
done
if [ -n "$DURATION" ] && ! [[ $DURATION =~ ^[0-9]+$ ]]; then
    ps_die "--duration wants a whole number of seconds, got '$DURATION'"
fi

BUILD=$(ps_abs "${BUILD_DIR:-$PS_REPO_ROOT/build}")
cd "$PS_REPO_ROOT"

poolscope_install_deps
cmake_args=()
if [ -n "${POOLSCOPE_SANITIZE:-}" ]; then
    cmake_args+=("-DPOOLSCOPE_SANITIZE=$POOLSCOPE_SANITIZE")
fi
# The demo needs the agent and the workload only (the tests build with test.sh).
PS_BUILD_TARGETS="poolscope-agent poolscope-demo-workload" poolscope_build "$BUILD" "${cmake_args[@]}"

AGENT=$BUILD/agent/poolscope-agent
WORKLOAD=$BUILD/agent/poolscope-demo-workload
[ -x "$AGENT" ] || ps_die "$AGENT was not built"

TMP=''
AGENT_PID=''
WORKLOAD_PID=''
SLEEP_PID=''
IDLER_PID=''

# stop_pid PID NAME: SIGTERM, wait up to 10 s, then SIGKILL; reap it.
stop_pid() {
    local pid=$1 name=$2 rc=0
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! ps_wait_dead "$pid" 10; then
            ps_warn "$name did not stop after SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || rc=$?
    ps_log "$name exited with status $rc"
}

# shellcheck disable=SC2317 # invoked via trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [ -n "$SLEEP_PID" ]; then
        kill "$SLEEP_PID" 2>/dev/null
        wait "$SLEEP_PID" 2>/dev/null
    fi
    if [ -n "$IDLER_PID" ]; then
        kill "$IDLER_PID" 2>/dev/null
        wait "$IDLER_PID" 2>/dev/null
    fi
    stop_pid "$WORKLOAD_PID" poolscope-demo-workload
    stop_pid "$AGENT_PID" poolscope-agent
    if [ -n "$TMP" ] && [ -d "$TMP" ]; then
        ps_stop_fixtures_in "$TMP"
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo >&2; ps_log "interrupted, shutting down"; exit 0' INT
trap 'exit 143' TERM

TMP=$(mktemp -d /tmp/poolscope-demo.XXXXXX)
chmod 755 "$TMP"
FIXTURES=$PS_REPO_ROOT/scripts/fixtures
PG_PORT=$("$FIXTURES/pg.sh" start "$TMP/pg")
REDIS_PORT=$("$FIXTURES/redis.sh" start "$TMP/redis")
PGBOUNCER_PORT=$("$FIXTURES/pgbouncer.sh" start "$TMP/pgbouncer" "$PG_PORT")
PG_DSN="host=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres"
PGOPTIONS='-c client_min_messages=warning' psql "$PG_DSN" -qc \
    'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' >/dev/null
HTTP_PORT=$(ps_pick_port)
WORKLOAD_PORT=$(ps_pick_port)
CONFIG=$TMP/poolscope.yaml

# The off-CPU probe needs root (BPF) and BTF; without them it reports
# poolscope_probe_up 0 and the agent runs on.
OFFCPU=false
if [ "$(id -u)" = 0 ] && [ -r /sys/kernel/btf/vmlinux ]; then
    OFFCPU=true
fi

cat >"$CONFIG" <<EOF
http:
  listen: 127.0.0.1:$HTTP_PORT
  debug: true
log:
  level: info
  format: text
targets:
  postgres:
    - name: main
      dsn: "$PG_DSN"
      interval: 2s
      long_query_threshold: 1s
      canary: {query: "SELECT 1", interval: 2s}
      pool:
        max_size: 4
        min_idle: 2
        leak_threshold: 10s
        slow_query_threshold: 500ms
  redis:
    - name: cache
      address: 127.0.0.1:$REDIS_PORT
      interval: 2s
  pgbouncer:
    - name: bouncer
      dsn: "host=127.0.0.1 port=$PGBOUNCER_PORT dbname=pgbouncer user=postgres"
      interval: 2s
probes:
  offcpu:
    enabled: $OFFCPU
    targets:
      - {process: postgres}
      - {process: poolscope-demo-workload, name: demo-workload}
      - {process: poolscope-agent}
    stacks: {enabled: true}
caches:
  - name: products
    redis: cache
    ttl: 5m
    l1_ttl: 20s
    negative_ttl: 30s
    l1: {max_entries: 2000, max_bytes: 4MiB}
EOF

BASE=http://127.0.0.1:$HTTP_PORT
ps_log "starting $AGENT --config $CONFIG"
"$AGENT" --config "$CONFIG" &
AGENT_PID=$!

# Wait up to 30 s for /healthz.
for ((i = 0; ; i++)); do
    if curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$AGENT_PID" 2>/dev/null; then
        ps_die "poolscope-agent exited during startup"
    fi
    if ((i >= 300)); then
        ps_die "poolscope-agent did not answer $BASE/healthz within 30 s"
    fi
    sleep 0.1
done

# The demo workload: a product-catalog service on the poolscope pool and cache.
[ -x "$WORKLOAD" ] || ps_die "$WORKLOAD was not built"
read -r -a workload_args <<<"${DEMO_WORKLOAD_ARGS:-}"
ps_log "starting $WORKLOAD --config $CONFIG --listen 127.0.0.1:$WORKLOAD_PORT ${workload_args[*]}"
"$WORKLOAD" --config "$CONFIG" --listen "127.0.0.1:$WORKLOAD_PORT" "${workload_args[@]}" &
WORKLOAD_PID=$!

# Prometheus scrapes the agent and the workload, with the alert rules.
mkdir -p "$TMP/prometheus/rules"
for rules in "$PS_REPO_ROOT"/dashboards/alerts/*.yml; do
    case $rules in *_test.yml | *test*.yml) continue ;; esac
    [ -f "$rules" ] && cp "$rules" "$TMP/prometheus/rules/"
done
PROM_PORT=$("$FIXTURES/prometheus.sh" start "$TMP/prometheus" "127.0.0.1:$HTTP_PORT" \
    "127.0.0.1:$WORKLOAD_PORT")

# An outside batch job that opens a transaction and then sits idle in it
# (the server-side sign of a leak), for 20 s of every 45 s.
(
    while true; do
        {
            echo 'BEGIN;'
            echo 'SELECT count(*) FROM pg_class;'
            sleep 20
            echo 'COMMIT;'
        } | PGAPPNAME=demo-batch-job psql "$PG_DSN" -q >/dev/null 2>&1 || true
        sleep 25
    done
) &
IDLER_PID=$!

# Give the collectors a couple of intervals to publish something.
sample=''
for ((i = 0; i < 50; i++)); do
    sample=$(curl -s "$BASE/metrics" 2>/dev/null |
        grep -E '^(poolscope_|process_)' | grep -vE '_bucket\{' | head -n 40 || true)
    case $sample in *poolscope_pg_up*) break ;; esac
    sleep 0.2
done

cat <<EOF

poolscope demo is running
  metrics:    $BASE/metrics
  health:     $BASE/healthz   ready: $BASE/readyz   pools: $BASE/health/db
  pool debug: $BASE/debug/pool
  off-CPU:    $BASE/debug/offcpu?seconds=5   (folded stacks; probe on: $OFFCPU)
  Prometheus: http://127.0.0.1:$PROM_PORT  (alerts: http://127.0.0.1:$PROM_PORT/alerts)
  workload:   http://127.0.0.1:$WORKLOAD_PORT/metrics  (the demo catalog service: its pool
              "catalog" and cache "products"; it leaks, runs slow queries and exhausts
              its pool every few seconds)
  workload pool debug: http://127.0.0.1:$WORKLOAD_PORT/debug/pool
  config:     $CONFIG
  PostgreSQL: $PG_DSN
  PgBouncer:  host=127.0.0.1 port=$PGBOUNCER_PORT dbname=postgres user=postgres
  Redis:      127.0.0.1:$REDIS_PORT

The workload logs a summary line every 5 s (pool, acquire p99, cache hit
ratio, slow queries, leaks).

sample of $BASE/metrics (histogram buckets left out):
${sample:-  (no poolscope_ series yet)}

EOF

if [ -n "$DURATION" ]; then
    ps_log "running for $DURATION s (Ctrl-C to stop earlier)"
    sleep "$DURATION" &
    SLEEP_PID=$!
    wait -n "$AGENT_PID" "$SLEEP_PID" || true
else
    ps_log "press Ctrl-C to stop"
    wait "$AGENT_PID" || true
fi

if ! kill -0 "$AGENT_PID" 2>/dev/null; then
    rc=0
    wait "$AGENT_PID" 2>/dev/null || rc=$?
    AGENT_PID=''
    ps_die "poolscope-agent exited on its own with status $rc"
fi
ps_log "duration over, shutting down"
