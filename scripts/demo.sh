#!/usr/bin/env bash
# Run the poolscope agent against a throw-away PostgreSQL and Redis.
#
#   scripts/demo.sh [--duration SECONDS]
#
# Installs missing packages, builds, starts the fixtures in a temp folder,
# writes an agent config there and runs build/agent/poolscope-agent until
# Ctrl-C (or for SECONDS). Everything is stopped and deleted on exit.
# Environment: BUILD_DIR, POOLSCOPE_SANITIZE, POOLSCOPE_SKIP_DEPS (as in
# scripts/test.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by common.sh
PS_TAG=demo.sh
# shellcheck source=lib/deps.sh
. "$HERE/lib/deps.sh"

usage() {
    sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
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
poolscope_build "$BUILD" "${cmake_args[@]}"

AGENT=$BUILD/agent/poolscope-agent
WORKLOAD=$BUILD/agent/poolscope-demo-workload
[ -x "$AGENT" ] || ps_die "$AGENT was not built"

TMP=''
AGENT_PID=''
WORKLOAD_PID=''
SLEEP_PID=''

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
HTTP_PORT=$(ps_pick_port)
CONFIG=$TMP/poolscope.yaml

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
      dsn: "host=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres"
      interval: 2s
      pool:
        max_size: 4
        min_idle: 2
        leak_threshold: 10s
        slow_query_threshold: 500ms
  redis:
    - name: cache
      address: 127.0.0.1:$REDIS_PORT
      interval: 2s
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

# The demo workload (a product-catalog service on the poolscope pool and
# cache) joins when it is built.
WORKLOAD_PORT=$(ps_pick_port)
if [ -x "$WORKLOAD" ]; then
    ps_log "starting $WORKLOAD --config $CONFIG --listen 127.0.0.1:$WORKLOAD_PORT"
    "$WORKLOAD" --config "$CONFIG" --listen "127.0.0.1:$WORKLOAD_PORT" &
    WORKLOAD_PID=$!
fi

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
  health:     $BASE/healthz
  pool debug: $BASE/debug/pool
  workload:   http://127.0.0.1:$WORKLOAD_PORT/metrics  (the demo catalog service: its pool
              "catalog" and cache "products"; it leaks, runs slow queries and exhausts
              its pool every few seconds)
  workload pool debug: http://127.0.0.1:$WORKLOAD_PORT/debug/pool
  config:     $CONFIG
  PostgreSQL: host=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres
  Redis:      127.0.0.1:$REDIS_PORT

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
