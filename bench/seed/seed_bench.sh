#!/usr/bin/env bash
# The seed's product-lookup API case (scripts/bench.sh seed runs this).
#
#   seed_bench.sh SERVER_BIN PG_PORT REDIS_ADDR WORKDIR
#
# SERVER_BIN is poolscope_bench_seed_server; PG_PORT the fixture PostgreSQL
# (user postgres, trust); REDIS_ADDR the fixture Redis (host:port); WORKDIR
# an empty folder for logs, wrk output and latency histograms.
#
# Creates seed_products (SEED_ROWS rows) if it does not hold exactly that,
# starts one server per mode (before, after, connect) at once, warms each up
# with SEED_WARMUP seconds of load, then runs SEED_ROUNDS rounds in which
# every mode gets SEED_REWARM unmeasured and then SEED_SECONDS measured
# seconds of wrk load (SEED_CONNECTIONS connections, SEED_WRK_THREADS threads,
# bench/seed/seed_wrk.lua), each round starting with the next mode. Per mode: requests per second over all its rounds,
# P50/P95/P99 from the merged latency histograms of its rounds, CPU of the
# server process (and of PostgreSQL and Redis) from /proc, resident memory
# of the server. Tables on stderr; name=value lines on stdout, qps_ratio and
# p99_ratio (after over before) last.
#
# Environment (defaults): SEED_SECONDS (10), SEED_ROUNDS (3), SEED_WARMUP (60),
# SEED_REWARM (3: unmeasured seconds of load right before every measured run),
# SEED_CONNECTIONS (64), SEED_WRK_THREADS (2), SEED_ROWS (100000),
# SEED_MULTI_PCT (10), SEED_MULTI_IDS (10), SEED_MODES (before after connect),
# POOLSCOPE_PG_BINDIR (/usr/lib/postgresql/15/bin); SEED_PG_PID and
# SEED_REDIS_PID (the postmaster's and redis-server's pids: their CPU is
# reported when given).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by common.sh
PS_TAG=seed
# shellcheck source=scripts/lib/common.sh
. "$HERE/../../scripts/lib/common.sh"

[ "$#" -eq 4 ] || {
    sed -n '2,27s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
}
SERVER=$1
PG_PORT=$2
REDIS_ADDR=$3
WORK=$4

SECONDS_PER_RUN=${SEED_SECONDS:-10}
ROUNDS=${SEED_ROUNDS:-3}
WARMUP=${SEED_WARMUP:-60}
REWARM=${SEED_REWARM:-3}
CONNECTIONS=${SEED_CONNECTIONS:-64}
WRK_THREADS=${SEED_WRK_THREADS:-2}
export SEED_ROWS=${SEED_ROWS:-100000}
export SEED_MULTI_PCT=${SEED_MULTI_PCT:-10}
export SEED_MULTI_IDS=${SEED_MULTI_IDS:-10}
read -r -a MODES <<<"${SEED_MODES:-before after connect}"
PSQL=${POOLSCOPE_PG_BINDIR:-/usr/lib/postgresql/15/bin}/psql
LUA=$HERE/seed_wrk.lua
PG_DSN="host=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres"
CLK_TCK=$(getconf CLK_TCK)

command -v wrk >/dev/null 2>&1 || ps_die "wrk is not installed (apt-get install wrk)"
[ -x "$SERVER" ] || ps_die "$SERVER is not built"
mkdir -p "$WORK"

declare -A PID PORT CPU_TICKS PG_TICKS REDIS_TICKS RSS_MAX DBQ_RUN L1_HIT_RUN L1_ALL_RUN
SERVERS=()

# shellcheck disable=SC2317 # invoked via trap
stop_servers() {
    local pid
    for pid in "${SERVERS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${SERVERS[@]}"; do
        ps_wait_dead "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
    done
    SERVERS=()
}
trap 'stop_servers' EXIT

psql_q() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"; }

# ---- the table -----------------------------------------------------------

setup_table() {
    local have
    psql_q -c "CREATE TABLE IF NOT EXISTS seed_products (
        id bigint PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL,
        stock integer NOT NULL, description text NOT NULL)" >&2
    have=$(psql_q -c "SELECT count(*) FILTER (WHERE id BETWEEN 1 AND $SEED_ROWS) || ' ' || count(*)
                      FROM seed_products")
    if [ "$have" != "$SEED_ROWS $SEED_ROWS" ]; then
        ps_log "filling seed_products with $SEED_ROWS products"
        psql_q -c "TRUNCATE seed_products" \
            -c "INSERT INTO seed_products
                SELECT g, 'product ' || g, ((g * 7919) % 100000) / 100.0, g % 500,
                       'Product ' || g || ': ' || md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text)
                FROM generate_series(1, $SEED_ROWS) AS g" >&2
    fi
    psql_q -c "VACUUM ANALYZE seed_products" -c "SELECT count(*) FROM seed_products" >/dev/null
}

# ---- /proc readings --------------------------------------------------------

# proc_ticks PID: utime + stime of PID (all its threads), in clock ticks.
proc_ticks() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || {
        echo 0
        return
    }
    stat=${stat##*) }
    awk '{ print $12 + $13 }' <<<"$stat"
}

# tree_ticks PID: CPU ticks of PID, the children it has reaped (cutime,
# cstime) and its live children: for the postmaster, every backend that ran
# since it started, including the connect-per-request ones that have exited.
tree_ticks() {
    local stat total child
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || {
        echo 0
        return
    }
    stat=${stat##*) }
    total=$(awk '{ print $12 + $13 + $14 + $15 }' <<<"$stat")
    for child in $(pgrep -P "$1" 2>/dev/null || true); do
        total=$((total + $(proc_ticks "$child")))
    done
    echo "$total"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# ---- servers ---------------------------------------------------------------

start_servers() {
    local mode deadline
    for mode in "${MODES[@]}"; do
        rm -f "$WORK/$mode.port"
        "$SERVER" --mode "$mode" --pg-dsn "$PG_DSN" --redis "$REDIS_ADDR" \
            --listen 127.0.0.1:0 --threads $((CONNECTIONS + 4)) \
            --port-file "$WORK/$mode.port" >"$WORK/$mode.server.log" 2>&1 &
        PID[$mode]=$!
        SERVERS+=("${PID[$mode]}")
    done
    deadline=$((SECONDS + 30))
    for mode in "${MODES[@]}"; do
        while [ ! -s "$WORK/$mode.port" ]; do
            if ! ps_pid_alive "${PID[$mode]}"; then
                ps_show_log "$WORK/$mode.server.log"
                ps_die "the $mode server exited during start-up"
            fi
            ((SECONDS < deadline)) || ps_die "the $mode server did not start within 30 s"
            sleep 0.1
        done
        PORT[$mode]=$(ps_read_pidfile "$WORK/$mode.port")
        # One request of each kind must work before anything is measured.
        curl -fsS "http://127.0.0.1:${PORT[$mode]}/products/1" >/dev/null ||
            ps_die "the $mode server does not answer /products/1"
        curl -fsS "http://127.0.0.1:${PORT[$mode]}/products?ids=1,2,3" >/dev/null ||
            ps_die "the $mode server does not answer /products?ids=1,2,3"
        ps_log "$mode server: pid ${PID[$mode]}, port ${PORT[$mode]}"
        CPU_TICKS[$mode]=0
        PG_TICKS[$mode]=0
        REDIS_TICKS[$mode]=0
        RSS_MAX[$mode]=0
        DBQ_RUN[$mode]=0
        L1_HIT_RUN[$mode]=0
        L1_ALL_RUN[$mode]=0
    done
}

# metric PORT NAME_REGEX: sum of the matching series in a server's /metrics.
metric() {
    curl -fsS "http://127.0.0.1:$1/metrics" | awk -v re="$2" '$0 !~ /^#/ && $1 ~ re { s += $2 } END { printf "%.0f\n", s }'
}

# counters MODE: "db_queries l1_hits l1_lookups" of MODE's server now.
counters() {
    curl -fsS "http://127.0.0.1:${PORT[$1]}/metrics" | awk '
        $0 ~ /^#/ { next }
        $1 ~ /^seed_db_queries_total/ { q += $2 }
        $1 ~ /^poolscope_cache_requests_total\{.*level="l1"/ {
            a += $2
            if ($1 ~ /result="(hit|negative_hit)"/) h += $2
        }
        END { printf "%.0f %.0f %.0f\n", q, h, a }'
}

# run_wrk MODE SECONDS OUT [HIST]: one wrk run against MODE's server.
run_wrk() {
    local mode=$1 secs=$2 out=$3 hist=${4:-}
    SEED_HIST=$hist wrk -t "$WRK_THREADS" -c "$CONNECTIONS" -d "${secs}s" --timeout 10s \
        --latency -s "$LUA" "http://127.0.0.1:${PORT[$mode]}" >"$out" 2>&1 || {
        cat "$out" >&2
        ps_die "wrk failed against the $mode server"
    }
}

# ---- run -------------------------------------------------------------------

setup_table
PG_PID=${SEED_PG_PID:-}
REDIS_PID=${SEED_REDIS_PID:-}
start_servers

ps_log "warm-up: ${WARMUP} s per mode (not measured)"
for mode in "${MODES[@]}"; do
    run_wrk "$mode" "$WARMUP" "$WORK/$mode.warmup.wrk"
done

nmodes=${#MODES[@]}
for ((r = 0; r < ROUNDS; r++)); do
    for ((k = 0; k < nmodes; k++)); do
        mode=${MODES[$(((r + k) % nmodes))]}
        ps_log "round $((r + 1))/$ROUNDS: $mode, ${SECONDS_PER_RUN} s," \
            "load average $(cut -d' ' -f1-3 /proc/loadavg)"
        # A short unmeasured run first: every mode comes back from the others'
        # turns (an idle server, L1 entries past their time-to-idle) warm.
        [ "$REWARM" != 0 ] && run_wrk "$mode" "$REWARM" "$WORK/$mode.r$r.rewarm.wrk"
        c0=$(proc_ticks "${PID[$mode]}")
        p0=0
        d0=0
        [ -n "$PG_PID" ] && p0=$(tree_ticks "$PG_PID")
        [ -n "$REDIS_PID" ] && d0=$(proc_ticks "$REDIS_PID")
        read -r q0 h0 a0 <<<"$(counters "$mode")"
        run_wrk "$mode" "$SECONDS_PER_RUN" "$WORK/$mode.r$r.wrk" "$WORK/$mode.r$r.hist"
        CPU_TICKS[$mode]=$((CPU_TICKS[$mode] + $(proc_ticks "${PID[$mode]}") - c0))
        [ -n "$PG_PID" ] && PG_TICKS[$mode]=$((PG_TICKS[$mode] + $(tree_ticks "$PG_PID") - p0))
        [ -n "$REDIS_PID" ] && REDIS_TICKS[$mode]=$((REDIS_TICKS[$mode] + $(proc_ticks "$REDIS_PID") - d0))
        read -r q1 h1 a1 <<<"$(counters "$mode")"
        DBQ_RUN[$mode]=$((DBQ_RUN[$mode] + q1 - q0))
        L1_HIT_RUN[$mode]=$((L1_HIT_RUN[$mode] + h1 - h0))
        L1_ALL_RUN[$mode]=$((L1_ALL_RUN[$mode] + a1 - a0))
        rss=$(rss_kib "${PID[$mode]}")
        ((rss > RSS_MAX[$mode])) && RSS_MAX[$mode]=$rss
        grep -E 'Requests/sec|Latency  ' "$WORK/$mode.r$r.wrk" | sed 's/^ */    /' >&2
    done
done

# ---- results ---------------------------------------------------------------

# summarize MODE: "requests errors seconds p50_ms p95_ms p99_ms max_ms" from
# the merged histograms of MODE's measured rounds.
summarize() {
    local counts pcts
    counts=$(cat "$WORK/$1".r*.hist | awk '
        $1 == "requests" { req += $2 }
        $1 == "errors" { err += $2 }
        $1 == "duration_us" { dur += $2 }
        END { printf "%d %d %.3f\n", req, err, dur / 1e6 }')
    pcts=$(cat "$WORK/$1".r*.hist | awk '$1 == "lat" { print $2, $3 }' | sort -n -k1,1 | awk '
        { v[NR] = $1; c[NR] = $2; total += $2 }
        END {
            split("50 95 99", ps, " ")
            cum = 0; j = 1
            for (i = 1; i <= NR; i++) {
                cum += c[i]
                while (j <= 3 && cum >= ps[j] / 100 * total) { q[j] = v[i]; j++ }
            }
            printf "%.3f %.3f %.3f %.3f\n", q[1] / 1000, q[2] / 1000, q[3] / 1000, v[NR] / 1000
        }')
    echo "$counts $pcts"
}

declare -A QPS P99
{
    printf '\nseed product API: %s connections, %s wrk threads, %s rounds x %s s per mode, %s%% multi-id requests (%s ids)\n' \
        "$CONNECTIONS" "$WRK_THREADS" "$ROUNDS" "$SECONDS_PER_RUN" "$SEED_MULTI_PCT" "$SEED_MULTI_IDS"
    printf '%-8s %10s %8s %8s %8s %8s %9s %7s %7s %7s %8s %8s %8s\n' mode req/s p50_ms p95_ms p99_ms \
        max_ms errors srv_cpu pg_cpu rds_cpu rss_MiB hwm_MiB db_queries
} >&2
VALUES=()
for mode in "${MODES[@]}"; do
    read -r req err secs p50 p95 p99 pmax <<<"$(summarize "$mode")"
    qps=$(awk -v r="$req" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? r / s : 0) }')
    cores=$(awk -v t="${CPU_TICKS[$mode]}" -v h="$CLK_TCK" -v s="$secs" 'BEGIN { printf "%.2f", (s > 0 ? t / h / s : 0) }')
    pg_cores=$(awk -v t="${PG_TICKS[$mode]}" -v h="$CLK_TCK" -v s="$secs" 'BEGIN { printf "%.2f", (s > 0 ? t / h / s : 0) }')
    rd_cores=$(awk -v t="${REDIS_TICKS[$mode]}" -v h="$CLK_TCK" -v s="$secs" 'BEGIN { printf "%.2f", (s > 0 ? t / h / s : 0) }')
    rss=$(awk -v k="${RSS_MAX[$mode]}" 'BEGIN { printf "%.1f", k / 1024 }')
    hwm=$(awk -v k="$(hwm_kib "${PID[$mode]}")" 'BEGIN { printf "%.1f", k / 1024 }')
    dbq=${DBQ_RUN[$mode]}
    QPS[$mode]=$qps
    P99[$mode]=$p99
    printf '%-8s %10s %8s %8s %8s %8s %9s %7s %7s %7s %8s %8s %8s\n' "$mode" "$qps" "$p50" "$p95" "$p99" \
        "$pmax" "$err" "$cores" "$pg_cores" "$rd_cores" "$rss" "$hwm" "$dbq" >&2
    VALUES+=("seed_qps_$mode=$qps" "seed_p50_ms_$mode=$p50" "seed_p95_ms_$mode=$p95"
        "seed_p99_ms_$mode=$p99" "seed_errors_$mode=$err" "seed_server_cpu_cores_$mode=$cores"
        "seed_pg_cpu_cores_$mode=$pg_cores" "seed_rss_mib_$mode=$rss")
done
printf '(CPU: cores busy during the measured seconds - server process, PostgreSQL (postmaster and backends), Redis; db_queries: SELECTs the server sent during the measured seconds)\n' >&2

# Where the time of a database read goes: the pools' mean wait for a
# connection, and the after cache's loads (L1 and L2 miss: pool + query).
for mode in "${MODES[@]}"; do
    [ "$mode" = connect ] && continue
    n_acq=$(metric "${PORT[$mode]}" "^poolscope_pool_acquire_wait_seconds_count[{]pool=\"seed_$mode\"")
    s_acq=$(curl -fsS "http://127.0.0.1:${PORT[$mode]}/metrics" |
        awk -v p="poolscope_pool_acquire_wait_seconds_sum{pool=\"seed_$mode\"}" '$1 == p { print $2 }')
    ps_log "$mode: $n_acq pool acquires, mean wait for a connection" \
        "$(awk -v s="${s_acq:-0}" -v n="$n_acq" 'BEGIN { printf "%.2f", (n > 0 ? 1000 * s / n : 0) }') ms" \
        "(whole run, warm-up included)"
done
if [ -n "${PORT[after]:-}" ]; then
    n_load=$(metric "${PORT[after]}" '^poolscope_cache_load_duration_seconds_count')
    s_load=$(curl -fsS "http://127.0.0.1:${PORT[after]}/metrics" |
        awk '$1 ~ /^poolscope_cache_load_duration_seconds_sum/ { print $2 }')
    ps_log "after: $n_load cache loads (L1 and L2 missed), mean" \
        "$(awk -v s="${s_load:-0}" -v n="$n_load" 'BEGIN { printf "%.2f", (n > 0 ? 1000 * s / n : 0) }') ms each," \
        "$(metric "${PORT[after]}" '^poolscope_cache_l2_errors_total') L2 errors"
    l1_hit=$(metric "${PORT[after]}" '^poolscope_cache_requests_total\{.*level="l1".*result="(hit|negative_hit)"')
    l1_all=$(metric "${PORT[after]}" '^poolscope_cache_requests_total\{.*level="l1"')
    l2_hit=$(metric "${PORT[after]}" '^poolscope_cache_requests_total\{.*level="l2".*result="(hit|negative_hit)"')
    l2_all=$(metric "${PORT[after]}" '^poolscope_cache_requests_total\{.*level="l2"')
    ps_log "after: L1 $l1_hit hits of $l1_all lookups, L2 $l2_hit hits of $l2_all lookups (whole run, warm-up included)"
    ps_log "after: L1 ${L1_HIT_RUN[after]} hits of ${L1_ALL_RUN[after]} lookups during the measured seconds"
    VALUES+=("seed_l1_hit_ratio=$(awk -v h="${L1_HIT_RUN[after]}" -v a="${L1_ALL_RUN[after]}" 'BEGIN { printf "%.3f", (a > 0 ? h / a : 0) }')")
fi

printf '%s\n' "${VALUES[@]}"
if [ -n "${QPS[after]:-}" ] && [ -n "${QPS[before]:-}" ]; then
    awk -v a="${QPS[after]}" -v b="${QPS[before]}" 'BEGIN { printf "qps_ratio=%.3f\n", (b > 0 ? a / b : 0) }'
    awk -v a="${P99[after]}" -v b="${P99[before]}" 'BEGIN { printf "p99_ratio=%.3f\n", (b > 0 ? a / b : 0) }'
fi
