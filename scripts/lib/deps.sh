# shellcheck shell=bash
# Build/test dependencies and the standard build for poolscope (Debian 12).
# Source this file, then call:
#   poolscope_install_deps                       # apt-get only what is missing
#   poolscope_build [BUILD_DIR] [cmake args...]  # configure + build with Ninja
# Set POOLSCOPE_SKIP_DEPS=1 to make poolscope_install_deps a no-op.

# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

POOLSCOPE_DEB_PACKAGES=(
    build-essential cmake ninja-build pkg-config git
    clang clang-format clang-tidy libclang-rt-14-dev
    libpq-dev libhiredis-dev prometheus-cpp-dev libcivetweb-dev libssl-dev libcrypt-dev openssl
    libfmt-dev libyaml-cpp-dev libcli11-dev libspdlog-dev
    libgtest-dev libgmock-dev libbenchmark-dev
    postgresql postgresql-contrib redis-server pgbouncer prometheus
    curl procps iproute2 python3
    file lintian
    libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev linux-perf libbpf-tools llvm
    wrk prometheus-postgres-exporter prometheus-redis-exporter prometheus-pgbouncer-exporter
)

# Packages whose installation auto-starts a system service on a default port
# (5432, 6379, 6432, 9090; the exporters 9187, 9121, 9127), mapped to the
# service name.
declare -A POOLSCOPE_DEB_SERVICES=(
    [postgresql]=postgresql
    [redis-server]=redis-server
    [pgbouncer]=pgbouncer
    [prometheus]=prometheus
    [prometheus-postgres-exporter]=prometheus-postgres-exporter
    [prometheus-redis-exporter]=prometheus-redis-exporter
    [prometheus-pgbouncer-exporter]=prometheus-pgbouncer-exporter
)

_poolscope_apt_updated=0
_poolscope_sudo=()

_poolscope_pkg_installed() {
    local status
    status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)
    [[ $status == *"install ok installed"* ]]
}

_poolscope_stop_service() {
    local svc=$1
    ps_log "stopping and disabling the system service '$svc' (it was just installed)"
    local -a s=("${_poolscope_sudo[@]}")
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        "${s[@]}" systemctl stop "$svc" >/dev/null 2>&1 || true
        "${s[@]}" systemctl disable "$svc" >/dev/null 2>&1 || true
    else
        "${s[@]}" service "$svc" stop >/dev/null 2>&1 || true
        if command -v update-rc.d >/dev/null 2>&1; then
            "${s[@]}" update-rc.d "$svc" disable >/dev/null 2>&1 || true
        fi
    fi
}

poolscope_install_deps() {
    if [ "${POOLSCOPE_SKIP_DEPS:-0}" = 1 ]; then
        ps_log "POOLSCOPE_SKIP_DEPS=1: not checking system packages"
        return 0
    fi
    local pkg missing=() had_pg_cluster=0
    for pkg in "${POOLSCOPE_DEB_PACKAGES[@]}"; do
        _poolscope_pkg_installed "$pkg" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 ||
            ps_die "missing packages (${missing[*]}) and not root; install them as root"
        _poolscope_sudo=(sudo)
    fi
    # A PostgreSQL cluster that existed before is the user's: never stop it.
    if [ -n "$(ls -A /etc/postgresql 2>/dev/null || true)" ]; then
        had_pg_cluster=1
    fi

    ps_log "installing: ${missing[*]}"
    if [ "$_poolscope_apt_updated" -eq 0 ]; then
        "${_poolscope_sudo[@]}" apt-get update >&2
        _poolscope_apt_updated=1
    fi
    "${_poolscope_sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}" >&2

    for pkg in "${missing[@]}"; do
        [ -n "${POOLSCOPE_DEB_SERVICES[$pkg]:-}" ] || continue
        if [ "$pkg" = postgresql ] && [ "$had_pg_cluster" -eq 1 ]; then
            continue
        fi
        _poolscope_stop_service "${POOLSCOPE_DEB_SERVICES[$pkg]}"
    done
}

# poolscope_build [BUILD_DIR] [extra cmake args...]
# BUILD_DIR defaults to <repo>/build (an empty string also means the default).
poolscope_build() {
    local build=${1:-}
    if [ "$#" -gt 0 ]; then
        shift
    fi
    if [ -z "$build" ]; then
        build=$PS_REPO_ROOT/build
    fi
    build=$(ps_abs "$build")
    cmake -S "$PS_REPO_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
    # PS_BUILD_TARGETS (space-separated) builds only those targets.
    local -a targets=()
    if [ -n "${PS_BUILD_TARGETS:-}" ]; then
        read -r -a targets <<<"$PS_BUILD_TARGETS"
        targets=(--target "${targets[@]}")
    fi
    cmake --build "$build" -j"$(nproc)" "${targets[@]}"
}
