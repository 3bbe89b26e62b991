# shellcheck shell=bash
# Shared helpers for the poolscope scripts. Source this file; do not execute it.
#
# Conventions: anything meant for humans goes to stderr; stdout is reserved for
# the single machine-readable answer of a command (a port, a DSN, ...).

# Absolute path of the repository root (scripts/lib/../..).
# shellcheck disable=SC2034 # used by the scripts sourcing this file
PS_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PS_TAG=${PS_TAG:-poolscope}

ps_log() { printf '[%s] %s\n' "$PS_TAG" "$*" >&2; }
ps_warn() { printf '[%s] warning: %s\n' "$PS_TAG" "$*" >&2; }
ps_die() {
    printf '[%s] error: %s\n' "$PS_TAG" "$*" >&2
    exit 1
}

# ps_abs PATH -> absolute, normalised path (the path need not exist).
ps_abs() { realpath -m -- "$1"; }

# ps_port_busy PORT: true when a TCP socket other than a TIME-WAIT leftover
# uses PORT locally, i.e. a fresh server could not safely bind it. (All our
# servers set SO_REUSEADDR, so TIME-WAIT does not matter.)
ps_port_busy() {
    local port=$1
    if command -v ss >/dev/null 2>&1; then
        ss -Htan "sport = :$port" 2>/dev/null | awk '$1 != "TIME-WAIT" { busy = 1 } END { exit !busy }'
        return
    fi
    # Fallback without iproute2: something accepts connections on it.
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# ps_port_listening PORT: true when something listens on TCP PORT.
ps_port_listening() {
    local port=$1
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ]
        return
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# ps_pick_port: print a random free TCP port below the kernel's ephemeral
# range (ip_local_port_range, 32768-60999 by default): a port picked inside it
# can be taken by any outgoing connection before the server binds it.
ps_pick_port() {
    local i port lo=10000 hi=32767 first
    if read -r first _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null &&
        [[ $first =~ ^[0-9]+$ ]] && ((first > lo + 1000)); then
        hi=$((first - 1))
    fi
    for ((i = 0; i < 200; i++)); do
        port=$((lo + ((RANDOM << 15) | RANDOM) % (hi - lo + 1)))
        if ! ps_port_busy "$port"; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    ps_die "could not find a free TCP port in $lo-$hi"
}

# ps_pid_state PID: print the one-letter state from /proc/PID/stat (R, S, T,
# Z, ...) or nothing when the process does not exist.
ps_pid_state() {
    local pid=$1 stat
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    printf '%s\n' "${stat%% *}"
}

# ps_pid_alive PID [COMM]: true when PID exists, is not a zombie and (when
# given) its command name is COMM. Zombies count as dead: inside containers
# PID 1 does not always reap orphans.
ps_pid_alive() {
    local pid=$1 comm=${2:-} state actual
    state=$(ps_pid_state "$pid")
    case $state in
        '' | Z | X | x) return 1 ;;
    esac
    if [ -n "$comm" ]; then
        actual=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
        [ "$actual" = "$comm" ] || return 1
    fi
    return 0
}

# ps_pid_frozen PID: true when PID is stopped by a signal (SIGSTOP).
ps_pid_frozen() {
    local state
    state=$(ps_pid_state "$1")
    [ "$state" = T ]
}

# ps_wait_dead PID SECONDS: wait (polling every 0.1 s) until PID is gone.
ps_wait_dead() {
    local pid=$1 tries=$(($2 * 10))
    while ps_pid_alive "$pid"; do
        ((tries-- > 0)) || return 1
        sleep 0.1
    done
    return 0
}

# ps_descendants PID: print all descendant PIDs of PID, one per line.
ps_descendants() {
    local child
    for child in $(pgrep -P "$1" 2>/dev/null || true); do
        printf '%s\n' "$child"
        ps_descendants "$child"
    done
}

# ps_signal_tree SIGNAL PID: send SIGNAL to PID first, then to every
# descendant (collected after the root was signalled, so a stopped parent
# cannot fork new children behind our back).
ps_signal_tree() {
    local sig=$1 pid=$2 p
    kill "-$sig" "$pid" 2>/dev/null || true
    for p in $(ps_descendants "$pid"); do
        kill "-$sig" "$p" 2>/dev/null || true
    done
}

# ps_read_pidfile FILE: print the first line of FILE (empty when missing).
ps_read_pidfile() {
    local line=''
    if [ -r "$1" ]; then
        IFS= read -r line <"$1" || true
    fi
    printf '%s\n' "$line"
}

# ps_service_user: the unprivileged account used to run PostgreSQL and
# PgBouncer when we are root (both refuse to run as root). When not root,
# the current user is used as is.
ps_service_user() {
    if [ "$(id -u)" -ne 0 ]; then
        id -un
        return
    fi
    if getent passwd postgres >/dev/null 2>&1; then
        echo postgres
        return
    fi
    if ! getent passwd poolscope-pg >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home \
            --home-dir /nonexistent --shell /usr/sbin/nologin poolscope-pg >&2 ||
            ps_die "could not create system user poolscope-pg"
    fi
    echo poolscope-pg
}

# ps_as_user USER CMD...: run CMD as USER (via runuser when we are root).
# Runs from / so an unreadable working directory does not produce warnings.
ps_as_user() {
    local user=$1
    shift
    if [ "$(id -u)" -eq 0 ] && [ "$user" != root ]; then
        (cd / && runuser -u "$user" -- "$@")
    else
        (cd / && "$@")
    fi
}

# ps_ensure_traversable DIR USER: make DIR (mode 755) and all its ancestors
# searchable by USER, adding o+x to ancestors only where really needed.
ps_ensure_traversable() {
    local dir=$1 user=$2 p
    [ "$(id -u)" -eq 0 ] && [ "$user" != root ] || return 0
    chmod 755 "$dir"
    if runuser -u "$user" -- test -x "$dir" 2>/dev/null; then
        return 0
    fi
    p=$dir
    while [ "$p" != / ]; do
        p=$(dirname "$p")
        if ! runuser -u "$user" -- test -x "$p" 2>/dev/null; then
            ps_warn "adding o+x to $p so that user $user can reach $dir"
            chmod o+x "$p"
        fi
    done
}

# ps_show_log FILE: print the tail of a log file to stderr (for failures).
ps_show_log() {
    if [ -r "$1" ]; then
        printf '[%s] ---- last lines of %s ----\n' "$PS_TAG" "$1" >&2
        tail -n 30 "$1" >&2 || true
        printf '[%s] ----\n' "$PS_TAG" >&2
    fi
}

# ---- generic helpers for daemons tracked by a pid file -----------------

# ps_daemon_pid PIDFILE COMM: print the pid when that daemon is alive.
ps_daemon_pid() {
    local pid
    pid=$(ps_read_pidfile "$1")
    if ps_pid_alive "$pid" "$2"; then
        printf '%s\n' "$pid"
    fi
}

# ps_daemon_stop PIDFILE COMM [SECONDS]: SIGCONT (in case it is frozen),
# SIGTERM, wait up to SECONDS (default 15), then SIGKILL. No-op when not
# running.
ps_daemon_stop() {
    local pid
    pid=$(ps_daemon_pid "$1" "$2")
    [ -n "$pid" ] || return 0
    ps_signal_tree CONT "$pid"
    kill -TERM "$pid" 2>/dev/null || true
    if ! ps_wait_dead "$pid" "${3:-15}"; then
        ps_warn "$2 (pid $pid) ignored SIGTERM; sending SIGKILL"
        ps_signal_tree KILL "$pid"
        ps_wait_dead "$pid" 5 || ps_die "could not kill $2 (pid $pid)"
    fi
}

# ps_daemon_kill PIDFILE COMM: SIGKILL (simulated crash). Fails when the
# daemon is not running.
ps_daemon_kill() {
    local pid children p
    pid=$(ps_daemon_pid "$1" "$2")
    [ -n "$pid" ] || ps_die "$2 is not running (pid file $1)"
    children=$(ps_descendants "$pid")
    kill -KILL "$pid"
    ps_wait_dead "$pid" 10 || ps_die "$2 (pid $pid) did not die"
    for p in $children; do
        kill -KILL "$p" 2>/dev/null || true
    done
}

# ps_daemon_signal PIDFILE COMM STOP|CONT: freeze or thaw the process tree.
ps_daemon_signal() {
    local pid
    pid=$(ps_daemon_pid "$1" "$2")
    [ -n "$pid" ] || ps_die "$2 is not running (pid file $1)"
    ps_signal_tree "$3" "$pid"
}

# ps_daemon_status PIDFILE COMM PORT: print running|frozen|stopped;
# returns 3 when stopped.
ps_daemon_status() {
    local pid
    pid=$(ps_daemon_pid "$1" "$2")
    if [ -z "$pid" ]; then
        echo stopped
        return 3
    fi
    if ps_pid_frozen "$pid"; then
        echo "frozen pid=$pid port=$3"
    else
        echo "running pid=$pid port=$3"
    fi
}

# ps_recorded_port FILE: print the port stored in FILE or fail.
ps_recorded_port() {
    local p
    p=$(ps_read_pidfile "$1")
    [[ $p =~ ^[0-9]+$ ]] || ps_die "no port recorded in $1 (start the fixture first)"
    printf '%s\n' "$p"
}

# ps_stop_fixtures_in DIR: stop every fixture server found below DIR (up to
# a few levels deep), whoever started it. Used by the cleanup traps so that
# servers started by individual tests under POOLSCOPE_TEST_TMP die too.
# Quiet on stdout; never fails.
ps_stop_fixtures_in() {
    local root=$1 fx=$PS_REPO_ROOT/scripts/fixtures marker d
    [ -d "$root" ] || return 0
    # Order matters: scrapers and poolers before the servers behind them.
    for marker in prometheus.yml pgbouncer.ini PG_VERSION redis.log; do
        while IFS= read -r -d '' d; do
            d=$(dirname "$d")
            case $marker in
                prometheus.yml) "$fx/prometheus.sh" stop "$d" ;;
                pgbouncer.ini) "$fx/pgbouncer.sh" stop "$d" ;;
                PG_VERSION)
                    # only DIR/pgdata/PG_VERSION, not a base/NNN/PG_VERSION
                    [ "$(basename "$d")" = pgdata ] || continue
                    "$fx/pg.sh" stop "$(dirname "$d")"
                    ;;
                redis.log) "$fx/redis.sh" stop "$d" ;;
            esac
        done < <(find "$root" -maxdepth 5 -name "$marker" -print0 2>/dev/null) >&2 || true
    done
    return 0
}
