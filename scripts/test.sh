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
#   POOLSCOPE_MAIN       0 = only the sanitizer passes (no normal build and suite)
#   POOLSCOPE_ASAN       0 = skip the AddressSanitizer+UBSan pass (and fuzzing)
#   POOLSCOPE_TSAN       0 = skip the ThreadSanitizer pass
#   POOLSCOPE_FUZZ_SECONDS  seconds per libFuzzer target (default 5; 0 = none)
#   POOLSCOPE_ASAN_BUILD / POOLSCOPE_TSAN_BUILD  their build folders
#                        (default: <BUILD_DIR>-asan / <BUILD_DIR>-tsan)
#   POOLSCOPE_SAN_LABELS / POOLSCOPE_TSAN_LABELS  ctest label regex of the
#                        tests each pass runs (default: unit|integration and
#                        unit|tsan)
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
# POOLSCOPE_MAIN=0: only the sanitizer passes (no normal build, no full suite).
if [ "${POOLSCOPE_MAIN:-1}" = 1 ]; then
    poolscope_build "$BUILD" "${cmake_args[@]}"
fi

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

# Sanitizer passes, before the full suite; their one-line summaries are
# printed after ctest's. Each builds only the tests it runs (selected by label, see
# scripts/lib/test_targets.cmake) in its own folder and runs them against the
# same servers; a sanitizer report anywhere (also in a child process such as
# the agent under cli_test) fails the pass, and a failed pass fails test.sh.
#   ASan+UBSan  clang, AddressSanitizer + UndefinedBehaviorSanitizer, in
#               $BUILD-asan: the SAN_LABELS tests, then every libFuzzer
#               target in fuzz/ for POOLSCOPE_FUZZ_SECONDS each
#   TSan        ThreadSanitizer, in $BUILD-tsan: the TSAN_LABELS tests (unit,
#               and the integration tests labelled tsan: concurrency stress;
#               TSan costs 5-15x, the whole integration set does not fit CI)
# Never under a sanitizer: the bpf, e2e and package labels, and `long` (the
# fixed-duration demo and soak runs, which the full suite runs anyway).
# They run only without ctest arguments and without POOLSCOPE_SANITIZE.
SAN_EXCLUDE='^(bpf|e2e|package|long)$'
SAN_LABELS=${POOLSCOPE_SAN_LABELS:-unit|integration}
TSAN_LABELS=${POOLSCOPE_TSAN_LABELS:-unit|tsan}
SAN_FLAGS='-O1 -g1 -DNDEBUG'

# san_env DIR: the sanitizer options for a pass whose reports go below DIR
# (log_path: one file per process that reported, whoever started it).
san_env() {
    local dir=$1
    mkdir -p "$dir"
    rm -f "$dir"/report.*
    export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:strict_string_checks=1:log_path=$dir/report"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$dir/report"
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$dir/report:suppressions=$PS_REPO_ROOT/scripts/tsan.supp"
}

# san_reports DIR: print every sanitizer report below DIR; false if any.
san_reports() {
    local f found=0
    for f in "$1"/report.*; do
        [ -e "$f" ] || continue
        found=1
        printf '[%s] ---- sanitizer report %s ----\n' "$PS_TAG" "$f" >&2
        cat "$f" >&2
    done
    [ "$found" -eq 0 ]
}

# san_pass NAME DIR LABELS EXTRA_TARGETS CMAKE_ARGS...: configure DIR, build
# the tests labelled LABELS (and EXTRA_TARGETS), run them. Sets san_summary.
san_pass() {
    local name=$1 dir=$2 labels=$3 extra=$4 t0=$SECONDS t1 rc=0 line
    shift 4
    local -a targets=()
    san_summary="$name: FAILED"
    cmake -S "$PS_REPO_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        "-DCMAKE_C_FLAGS_RELWITHDEBINFO=$SAN_FLAGS" "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$SAN_FLAGS" \
        "$@" >"$TMP/$name-configure.log" 2>&1 || {
        tail -n 40 "$TMP/$name-configure.log"
        san_summary="$name: configure failed"
        return 1
    }
    cmake -DBUILD="$dir" -DOUT="$TMP/$name-targets" "-DARGS=-L;$labels;-LE;$SAN_EXCLUDE" \
        -P "$PS_REPO_ROOT/scripts/lib/test_targets.cmake"
    # Only names that are build targets (a script test may need none).
    ninja -C "$dir" -t targets all | sed -n 's/^\([^:]*\): .*/\1/p' | sort -u >"$TMP/$name-all"
    mapfile -t targets < <(grep -v '^$' "$TMP/$name-targets" | sort -u | comm -12 - "$TMP/$name-all")
    # shellcheck disable=SC2206 # EXTRA_TARGETS is a space-separated list
    targets+=($extra)
    ps_log "$name: building ${#targets[@]} targets in $dir"
    if ! cmake --build "$dir" -j"$(nproc)" --target "${targets[@]}" >"$TMP/$name-build.log" 2>&1; then
        grep -E -A5 'error|FAILED' "$TMP/$name-build.log" | head -n 60
        san_summary="$name: build failed (log: $TMP/$name-build.log)"
        return 1
    fi
    t1=$SECONDS
    san_env "$dir/sanitizer-reports"
    ctest --test-dir "$dir" --output-on-failure -j2 -L "$labels" -LE "$SAN_EXCLUDE" \
        >"$TMP/$name-tests.log" 2>&1 || rc=$?
    unset ASAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS
    if [ "$rc" -ne 0 ]; then
        cat "$TMP/$name-tests.log"
    fi
    san_reports "$dir/sanitizer-reports" || rc=1
    line=$(grep -E 'tests passed' "$TMP/$name-tests.log" || echo 'no ctest summary')
    san_summary="$name: $line; build $((t1 - t0)) s, tests $((SECONDS - t1)) s"
    if [ "$rc" -ne 0 ]; then
        san_summary="$name: FAILED: $line; reports in $dir/sanitizer-reports"
    fi
    return "$rc"
}

# fuzz_pass DIR SECONDS: run every libFuzzer target built in DIR for SECONDS,
# from its seed corpus and regression inputs. A crash or broken property is
# saved to DIR/fuzz-artifacts/ and fails the pass. Sets fuzz_summary.
fuzz_pass() {
    local dir=$1 secs=$2 f name rc=0 runs n=0 failed=() stats=()
    mkdir -p "$dir/fuzz-artifacts"
    for f in "$dir"/fuzz/*_fuzz; do
        [ -x "$f" ] || continue
        name=$(basename "$f" _fuzz)
        n=$((n + 1))
        mkdir -p "$TMP/fuzz/$name"
        local -a dirs=("$TMP/fuzz/$name" "$PS_REPO_ROOT/fuzz/corpus/$name")
        if [ -d "$PS_REPO_ROOT/fuzz/regressions/$name" ]; then
            dirs+=("$PS_REPO_ROOT/fuzz/regressions/$name")
        fi
        if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$dir/fuzz-artifacts/$name-" "${dirs[@]}" \
            >"$TMP/fuzz-$name.log" 2>&1; then
            runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$TMP/fuzz-$name.log")
            stats+=("$name ${runs:-?} runs")
        else
            rc=1
            failed+=("$name")
            tail -n 60 "$TMP/fuzz-$name.log"
        fi
    done
    if [ "$n" -eq 0 ]; then
        fuzz_summary="libFuzzer: FAILED: no fuzz targets in $dir/fuzz"
        return 1
    fi
    local joined
    joined=$(printf '%s, ' "${stats[@]}")
    fuzz_summary="libFuzzer: $n targets x ${secs} s, no crash: ${joined%, }"
    if [ "$rc" -ne 0 ]; then
        fuzz_summary="libFuzzer: FAILED: ${failed[*]} (inputs in $dir/fuzz-artifacts; replay: <target>_fuzz <file>)"
    fi
    return "$rc"
}

san_rc=0
summaries=()
if [ -z "${POOLSCOPE_SANITIZE:-}" ] && [ $# -eq 0 ]; then
    if [ "${POOLSCOPE_ASAN:-1}" = 1 ]; then
        ASAN_BUILD=$(ps_abs "${POOLSCOPE_ASAN_BUILD:-$BUILD-asan}")
        fuzz_secs=${POOLSCOPE_FUZZ_SECONDS:-5}
        fuzz_targets=''
        if [ "$fuzz_secs" != 0 ]; then
            fuzz_targets=poolscope_fuzzers
        fi
        ps_log "AddressSanitizer+UBSan pass ($ASAN_BUILD)"
        if san_pass asan "$ASAN_BUILD" "$SAN_LABELS" "$fuzz_targets" \
            -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DPOOLSCOPE_FUZZ=ON \
            -DPOOLSCOPE_SANITIZE=address,undefined; then
            summaries+=("AddressSanitizer+UBSan: ${san_summary#asan: }")
            if [ "$fuzz_secs" != 0 ]; then
                fuzz_pass "$ASAN_BUILD" "$fuzz_secs" || san_rc=1
                summaries+=("$fuzz_summary")
            fi
        else
            san_rc=1
            summaries+=("AddressSanitizer+UBSan: ${san_summary#asan: }")
        fi
    fi
    if [ "${POOLSCOPE_TSAN:-1}" = 1 ]; then
        TSAN_BUILD=$(ps_abs "${POOLSCOPE_TSAN_BUILD:-$BUILD-tsan}")
        ps_log "ThreadSanitizer pass ($TSAN_BUILD)"
        san_pass tsan "$TSAN_BUILD" "$TSAN_LABELS" '' -DPOOLSCOPE_SANITIZE=thread || san_rc=1
        summaries+=("ThreadSanitizer: ${san_summary#tsan: }")
    fi
fi

rc=0
if [ "${POOLSCOPE_MAIN:-1}" = 1 ]; then
    ctest --test-dir "$BUILD" --output-on-failure -j2 "$@" || rc=$?
fi
for line in "${summaries[@]}"; do
    ps_log "$line"
done
if [ "$rc" -eq 0 ] && [ "$san_rc" -ne 0 ]; then
    rc=$san_rc
fi
exit "$rc"
