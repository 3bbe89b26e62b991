#!/usr/bin/env bash
# The off-CPU probe's cost, side by side (run by `scripts/bench.sh offcpu`):
#
#   bench/offcpu_bench.sh TRACER WORKDIR
#
# TRACER is the built poolscope_bench_offcpu. Four modes take turns, round
# after round, each on a fresh `perf bench sched pipe -T` process (two
# threads passing a token through a pipe; every hand-over is two context
# switches), both threads pinned to one CPU:
#   none        no probe
#   noop        a BPF program that does nothing on sched_switch: the floor
#               any program there costs (in a VM with retpolines, a lot)
#   hist        poolscope, histograms only (what the agent always runs)
#   stacks      poolscope, stack sampling on the whole time (probability 0.05)
#   offcputime  libbpf-tools offcputime -p PID (full stacks on every switch)
# A tracer is attached to the workload's pid before the workload starts
# (the workload waits on a fifo, then execs perf, keeping its pid).
#
# Slowdown: median CPU time per op (user + system of the workload's threads,
# in which the BPF programs run; other processes on the CPU do not count)
# against `none`, over interleaved rounds with the kernel's BPF statistics
# off; the wall-clock slowdown is printed beside it.
# Cost per event: one more run per tracer with kernel.bpf_stats_enabled=1
# (restored at exit): run_time_ns / run_cnt of the tracer's sched_switch
# program from `bpftool prog show id N`, over the workload's run only (every
# context switch on the machine counts, the workload's are nearly all).
#
# Progress goes to stderr; stdout gets name=value lines, the headline figures
# last: ns_per_event= slowdown_pct= ratio_vs_offcputime= (histogram mode).
#
# Environment: OFFCPU_LOOPS (perf loops per run, 200000), OFFCPU_ROUNDS (9),
# OFFCPU_CPU (the CPU both threads run on, 1), OFFCPU_PROBABILITY (0.05).
set -euo pipefail

[ "$#" -eq 2 ] || {
    sed -n '2,31s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
}
TRACER=$1
WORK=$2
LOOPS=${OFFCPU_LOOPS:-200000}
ROUNDS=${OFFCPU_ROUNDS:-9}
CPU=${OFFCPU_CPU:-1}
PROBABILITY=${OFFCPU_PROBABILITY:-0.05}
BPFTOOL=$(command -v bpftool || echo /usr/sbin/bpftool)
OFFCPUTIME=$(command -v offcputime || echo /usr/sbin/offcputime)
MODES=(none noop hist stacks offcputime)

log() { printf '[offcpu] %s\n' "$*" >&2; }
die() {
    printf '[offcpu] error: %s\n' "$*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (BPF programs and kernel.bpf_stats_enabled)"
[ -x "$TRACER" ] || die "no tracer at $TRACER"
[ -x "$BPFTOOL" ] || die "bpftool not found (Debian package bpftool)"
[ -x "$OFFCPUTIME" ] || die "offcputime not found (Debian package libbpf-tools)"
command -v perf >/dev/null || die "perf not found (Debian package linux-perf)"
[ "$CPU" -lt "$(nproc)" ] || CPU=0

mkdir -p "$WORK"
STATS_BEFORE=$(sysctl -n kernel.bpf_stats_enabled)
WPID=''
TPID=''
# shellcheck disable=SC2317 # invoked via trap
cleanup() {
    local rc=$?
    set +e
    [ -n "$TPID" ] && kill -INT "$TPID" 2>/dev/null && wait "$TPID" 2>/dev/null
    [ -n "$WPID" ] && kill -KILL "$WPID" 2>/dev/null && wait "$WPID" 2>/dev/null
    sysctl -q -w kernel.bpf_stats_enabled="$STATS_BEFORE" >/dev/null
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# max_prog_id: the highest BPF program id loaded now (0 when none).
max_prog_id() {
    "$BPFTOOL" prog show 2>/dev/null | awk -F: '/^[0-9]+:/ { if ($1 > m) m = $1 } END { print m + 0 }'
}

# new_switch_prog AFTER: the id of a sched_switch program loaded after
# program id AFTER (offcputime's; Debian's bpftool cannot show its owner).
new_switch_prog() {
    "$BPFTOOL" prog show 2>/dev/null | awk -v after="$1" '
        /^[0-9]+:/ { id = $1; sub(":", "", id); if (id + 0 > after + 0 && $4 ~ /^sched_switch/) { print id; exit } }'
}

# prog_stats ID: "run_time_ns run_cnt" of program ID (0 0 when unknown).
prog_stats() {
    "$BPFTOOL" prog show id "$1" 2>/dev/null | awk '
        { for (i = 1; i < NF; i++) {
              if ($i == "run_time_ns") t = $(i + 1)
              if ($i == "run_cnt") c = $(i + 1) } }
        END { printf "%d %d\n", t, c }'
}

# attached AFTER: true once a sched_switch program newer than AFTER exists
# and is linked to the tracepoint (loaded is not yet attached).
attached() {
    local id
    id=$(new_switch_prog "$1")
    [ -n "$id" ] && "$BPFTOOL" link show 2>/dev/null | grep -q "prog $id\b"
}

# wait_for WHAT SECONDS CMD...: poll CMD every 50 ms until it succeeds.
wait_for() {
    local what=$1 tries=$(($2 * 20))
    shift 2
    until "$@"; do
        ((tries-- > 0)) || die "timed out waiting for $what"
        sleep 0.05
    done
}

# children_cpu: sets CHILDREN_US to the user + system CPU time of this
# shell's reaped children so far, in microseconds (bash `times`, no fork).
children_cpu() {
    local _ u s
    times >"$WORK/times"
    { read -r _ && read -r u s; } <"$WORK/times"
    CHILDREN_US=0
    local t m sec whole frac
    for t in "$u" "$s"; do # 1m2.345s
        m=${t%%m*}
        sec=${t#*m}
        sec=${sec%s}
        whole=${sec%.*}
        frac=${sec#*.}000000
        frac=${frac:0:6}
        CHILDREN_US=$((CHILDREN_US + (10#$m * 60 + 10#$whole) * 1000000 + 10#$frac))
    done
}

# run MODE ROUND time|cost: one workload run. "time" (BPF statistics off)
# appends wall-clock usecs/op to $WORK/MODE.time and the workload's CPU
# usecs/op (user + system of its threads, which the BPF programs run in) to
# $WORK/MODE.cpu; "cost" (statistics on) appends the tracer program's
# "run_time_ns run_cnt" over the run to $WORK/MODE.cost.
run() {
    local mode=$1 round=$2 measure=$3 fifo=$WORK/go out=$WORK/$1.$2.perf tout=$WORK/$1.$2.tracer
    local prog='' before after
    rm -f "$fifo"
    mkfifo "$fifo"
    bash -c 'read -r _ <"$1"; exec taskset -c "$2" perf bench sched pipe -T -l "$3"' \
        _ "$fifo" "$CPU" "$LOOPS" >"$out" 2>&1 &
    WPID=$!
    case $mode in
        hist | stacks | noop)
            "$TRACER" --pid "$WPID" --mode "$mode" --probability "$PROBABILITY" >"$tout" 2>&1 &
            TPID=$!
            wait_for "the poolscope tracer" 20 grep -qs '^ready$\|^error=' "$tout"
            grep -q '^error=' "$tout" && die "poolscope tracer: $(cat "$tout")"
            prog=$(sed -n 's/^prog_id=//p' "$tout")
            ;;
        offcputime)
            local last
            last=$(max_prog_id)
            "$OFFCPUTIME" -p "$WPID" >"$tout" 2>&1 &
            TPID=$!
            wait_for "offcputime to attach" 60 attached "$last"
            prog=$(new_switch_prog "$last")
            ;;
    esac
    before="0 0"
    [ -n "$prog" ] && before=$(prog_stats "$prog")
    children_cpu
    local cpu0=$CHILDREN_US
    echo go >"$fifo"
    wait "$WPID" || die "perf bench failed: $(cat "$out")"
    WPID=''
    children_cpu
    local cpu_us=$((CHILDREN_US - cpu0))
    after="0 0"
    [ -n "$prog" ] && after=$(prog_stats "$prog")
    if [ -n "$TPID" ]; then
        kill -INT "$TPID"
        wait "$TPID" || true
        TPID=''
    fi
    local usecs
    usecs=$(awk '/usecs\/op/ { print $1 }' "$out")
    [ -n "$usecs" ] || die "no usecs/op in $(cat "$out")"
    read -r t0 c0 <<<"$before"
    read -r t1 c1 <<<"$after"
    if [ "$measure" = time ]; then
        local cpu_per_op
        cpu_per_op=$(awk -v c="$cpu_us" -v n="$LOOPS" 'BEGIN { printf "%.4f\n", c / n }')
        echo "$usecs" >>"$WORK/$mode.time"
        echo "$cpu_per_op" >>"$WORK/$mode.cpu"
        log "$(printf '%-10s round %s: %8s usecs/op, %s CPU usecs/op' "$mode" "$round" "$usecs" \
            "$cpu_per_op")"
    else
        echo "$((t1 - t0)) $((c1 - c0))" >>"$WORK/$mode.cost"
        log "$(printf '%-10s cost run: %d events, %d ns/event' "$mode" $((c1 - c0)) \
            $(((t1 - t0) / (c1 > c0 ? c1 - c0 : 1))))"
    fi
}

log "perf bench sched pipe -T -l $LOOPS on CPU $CPU, $ROUNDS rounds of: ${MODES[*]}"
for mode in "${MODES[@]}"; do rm -f "$WORK/$mode".{time,cpu,cost}; done
# Timing with the BPF statistics off (they add two clock reads per run).
sysctl -q -w kernel.bpf_stats_enabled=0 >/dev/null
run none warm-up time # unmeasured: page cache, CPU frequency
rm -f "$WORK/none.time" "$WORK/none.cpu"
for ((round = 1; round <= ROUNDS; round++)); do
    for mode in "${MODES[@]}"; do run "$mode" "$round" time; done
done
# Cost per event with the statistics on, one run per tracer.
sysctl -q -w kernel.bpf_stats_enabled=1 >/dev/null
for mode in noop hist stacks offcputime; do run "$mode" cost cost; done
sysctl -q -w kernel.bpf_stats_enabled="$STATS_BEFORE" >/dev/null

# median FILE: the median of FILE's numbers.
median() {
    sort -g "$1" | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# per_event FILE: total run time over total runs, in ns.
per_event() {
    awk '{ t += $1; c += $2 } END { if (c > 0) printf "%.1f\n", t / c; else print "nan" }' "$1"
}

none=$(median "$WORK/none.time")
none_cpu=$(median "$WORK/none.cpu")
declare -A usecs cpu ns slow wall_slow
for mode in noop hist stacks offcputime; do
    usecs[$mode]=$(median "$WORK/$mode.time")
    cpu[$mode]=$(median "$WORK/$mode.cpu")
    ns[$mode]=$(per_event "$WORK/$mode.cost")
    # Slowdown from CPU time: what the workload's own threads spent, so other
    # processes on the CPU do not count; wall-clock beside it.
    slow[$mode]=$(awk -v a="${cpu[$mode]}" -v b="$none_cpu" 'BEGIN { printf "%.1f\n", (a / b - 1) * 100 }')
    wall_slow[$mode]=$(awk -v a="${usecs[$mode]}" -v b="$none" 'BEGIN { printf "%.1f\n", (a / b - 1) * 100 }')
done
ratio=$(awk -v a="${ns[offcputime]}" -v b="${ns[hist]}" 'BEGIN { printf "%.1f\n", a / b }')
over_noop=$(awk -v a="${cpu[hist]}" -v b="${cpu[noop]}" 'BEGIN { printf "%.1f\n", (a / b - 1) * 100 }')

log "median usecs/op: none $none, noop ${usecs[noop]}, hist ${usecs[hist]}," \
    "stacks ${usecs[stacks]}, offcputime ${usecs[offcputime]}"
log "median CPU usecs/op: none $none_cpu, noop ${cpu[noop]}, hist ${cpu[hist]}," \
    "stacks ${cpu[stacks]}, offcputime ${cpu[offcputime]}"
log "ns per event: noop ${ns[noop]}, hist ${ns[hist]}, stacks ${ns[stacks]}," \
    "offcputime ${ns[offcputime]}"
cat <<EOF
offcpu_none_usecs_per_op=$none
offcpu_noop_usecs_per_op=${usecs[noop]}
offcpu_hist_usecs_per_op=${usecs[hist]}
offcpu_stacks_usecs_per_op=${usecs[stacks]}
offcpu_offcputime_usecs_per_op=${usecs[offcputime]}
offcpu_none_cpu_usecs_per_op=$none_cpu
offcpu_noop_cpu_usecs_per_op=${cpu[noop]}
offcpu_hist_cpu_usecs_per_op=${cpu[hist]}
offcpu_stacks_cpu_usecs_per_op=${cpu[stacks]}
offcpu_offcputime_cpu_usecs_per_op=${cpu[offcputime]}
offcpu_noop_wall_slowdown_pct=${wall_slow[noop]}
offcpu_hist_wall_slowdown_pct=${wall_slow[hist]}
offcpu_stacks_wall_slowdown_pct=${wall_slow[stacks]}
offcpu_offcputime_wall_slowdown_pct=${wall_slow[offcputime]}
offcpu_noop_ns_per_event=${ns[noop]}
offcpu_stacks_ns_per_event=${ns[stacks]}
offcpu_offcputime_ns_per_event=${ns[offcputime]}
offcpu_noop_slowdown_pct=${slow[noop]}
offcpu_hist_slowdown_over_noop_pct=$over_noop
offcpu_stacks_slowdown_pct=${slow[stacks]}
offcpu_offcputime_slowdown_pct=${slow[offcputime]}
ns_per_event=${ns[hist]}
slowdown_pct=${slow[hist]}
ratio_vs_offcputime=$ratio
EOF
