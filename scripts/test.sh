#!/usr/bin/env bash
# Build poolscope and run its test suite against throw-away servers.
#
#   scripts/test.sh [ctest args...]       e.g. scripts/test.sh -L unit
#
# Steps: install missing Debian packages, build (Ninja, RelWithDebInfo),
# start a PostgreSQL 15 and a Redis fixture in a temp folder, run ctest,
# stop every fixture and delete the temp folder (also on failure/Ctrl-C).
#
# Environment:
#   BUILD_DIR            build folder (default: <repo>/build)
#   POOLSCOPE_SANITIZE   passed to CMake as -DPOOLSCOPE_SANITIZE=<value>
#   POOLSCOPE_SKIP_DEPS  1 = do not check/install system packages
#   POOLSCOPE_KEEP_TMP   1 = keep the temp folder (servers are still stopped)
#
# Exported to the tests:
#   POOLSCOPE_TEST_PG_DSN  libpq DSN of the shared PostgreSQL fixture
#   POOLSCOPE_TEST_REDIS   host:port of the shared Redis fixture
#   POOLSCOPE_TEST_TMP     temp folder; tests may create fixtures below it
#   POOLSCOPE_FIXTURES     absolute path of scripts/fixtures
#   POOLSCOPE_BUILD        absolute build folder
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by common.sh
PS_TAG=test.sh
# shellcheck source=lib/deps.sh
. "$HERE/lib/deps.sh"

BUILD=$(ps_abs "${BUILD_DIR:-$PS_REPO_ROOT/build}")
cd "$PS_REPO_ROOT"

poolscope_install_deps

cmake_args=()
if [ -n "${POOLSCOPE_SANITIZE:-}" ]; then
    cmake_args+=("-DPOOLSCOPE_SANITIZE=$POOLSCOPE_SANITIZE")
fi
poolscope_build "$BUILD" "${cmake_args[@]}"

TMP=''
# shellcheck disable=SC2317 # invoked via trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [ -n "$TMP" ] && [ -d "$TMP" ]; then
        ps_stop_fixtures_in "$TMP"
        if [ "${POOLSCOPE_KEEP_TMP:-0}" = 1 ]; then
            ps_log "kept $TMP"
        else
            rm -rf "$TMP"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TMP=$(mktemp -d /tmp/poolscope-test.XXXXXX)
# The unprivileged PostgreSQL user must be able to reach fixtures below it.
chmod 755 "$TMP"

FIXTURES=$PS_REPO_ROOT/scripts/fixtures
"$FIXTURES/pg.sh" start "$TMP/pg" >/dev/null
"$FIXTURES/redis.sh" start "$TMP/redis" >/dev/null

POOLSCOPE_TEST_PG_DSN=$("$FIXTURES/pg.sh" dsn "$TMP/pg")
POOLSCOPE_TEST_REDIS=$("$FIXTURES/redis.sh" addr "$TMP/redis")
POOLSCOPE_TEST_TMP=$TMP
POOLSCOPE_FIXTURES=$FIXTURES
POOLSCOPE_BUILD=$BUILD
export POOLSCOPE_TEST_PG_DSN POOLSCOPE_TEST_REDIS POOLSCOPE_TEST_TMP \
    POOLSCOPE_FIXTURES POOLSCOPE_BUILD
ps_log "PostgreSQL: $POOLSCOPE_TEST_PG_DSN"
ps_log "Redis: $POOLSCOPE_TEST_REDIS"

# The concurrent cores (pool and cache) once more under ThreadSanitizer,
# before the full suite so that ctest's own summary stays the last line.
# POOLSCOPE_TSAN=0 skips it; a sanitizer build of everything skips it too.
tsan_rc=0
if [ "${POOLSCOPE_TSAN:-1}" = 1 ] && [ -z "${POOLSCOPE_SANITIZE:-}" ] && [ $# -eq 0 ]; then
    TSAN_BUILD=$BUILD-tsan
    ps_log "ThreadSanitizer pass: pool and cache stress tests ($TSAN_BUILD)"
    cmake -S "$PS_REPO_ROOT" -B "$TSAN_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DPOOLSCOPE_SANITIZE=thread >/dev/null
    if cmake --build "$TSAN_BUILD" -j"$(nproc)" --target pool_test pool_itest cache_test \
        >"$TMP/tsan-build.log" 2>&1; then
        TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
            ctest --test-dir "$TSAN_BUILD" --output-on-failure -R '^(pool_test|pool_itest|cache_test)$' \
            >"$TMP/tsan-tests.log" 2>&1 || tsan_rc=$?
        if [ "$tsan_rc" -ne 0 ]; then
            cat "$TMP/tsan-tests.log"
        fi
        ps_log "ThreadSanitizer pass: $(grep -E 'tests passed' "$TMP/tsan-tests.log" || echo 'no summary')"
    else
        tail -n 40 "$TMP/tsan-build.log"
        ps_log "ThreadSanitizer build failed"
        tsan_rc=1
    fi
fi

rc=0
ctest --test-dir "$BUILD" --output-on-failure -j2 "$@" || rc=$?
if [ "$rc" -eq 0 ] && [ "$tsan_rc" -ne 0 ]; then
    rc=$tsan_rc
fi
exit "$rc"
