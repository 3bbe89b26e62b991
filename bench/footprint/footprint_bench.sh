#!/usr/bin/env bash
# Footprint of poolscope-agent against the Prometheus exporters people run
# today (scripts/bench.sh footprint runs this).
#
#   footprint_bench.sh AGENT_BIN PG_PORT REDIS_ADDR PGBOUNCER_PORT WORKDIR
#
# Starts, side by side and watching the same fixture servers (PostgreSQL on
# PG_PORT, Redis at REDIS_ADDR, PgBouncer on PGBOUNCER_PORT; user postgres,
# trust): the agent (one target of each kind, every interval 5s, everything
# else at its defaults) and Debian's prometheus-postgres-exporter,
# prometheus-redis-exporter and prometheus-pgbouncer-exporter, each on a free
# loopback port. After one unmeasured scrape of each, it scrapes all four
# every FOOTPRINT_INTERVAL seconds for FOOTPRINT_SECONDS, taking turns on who
# goes first, and records per scrape the duration (curl's time_total), the
# series exposed and the resident memory (VmRSS); CPU seconds (utime + stime
# from /proc/PID/stat) are read at the start and the end of the window.
# Tables on stderr; name=value lines on stdout, rss_ratio_vs_exporters,
# cpu_ratio_vs_exporters and scrape_p99_ms last.
#
# Environment (defaults): FOOTPRINT_SECONDS (600), FOOTPRINT_INTERVAL (5).
#
# Debian 12's prometheus-pgbouncer-exporter (1.7) reads SHOW STATS columns
# that PgBouncer removed in 1.8 (total_requests, ...) and dies at start-up
# against Debian 12's PgBouncer 1.18. It is run with --database naming no
# database, which keeps it alive (it still exports SHOW LISTS and its Python
# process metrics, and still queries PgBouncer on every scrape) but without
# per-database series: its figures are a lower bound of what a working one
# costs.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by common.sh
PS_TAG=footprint
# shellcheck source=scripts/lib/common.sh
. "$HERE/../../scripts/lib/common.sh"

[ "$#" -eq 5 ] || {
    sed -n '2,29s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
}
AGENT=$1
PG_PORT=$2
REDIS_ADDR=$3
BOUNCER_PORT=$4
WORK=$5
DURATION=${FOOTPRINT_SECONDS:-600}
INTERVAL=${FOOTPRINT_INTERVAL:-5}
CLK_TCK=$(getconf CLK_TCK)
TOOLS=(agent postgres_exporter redis_exporter pgbouncer_exporter)
EXPORTERS=(postgres_exporter redis_exporter pgbouncer_exporter)

[ -x "$AGENT" ] || ps_die "$AGENT is not built"
for b in prometheus-postgres-exporter prometheus-redis-exporter prometheus-pgbouncer-exporter; do
    command -v "$b" >/dev/null 2>&1 || ps_die "$b is not installed (scripts/lib/deps.sh installs it)"
done
mkdir -p "$WORK"

declare -A PID PORT
STARTED=()

# shellcheck disable=SC2317 # invoked via trap
stop_all() {
    local pid
    for pid in "${STARTED[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED[@]}"; do
        ps_wait_dead "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
    done
    STARTED=()
}
trap 'stop_all' EXIT

# start_tool TOOL: start TOOL in the background on PORT[TOOL].
start_tool() {
    case $1 in
        agent)
            cat >"$WORK/agent.yaml" <<EOF
http:
  listen: 127.0.0.1:${PORT[agent]}
targets:
  postgres:
    - name: main
      dsn: "host=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres"
      interval: 5s
  redis:
    - name: cache
      address: $REDIS_ADDR
      interval: 5s
  pgbouncer:
    - name: bouncer
      dsn: "host=127.0.0.1 port=$BOUNCER_PORT dbname=pgbouncer user=postgres"
      interval: 5s
EOF
            "$AGENT" --config "$WORK/agent.yaml" >"$WORK/agent.log" 2>&1 &
            ;;
        postgres_exporter)
            DATA_SOURCE_NAME="host=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres sslmode=disable" \
                prometheus-postgres-exporter --web.listen-address="127.0.0.1:${PORT[$1]}" \
                >"$WORK/$1.log" 2>&1 &
            ;;
        redis_exporter)
            prometheus-redis-exporter -redis.addr "redis://$REDIS_ADDR" \
                -web.listen-address "127.0.0.1:${PORT[$1]}" >"$WORK/$1.log" 2>&1 &
            ;;
        pgbouncer_exporter)
            prometheus-pgbouncer-exporter --host 127.0.0.1 --port "${PORT[$1]}" \
                --pgbouncer-host 127.0.0.1 --pgbouncer-port "$BOUNCER_PORT" --pgbouncer-user postgres \
                --database poolscope_no_such_database >"$WORK/$1.log" 2>&1 &
            ;;
    esac
    PID[$1]=$!
    STARTED+=("$!")
}

# scrape TOOL OUT: one GET /metrics; prints curl's time_total in seconds.
scrape() {
    curl -fsS -o "$2" -w '%{time_total}\n' --max-time 30 "http://127.0.0.1:${PORT[$1]}/metrics"
}

deadline=$((SECONDS + 30))
for t in "${TOOLS[@]}"; do
    for attempt in 1 2 3; do
        PORT[$t]=$(ps_pick_port)
        start_tool "$t"
        until scrape "$t" "$WORK/$t.first.txt" >/dev/null 2>&1; do
            ps_pid_alive "${PID[$t]}" || break
            ((SECONDS < deadline)) || ps_die "$t did not serve /metrics within 30 s"
            sleep 0.2
        done
        ps_pid_alive "${PID[$t]}" && break
        # A free port can be taken by an outgoing connection's local port
        # between the check and the bind on a busy machine: try another.
        if [ "$attempt" -lt 3 ] && grep -qi 'address already in use' "$WORK/$t.log"; then
            ps_warn "$t: port ${PORT[$t]} was taken meanwhile; trying another"
            continue
        fi
        ps_show_log "$WORK/$t.log"
        ps_die "$t exited during start-up"
    done
done
# The agent's samplers run on their own schedule: wait until every target
# has been checked once, so the first measured scrape is a full one.
until grep -q '^poolscope_pgbouncer_up{.*} 1' "$WORK/agent.first.txt" &&
    grep -q '^poolscope_pg_up{.*} 1' "$WORK/agent.first.txt" &&
    grep -q '^poolscope_redis_up{.*} 1' "$WORK/agent.first.txt"; do
    ((SECONDS < deadline)) || {
        ps_show_log "$WORK/agent.log"
        ps_die "the agent does not report all three targets up within 30 s"
    }
    sleep 0.2
    scrape agent "$WORK/agent.first.txt" >/dev/null
done
REVISION=$(sed -n 's/^poolscope_build_info{.*revision="\([^"]*\)".*/\1/p' "$WORK/agent.first.txt" | head -n 1)
ps_log "agent revision ${REVISION:-unknown}; ports: agent ${PORT[agent]}," \
    "postgres_exporter ${PORT[postgres_exporter]}, redis_exporter ${PORT[redis_exporter]}," \
    "pgbouncer_exporter ${PORT[pgbouncer_exporter]}"

proc_ticks() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || ps_die "process $1 is gone"
    stat=${stat##*) }
    awk '{ print $12 + $13 }' <<<"$stat"
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

declare -A T0
for t in "${TOOLS[@]}"; do
    T0[$t]=$(proc_ticks "${PID[$t]}")
    : >"$WORK/$t.samples"
done
n=$(awk -v d="$DURATION" -v i="$INTERVAL" 'BEGIN { n = int(d / i); print (n < 1 ? 1 : n) }')
ps_log "measuring: $n scrapes of each, every $INTERVAL s ($DURATION s)," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s.%N)
for ((i = 0; i < n; i++)); do
    for ((k = 0; k < ${#TOOLS[@]}; k++)); do
        t=${TOOLS[$(((i + k) % ${#TOOLS[@]}))]}
        ps_pid_alive "${PID[$t]}" || {
            ps_show_log "$WORK/$t.log"
            ps_die "$t died during the run"
        }
        secs=$(scrape "$t" "$WORK/$t.last.txt") || ps_die "scrape of $t failed"
        series=$(grep -vc -e '^#' -e '^$' "$WORK/$t.last.txt" || true)
        printf '%s %s %s\n' "$secs" "$series" "$(rss_kib "${PID[$t]}")" >>"$WORK/$t.samples"
    done
    if (((i + 1) % 12 == 0)); then
        ps_log "$((i + 1))/$n scrapes, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    fi
    # Next tick on a fixed schedule from the start (not "interval after the
    # last scrape"), so slow scrapes do not stretch the run.
    next=$(awk -v s="$start" -v i="$((i + 1))" -v d="$INTERVAL" 'BEGIN { printf "%.3f", s + i * d }')
    wait_s=$(awk -v n="$next" -v now="$(date +%s.%N)" 'BEGIN { w = n - now; printf "%.3f", (w > 0 ? w : 0) }')
    sleep "$wait_s"
done
elapsed=$(awk -v s="$start" -v now="$(date +%s.%N)" 'BEGIN { printf "%.1f", now - s }')

# ---- results -----------------------------------------------------------------

# stats TOOL: "p50_ms p99_ms max_ms series rss_median_mib rss_max_mib" over
# the samples (nearest-rank percentiles).
stats() {
    local f=$WORK/$1.samples lat rss series
    lat=$(awk '{ print $1 * 1000 }' "$f" | sort -g | awk '
        { v[NR] = $1 }
        END { i50 = int(0.5 * NR + 0.999999); i99 = int(0.99 * NR + 0.999999)
              printf "%.2f %.2f %.2f", v[i50], v[i99], v[NR] }')
    rss=$(awk '{ print $3 }' "$f" | sort -n | awk '
        { v[NR] = $1 }
        END { printf "%.1f %.1f", v[int(0.5 * NR + 0.999999)] / 1024, v[NR] / 1024 }')
    series=$(tail -n 1 "$f" | awk '{ print $2 }')
    echo "$lat $series $rss"
}

declare -A RSS CPU P99
VALUES=()
{
    printf '\nfootprint: %s scrapes every %s s (%s s measured), same PostgreSQL, Redis and PgBouncer\n' \
        "$n" "$INTERVAL" "$elapsed"
    printf '%-20s %10s %10s %9s %11s %11s %10s %8s\n' tool rss_MiB rss_max cpu_s cpu_%core \
        scrape_p50 scrape_p99 series
} >&2
for t in "${TOOLS[@]}"; do
    read -r p50 p99 pmax series rss rss_max <<<"$(stats "$t")"
    : "$pmax"
    cpu=$(awk -v a="${T0[$t]}" -v b="$(proc_ticks "${PID[$t]}")" -v h="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / h }')
    pct=$(awk -v c="$cpu" -v e="$elapsed" 'BEGIN { printf "%.3f", (e > 0 ? 100 * c / e : 0) }')
    RSS[$t]=$rss
    CPU[$t]=$cpu
    P99[$t]=$p99
    printf '%-20s %10s %10s %9s %11s %11s %10s %8s\n' "$t" "$rss" "$rss_max" "$cpu" "$pct" \
        "${p50}ms" "${p99}ms" "$series" >&2
    VALUES+=("footprint_rss_mib_$t=$rss" "footprint_cpu_seconds_$t=$cpu" "footprint_scrape_p50_ms_$t=$p50"
        "footprint_scrape_p99_ms_$t=$p99" "footprint_series_$t=$series")
done
ex_rss=$(for t in "${EXPORTERS[@]}"; do echo "${RSS[$t]}"; done | awk '{ s += $1 } END { printf "%.1f", s }')
ex_cpu=$(for t in "${EXPORTERS[@]}"; do echo "${CPU[$t]}"; done | awk '{ s += $1 } END { printf "%.2f", s }')
printf '%-20s %10s %10s %9s\n' "exporters together" "$ex_rss" "" "$ex_cpu" >&2
printf '(rss_MiB: median of the per-scrape VmRSS samples; cpu_s: utime + stime over the window; series: lines in the last scrape)\n' >&2

VALUES+=("footprint_seconds=$elapsed" "footprint_scrapes=$n" "footprint_agent_revision=${REVISION:-unknown}"
    "footprint_rss_mib_exporters=$ex_rss" "footprint_cpu_seconds_exporters=$ex_cpu")
printf '%s\n' "${VALUES[@]}"
awk -v a="${RSS[agent]}" -v e="$ex_rss" 'BEGIN { printf "rss_ratio_vs_exporters=%.3f\n", (e > 0 ? a / e : 0) }'
awk -v a="${CPU[agent]}" -v e="$ex_cpu" 'BEGIN { printf "cpu_ratio_vs_exporters=%.3f\n", (e > 0 ? a / e : 0) }'
printf 'scrape_p99_ms=%s\n' "${P99[agent]}"
