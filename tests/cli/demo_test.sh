#!/usr/bin/env bash
# The README's demo command runs for 60 s on its own throw-away servers and
# exits 0, with every piece up and every incident seen at least once.
#
#   demo_test.sh BUILD_DIR
set -euo pipefail
BUILD=$1
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
for tool in psql pg_ctl redis-server pgbouncer prometheus curl; do
    if ! command -v "$tool" >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/"$tool" >/dev/null 2>&1; then
        echo "SKIPPED: $tool is not installed (scripts/test.sh installs it)"
        exit 0
    fi
done
log=$(mktemp /tmp/poolscope-demo-test.XXXXXX)
trap 'rm -f "$log"' EXIT
rc=0
BUILD_DIR=$BUILD POOLSCOPE_SKIP_DEPS=1 timeout 240 "$REPO/scripts/demo.sh" --duration 60 >"$log" 2>&1 || rc=$?
fail=0
check() {
    if grep -qE "$1" "$log"; then
        echo "ok: $2"
    else
        echo "FAIL: $2 (no line matching '$1')"
        fail=1
    fi
}
[ "$rc" -eq 0 ] && echo "ok: demo.sh exited 0" || {
    echo "FAIL: demo.sh exited $rc"
    fail=1
}
check 'poolscope demo is running' 'the demo printed its URLs'
check 'pg target main: up' 'the PostgreSQL sampler is up'
check 'redis target cache: up' 'the Redis sampler is up'
check 'pgbouncer target bouncer: up' 'the PgBouncer sampler is up'
check 'starting prometheus' 'Prometheus started'
check 'slow query still running' 'the slow-query timer fired mid-query'
check 'suspected connection leak' 'a leak was detected'
check 'exhausts the pool' 'the pool was exhausted'
check 'poolscope-agent exited with status 0' 'the agent stopped cleanly'
check 'poolscope-demo-workload exited with status 0' 'the workload stopped cleanly'
summaries=$(grep -c 'demo: pool active' "$log" || true)
if [ "$summaries" -ge 8 ]; then
    echo "ok: $summaries summary lines"
else
    echo "FAIL: $summaries summary lines (want at least 8 in 60 s)"
    fail=1
fi
if [ "$fail" -ne 0 ]; then
    echo "---- demo output (last 80 lines) ----"
    tail -n 80 "$log"
fi
exit "$fail"
