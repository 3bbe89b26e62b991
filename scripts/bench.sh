#!/usr/bin/env bash
# Build poolscope's benchmarks (Release) and run them against throw-away servers.
#
#   scripts/bench.sh SUITE      SUITE: pool | cache | offcpu | seed | footprint | all
#   scripts/bench.sh soak [--minutes N]
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
#   seed   the seed's product-lookup API (bench/seed/): CivetWeb + PostgreSQL
#          (100,000 products) in three modes - before (default pool,
#          unprepared, no cache), after (tuned pool, prepared, L1 + Redis L2
#          cache, batched lookups), connect-per-request - driven by wrk in
#          turns: req/s, P50/P95/P99, server CPU and RSS (bench/seed/seed_bench.sh)
#   footprint  poolscope-agent vs Debian's postgres, redis and pgbouncer
#          exporters on the same three servers: RSS, CPU seconds, scrape
#          P50/P99 and series over FOOTPRINT_SECONDS of 5-second scrapes
#          (bench/footprint/footprint_bench.sh)
#   soak   (not part of all) many threads through the pool and the two-level
#          cache for --minutes N (default 1) with faults on a schedule
#          (backends terminated, Redis and PostgreSQL killed and restarted):
#          invariants, leaks, lost entries, recovery and RSS growth (bench/soak.cc)
#   all    every suite (offcpu only as root), then one summary table
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
#   SEED_SECONDS, SEED_ROUNDS, SEED_WARMUP, SEED_CONNECTIONS, ...  see bench/seed/seed_bench.sh
#   FOOTPRINT_SECONDS (600), FOOTPRINT_INTERVAL (5)  see bench/footprint/footprint_bench.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by common.sh
PS_TAG=bench.sh
# shellcheck source=lib/deps.sh
. "$HERE/lib/deps.sh"

SUITES=(pool cache offcpu seed footprint)

usage() {
    sed -n '2,51s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
}

# soak takes one flag of its own: soak --minutes N.
SOAK_MINUTES=1
SOAK_RC=0
if [ "${1:-}" = soak ] && [ "$#" -gt 1 ]; then
    { [ "$#" -eq 3 ] && [ "$2" = --minutes ] && [[ $3 =~ ^[0-9]+([.][0-9]+)?$ ]]; } || usage
    SOAK_MINUTES=$3
    set -- soak
fi
[ "$#" -eq 1 ] || usage
case $1 in
    -h | --help) usage ;;
    soak) RUN=(soak) ;;
    all)
        RUN=()
        for s in "${SUITES[@]}"; do
            if [ "$s" = offcpu ] && [ "$(id -u)" -ne 0 ]; then
                ps_warn "all: skipping offcpu (it needs root)"
                continue
            fi
            RUN+=("$s")
        done
        ;;
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
    poolscope_bench_cache_l1 poolscope_bench_cache_l2 poolscope_bench_seed_server \
    poolscope-agent >&2

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

suite_seed() {
    local pg_port redis_addr
    ps_log "seed: the product-lookup API before/after/connect-per-request (wrk)"
    pg_port=$("$FIXTURES/pg.sh" start "$TMP/pg")
    "$FIXTURES/redis.sh" start "$TMP/redis" >/dev/null
    redis_addr=$("$FIXTURES/redis.sh" addr "$TMP/redis")
    machine_info
    SEED_PG_PID=$(ps_read_pidfile "$TMP/pg/pgdata/postmaster.pid") \
        SEED_REDIS_PID=$(ps_read_pidfile "$TMP/redis/redis.pid") \
        "$PS_REPO_ROOT/bench/seed/seed_bench.sh" "$BUILD/bench/seed/poolscope_bench_seed_server" \
        "$pg_port" "$redis_addr" "$TMP/seed" | tee "$TMP/seed.out" >&2
    keep_values "$TMP/seed.out"
    "$FIXTURES/redis.sh" stop "$TMP/redis" >&2
    "$FIXTURES/pg.sh" stop "$TMP/pg" >&2
}

suite_footprint() {
    local pg_port bouncer_port
    ps_log "footprint: poolscope-agent vs the postgres, redis and pgbouncer exporters"
    pg_port=$("$FIXTURES/pg.sh" start "$TMP/pg")
    "$FIXTURES/redis.sh" start "$TMP/redis" >/dev/null
    bouncer_port=$("$FIXTURES/pgbouncer.sh" start "$TMP/pgbouncer" "$pg_port")
    machine_info
    "$PS_REPO_ROOT/bench/footprint/footprint_bench.sh" "$BUILD/agent/poolscope-agent" \
        "$pg_port" "$("$FIXTURES/redis.sh" addr "$TMP/redis")" "$bouncer_port" "$TMP/footprint" |
        tee "$TMP/footprint.out" >&2
    keep_values "$TMP/footprint.out"
    "$FIXTURES/pgbouncer.sh" stop "$TMP/pgbouncer" >&2
    "$FIXTURES/redis.sh" stop "$TMP/redis" >&2
    "$FIXTURES/pg.sh" stop "$TMP/pg" >&2
}

# summary: one table of the headline figures measured in this run with their
# targets (PRODUCT.md, issue 9): suite, figure, value, target, verdict.
summary() {
    awk -F= '
        NR == FNR {
            if (NF == 0 || $0 ~ /^#/) next
            split($0, f, " ")
            order[++n] = f[2]; suite[f[2]] = f[1]; op[f[2]] = f[3]; want[f[2]] = f[4]
            next
        }
        { value[$1] = $2 }
        END {
            printf "\nsummary\n%-10s %-32s %12s %10s  %s\n", "suite", "figure", "value", "target", "verdict"
            for (i = 1; i <= n; i++) {
                k = order[i]
                if (!(k in value)) continue
                v = value[k] + 0; w = want[k] + 0
                ok = (op[k] == "<=" && v <= w) || (op[k] == "<" && v < w) || (op[k] == ">=" && v >= w) ||
                     (op[k] == ">" && v > w) || (op[k] == "==" && v == w)
                printf "%-10s %-32s %12s %10s  %s\n", suite[k], k, value[k], op[k] " " want[k], (ok ? "met" : "MISSED")
            }
        }' - "$RESULTS" <<'EOF'
pool      cycle_ratio_vs_atomic_t1        <=  3
pool      cycle_ratio_vs_mutex_pool_t8    >=  2
pool      cycle_ratio_vs_mutex_pool_t32   >=  2
pool      ratio_vs_raw                    >=  0.95
pool      ratio_vs_pgbouncer              >=  1.3
pool      ratio_vs_connect_per_request    >=  10
cache     l1_hit_ns_p50                   <   150
cache     hit_ratio_vs_lru_scan           >   1
cache     l2_ratio_vs_hiredis             >=  0.9
cache     stampede_loads                  ==  1
offcpu    ns_per_event                    <   500
offcpu    slowdown_pct                    <   5
offcpu    ratio_vs_offcputime             >=  8
seed      qps_ratio                       >=  4.4
seed      p99_ratio                       <=  0.14
footprint footprint_rss_mib_agent         <   25
footprint rss_ratio_vs_exporters          <   1
footprint cpu_ratio_vs_exporters          <   1
footprint scrape_p99_ms                   <   5
EOF
}

suite_soak() {
    ps_log "soak: pool and cache under load for $SOAK_MINUTES min, a fault every 10 s"
    cmake --build "$BUILD" -j"$(nproc)" --target poolscope_soak >&2
    machine_info
    "$BUILD/bench/poolscope_soak" --minutes "$SOAK_MINUTES" --fixtures "$FIXTURES" \
        --tmp "$TMP" >"$TMP/soak.out" || SOAK_RC=$?
    keep_values "$TMP/soak.out"
    if [ "$SOAK_RC" -ne 0 ]; then
        ps_warn "soak: a check did not hold (exit $SOAK_RC); the notes above say which"
    fi
}

for suite in "${RUN[@]}"; do
    "suite_$suite"
done

summary >&2
ps_log "results:"
cat "$RESULTS"
(exit "$SOAK_RC") # the soak's verdict is the script's
