#!/usr/bin/env bash
# End-to-end: the demo (scripts/demo.sh: throw-away PostgreSQL, Redis,
# PgBouncer, the agent, the demo workload and a real Prometheus scraping both
# every second with dashboards/alerts loaded) runs with incidents long enough
# for the `for:` durations of the rules; then
#   - PoolExhausted and ConnectionLeakSuspected reach `firing`,
#   - every scrape target is up,
#   - every panel query of every dashboard returns at least one series
#     (the off-CPU dashboard is SKIPPED with the reason when the probe is not up),
#   - `promtool check metrics` finds nothing in the agent's /metrics.
# About 2.5 minutes.
#
#   e2e_test.sh BUILD_DIR
set -euo pipefail

BUILD=$(cd "${1:?usage: e2e_test.sh BUILD_DIR}" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CHECK=$ROOT/tests/e2e/check_prometheus.py

for tool in psql redis-server pgbouncer prometheus promtool curl python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIPPED: $tool is not installed (scripts/test.sh installs it)"
        exit 0
    fi
done
if [ ! -x /usr/lib/postgresql/15/bin/pg_ctl ] && [ -z "${POOLSCOPE_PG_BINDIR:-}" ]; then
    echo "SKIPPED: PostgreSQL 15 server binaries are not installed"
    exit 0
fi

LOG=$(mktemp /tmp/poolscope-e2e.XXXXXX)
DEMO_PID=''
# shellcheck disable=SC2317 # invoked via trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [ -n "$DEMO_PID" ] && kill -0 "$DEMO_PID" 2>/dev/null; then
        # SIGTERM: demo.sh stops the workload, the agent and every fixture.
        kill -TERM "$DEMO_PID"
        for ((i = 0; i < 300; i++)); do
            kill -0 "$DEMO_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$DEMO_PID" 2>/dev/null
        wait "$DEMO_PID" 2>/dev/null
    fi
    if [ "$rc" -ne 0 ]; then
        echo "---- last lines of the demo's output ----"
        tail -n 60 "$LOG"
    fi
    rm -f "$LOG"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Incidents: one starts every 5 s in turn (slow query, leak, burst); leaks and
# bursts last 170 s, so from ~15 s on the pool stays exhausted past
# PoolExhausted's 2m and leaked past ConnectionLeakSuspected's 1m.
export DEMO_WORKLOAD_ARGS="--incident-every 5s --leak-hold 170s --burst-hold 170s --leak-threshold 2s"
start=$SECONDS
BUILD_DIR=$BUILD POOLSCOPE_SKIP_DEPS=1 PS_BUILD_TARGETS="poolscope-agent poolscope-demo-workload" \
    "$ROOT/scripts/demo.sh" --duration 400 >"$LOG" 2>&1 &
DEMO_PID=$!

# The demo prints its URLs once everything is up.
AGENT_URL='' PROM_URL=''
for ((i = 0; i < 1200; i++)); do
    AGENT_URL=$(sed -nE 's#^ *metrics: +(http://[0-9.:]+)/metrics.*#\1#p' "$LOG" | head -n 1)
    PROM_URL=$(sed -nE 's#^ *Prometheus: +(http://[0-9.:]+).*#\1#p' "$LOG" | head -n 1)
    [ -n "$AGENT_URL" ] && [ -n "$PROM_URL" ] && break
    kill -0 "$DEMO_PID" 2>/dev/null || break
    sleep 0.25
done
if [ -z "$AGENT_URL" ] || [ -z "$PROM_URL" ]; then
    echo "FAIL: scripts/demo.sh did not print the agent and Prometheus URLs within 300 s"
    exit 1
fi
echo "demo up after $((SECONDS - start)) s: agent $AGENT_URL, Prometheus $PROM_URL"

WORKLOAD_URL=$(sed -nE 's#^ *workload: +(http://[0-9.:]+)/metrics.*#\1#p' "$LOG" | head -n 1)
PG_DSN=$(sed -nE 's#^ *PostgreSQL: +(host=.*)$#\1#p' "$LOG" | head -n 1)

fail=0
# The demo has no failing queries of its own: a DBA terminating the workload's
# busy backends gives the errors-by-SQLSTATE panel something to show.
if [ -n "$WORKLOAD_URL" ] && [ -n "$PG_DSN" ]; then
    for ((i = 0; i < 30; i++)); do
        psql "$PG_DSN" -Atqc "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE application_name = 'demo-catalog' AND state = 'active'" >/dev/null 2>&1 || true
        sleep 1
        if curl -fsS "$WORKLOAD_URL/metrics" 2>/dev/null | grep -q '^poolscope_query_errors_total{'; then
            echo "ok: terminated backends show as query errors after $((i + 1)) round(s)"
            break
        fi
    done
else
    echo "FAIL: the demo did not print the workload URL and the PostgreSQL DSN"
    fail=1
fi
python3 "$CHECK" "$ROOT" "$PROM_URL" wait-alerts 240 ConnectionLeakSuspected PoolExhausted ||
    fail=1
echo "alerts checked after $((SECONDS - start)) s"

python3 "$CHECK" "$ROOT" "$PROM_URL" targets || fail=1

skip=()
probe_up=$(curl -fsS "$AGENT_URL/metrics" | awk '/^poolscope_probe_up\{/ { print $2; exit }')
if [ "$probe_up" != 1 ]; then
    reason="the off-CPU probe is not attached (poolscope_probe_up=${probe_up:-absent}; needs root and BTF)"
    why=$(grep -m1 -iE 'off-?cpu.*(probe|bpf)' "$LOG" | grep -iE 'warn|fail|cannot|not' || true)
    [ -z "$why" ] || reason="$reason: $why"
    skip=(--skip-board "offcpu.json:$reason")
fi
python3 "$CHECK" "$ROOT" "$PROM_URL" panels "${skip[@]}" || fail=1

findings=$(curl -fsS "$AGENT_URL/metrics" | promtool check metrics 2>&1) || true
if [ -n "$findings" ]; then
    echo "FAIL: promtool check metrics on the agent's /metrics:"
    printf '%s\n' "$findings"
    fail=1
else
    echo "ok: promtool check metrics finds nothing in the agent's /metrics"
fi

echo "e2e_test: $((SECONDS - start)) s"
[ "$fail" -eq 0 ] || exit 1
echo "e2e_test: all checks passed"
