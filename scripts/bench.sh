#!/usr/bin/env bash
# Build poolscope's benchmarks (Release) and run them against throw-away servers.
#
#   scripts/bench.sh SUITE      SUITE: pool | cache | offcpu | all
#
# Suites:
#   pool   1. acquire+release cycle of the pool with no-op connections vs an
#             atomic exchange and a mutex+condition-variable pool, at 1, 2, 8
#             and 32 threads (Google Benchmark)
#          2. primary-key SELECT on 100,000 rows through the pool (size 8) vs
#             raw libpq, PgBouncer (transaction mode, pool size 8) and a new
#             connection per request, at 8 and 32 client threads
#   cache  L1 hit latency (1 and 2 threads) and hit ratio against plain LRU on
#          Zipf(0.99) and scan-polluted streams; L2 hit throughput against raw
#          hiredis GET on the same Redis; 1,000 concurrent misses on one key
#   offcpu `perf bench sched pipe` (two threads on one CPU) with no probe, the
#          off-CPU probe (histograms; stacks sampled) and libbpf-tools
#          offcputime on the same process: slowdown and BPF ns per context
#          switch (bench/offcpu_bench.sh; needs root)
#   all    every suite
#
# Progress and result tables go to stderr; stdout gets only the final block
# of name=value lines (every headline figure). Results: bench/README.md.
#
# Environment:
#   BUILD_DIR              build folder (default: <repo>/build-bench)
#   POOLSCOPE_SKIP_DEPS    1 = do not check/install system packages
#   POOLSCOPE_KEEP_TMP     1 = keep the temp folder (servers are still stopped)
#   BENCH_SECONDS          measured seconds per SELECT mode and thread count (5)
#   BENCH_CONNECT_SECONDS  the same for connection-per-request (3)
#   BENCH_ROUNDS           rounds those seconds are split into, modes taking turns (3)
#   BENCH_WARMUP           unmeasured warm-up seconds before each mode in each round (0.5)
#   BENCH_REPETITIONS      Google Benchmark repetitions; medians are used (5)
#   BENCH_MIN_TIME         Google Benchmark minimum seconds per repetition (0.2)
#   OFFCPU_LOOPS, OFFCPU_ROUNDS, OFFCPU_CPU  see bench/offcpu_bench.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by common.sh
PS_TAG=bench.sh
# shellcheck source=lib/deps.sh
. "$HERE/lib/deps.sh"

SUITES=(pool cache offcpu)

usage() {
    sed -n '2,32s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
}

[ "$#" -eq 1 ] || usage
case $1 in
    -h | --help) usage ;;
    all) RUN=("${SUITES[@]}") ;;
    *)
        RUN=()
        for s in "${SUITES[@]}"; do
            [ "$s" = "$1" ] && RUN=("$s")
        done
        if [ "${#RUN[@]}" -eq 0 ]; then
            ps_warn "unknown suite '$1'"
            usage
        fi
        ;;
esac

BUILD=$(ps_abs "${BUILD_DIR:-$PS_REPO_ROOT/build-bench}")
FIXTURES=$PS_REPO_ROOT/scripts/fixtures
SECONDS_PER_MODE=${BENCH_SECONDS:-5}
CONNECT_SECONDS=${BENCH_CONNECT_SECONDS:-3}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-0.5}
REPETITIONS=${BENCH_REPETITIONS:-5}
MIN_TIME=${BENCH_MIN_TIME:-0.2}
cd "$PS_REPO_ROOT"

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

# ---- build ---------------------------------------------------------------

poolscope_install_deps
ps_log "building the benchmarks in $BUILD (Release)"
cmake -S "$PS_REPO_ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DPOOLSCOPE_BUILD_TESTS=OFF -DPOOLSCOPE_BUILD_BENCH=ON >&2
cmake --build "$BUILD" -j"$(nproc)" \
    --target poolscope_bench_pool_cycle poolscope_bench_pool_select poolscope_bench_offcpu \
    poolscope_bench_cache_l1 poolscope_bench_cache_l2 >&2

TMP=$(mktemp -d /tmp/poolscope-bench.XXXXXX)
# The unprivileged PostgreSQL user must be able to reach fixtures below it.
chmod 755 "$TMP"
RESULTS=$TMP/results.txt
: >"$RESULTS"

# machine_info: one line on the machine and how busy it is (benchmarks on a
# loaded machine are noisy; the load average says so).
machine_info() {
    local model mem
    model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
    mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    ps_log "machine: $(nproc) CPUs ($model), $mem RAM, kernel $(uname -r)," \
        "load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    if awk -v n="$(nproc)" '{ exit !($1 > n / 2) }' /proc/loadavg; then
        ps_warn "the machine is busy (load average above half the CPUs): expect noisy numbers"
    fi
}

# keep_values FILE: append FILE's name=value lines to the results.
keep_values() {
    grep -E '^[a-z][a-z0-9_]*=' "$1" >>"$RESULTS" || true
}

# ---- suites --------------------------------------------------------------

suite_pool() {
    local pg_port pg_dsn bouncer_port bouncer_dsn psql
    psql=${POOLSCOPE_PG_BINDIR:-/usr/lib/postgresql/15/bin}/psql

    ps_log "pool 1/2: acquire+release cycle (Google Benchmark)"
    machine_info
    "$BUILD/bench/poolscope_bench_pool_cycle" \
        --benchmark_repetitions="$REPETITIONS" \
        --benchmark_min_time="$MIN_TIME" | tee "$TMP/pool_cycle.out" >&2
    keep_values "$TMP/pool_cycle.out"

    ps_log "pool 2/2: primary-key SELECT (PostgreSQL and PgBouncer fixtures)"
    pg_port=$("$FIXTURES/pg.sh" start "$TMP/pg")
    pg_dsn=$("$FIXTURES/pg.sh" dsn "$TMP/pg")
    bouncer_port=$("$FIXTURES/pgbouncer.sh" start "$TMP/pgbouncer" "$pg_port")
    bouncer_dsn=$("$FIXTURES/pgbouncer.sh" dsn "$TMP/pgbouncer")
    # The fixture's server pool is 10 per database/user; give PgBouncer the
    # same 8 server connections as our pool (admin console, no config edit).
    "$psql" -X -q -At -h 127.0.0.1 -p "$bouncer_port" -U postgres -d pgbouncer \
        -c 'SET default_pool_size = 8' >&2
    ps_log "PgBouncer default_pool_size: $("$psql" -X -q -At -h 127.0.0.1 -p "$bouncer_port" \
        -U postgres -d pgbouncer -c 'SHOW CONFIG' | awk -F'|' '$1 == "default_pool_size" { print $2 }')"
    machine_info
    "$BUILD/bench/poolscope_bench_pool_select" \
        --pg-dsn "$pg_dsn" --pgbouncer-dsn "$bouncer_dsn" \
        --seconds "$SECONDS_PER_MODE" --connect-seconds "$CONNECT_SECONDS" \
        --rounds "$ROUNDS" --warmup "$WARMUP" --threads 8,32 --pool-size 8 --rows 100000 |
        tee "$TMP/pool_select.out" >&2
    ps_log "PgBouncer server connections open after the run (SHOW SERVERS):" \
        "$("$psql" -X -q -At -h 127.0.0.1 -p "$bouncer_port" -U postgres -d pgbouncer \
            -c 'SHOW SERVERS' | grep -c '|postgres|' || true)"
    keep_values "$TMP/pool_select.out"
    "$FIXTURES/pgbouncer.sh" stop "$TMP/pgbouncer" >&2
    "$FIXTURES/pg.sh" stop "$TMP/pg" >&2
}

suite_cache() {
    ps_log "cache 1/2: L1 hit latency and hit ratio against LRU"
    machine_info
    "$BUILD/bench/poolscope_bench_cache_l1" | tee "$TMP/cache_l1.out" >&2
    keep_values "$TMP/cache_l1.out"
    ps_log "cache 2/2: L2 hits against raw hiredis; stampede (Redis fixture)"
    "$FIXTURES/redis.sh" start "$TMP/redis" >/dev/null
    machine_info
    "$BUILD/bench/poolscope_bench_cache_l2" --redis "$("$FIXTURES/redis.sh" addr "$TMP/redis")" |
        tee "$TMP/cache_l2.out" >&2
    keep_values "$TMP/cache_l2.out"
    "$FIXTURES/redis.sh" stop "$TMP/redis" >&2
}

suite_offcpu() {
    ps_log "offcpu: perf bench sched pipe with no probe, the off-CPU probe and offcputime"
    machine_info
    "$PS_REPO_ROOT/bench/offcpu_bench.sh" "$BUILD/bench/offcpu/poolscope_bench_offcpu" \
        "$TMP/offcpu" | tee "$TMP/offcpu.out" >&2
    keep_values "$TMP/offcpu.out"
}

for suite in "${RUN[@]}"; do
    "suite_$suite"
done

ps_log "results:"
cat "$RESULTS"
