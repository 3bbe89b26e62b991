#!/usr/bin/env bash
# The Debian package: cpack builds poolscope_*.deb from BUILD_DIR into a temp
# folder; dpkg-deb shows its contents, control files and conffiles; the unit
# passes `systemd-analyze verify`; lintian (when installed) reports no errors;
# the package is extracted into a throw-away root where the packaged agent
# accepts the packaged default config (--check-config) and, run as an
# unprivileged user the way the unit runs it (on a free port), serves /metrics
# and stops cleanly on SIGTERM. As root, the package is then really installed
# with `dpkg -i` (the poolscope user is created, the config is root:poolscope
# 0640), the installed agent is run the way the unit runs it (its User= and
# ExecStart=) and scraped, and the package is purged again; skipped when a
# poolscope package is already installed (it is never replaced) or with
# POOLSCOPE_TEST_DPKG=0.
#
#   package_test.sh BUILD_DIR
set -euo pipefail

BUILD=$(cd "${1:?usage: package_test.sh BUILD_DIR}" && pwd)
for tool in cpack dpkg-deb curl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIPPED: $tool is not installed"
        exit 0
    fi
done
[ -f "$BUILD/CPackConfig.cmake" ] || {
    echo "FAIL: $BUILD/CPackConfig.cmake missing (configure the build first)"
    exit 1
}

TMP=$(mktemp -d /tmp/poolscope-package-test.XXXXXX)
AGENT_PID=''
INSTALLED=''
# shellcheck disable=SC2317 # invoked via trap
cleanup() {
    if [ -n "$AGENT_PID" ]; then
        kill -KILL "$AGENT_PID" 2>/dev/null || true
        wait "$AGENT_PID" 2>/dev/null || true
    fi
    if [ -n "$INSTALLED" ]; then
        dpkg --purge "$INSTALLED" >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
fail=0
ok() { printf 'ok: %s\n' "$*"; }
bad() {
    printf 'FAIL: %s\n' "$*"
    fail=1
}
# check MESSAGE CMD...: ok or FAIL with MESSAGE, by CMD's status.
check() {
    local msg=$1
    shift
    if "$@"; then ok "$msg"; else bad "$msg"; fi
}

start=$SECONDS
if ! cpack -G DEB -B "$TMP/out" --config "$BUILD/CPackConfig.cmake" >"$TMP/cpack.log" 2>&1; then
    tail -n 40 "$TMP/cpack.log"
    echo "FAIL: cpack"
    exit 1
fi
debs=("$TMP"/out/poolscope_*.deb)
[ -f "${debs[0]}" ] || {
    echo "FAIL: cpack made no poolscope_*.deb"
    ls -la "$TMP/out"
    exit 1
}
DEB=${debs[0]}
ok "cpack built ${DEB##*/} in $((SECONDS - start)) s"

dpkg-deb -c "$DEB" | awk '{ print $NF }' | sed 's#^\./#/#' >"$TMP/contents"
for f in /usr/bin/poolscope-agent /lib/systemd/system/poolscope-agent.service \
    /etc/poolscope/poolscope.yaml \
    /usr/share/poolscope/alerts/poolscope-rules.yml \
    /usr/share/poolscope/provisioning/datasources/poolscope.yml \
    /usr/share/poolscope/provisioning/dashboards/poolscope.yml \
    /usr/share/doc/poolscope/examples/prometheus.yml \
    /usr/share/doc/poolscope/examples/alertmanager.yml \
    /usr/share/doc/poolscope/copyright; do
    check "contains $f" grep -qxF "$f" "$TMP/contents"
done
n=$(grep -c '^/usr/share/poolscope/dashboards/.*\.json$' "$TMP/contents" || true)
check "contains 6 dashboards (found $n)" [ "$n" -eq 6 ]
extra=$(grep -E '(_itest|bench|demo-workload|^/usr/bin/.*_test)' "$TMP/contents" || true)
check "ships no test, bench or demo programs ${extra//$'\n'/ }" [ -z "$extra" ]

dpkg-deb -e "$DEB" "$TMP/control"
check "conffiles: /etc/poolscope/poolscope.yaml" \
    grep -qxF /etc/poolscope/poolscope.yaml "$TMP/control/conffiles"
check "postinst creates the poolscope system user" \
    grep -qE 'adduser --system' "$TMP/control/postinst"
for s in postinst prerm postrm; do
    [ -x "$TMP/control/$s" ] || bad "$s is not executable"
done
depends=$(dpkg-deb -f "$DEB" Depends)
case $depends in
    *libc6* | *libpq5*) ok "Depends: $depends" ;;
    *) bad "Depends has no shared library dependencies: '$depends'" ;;
esac

ROOTFS=$TMP/root
dpkg-deb -x "$DEB" "$ROOTFS"
UNIT=$ROOTFS/lib/systemd/system/poolscope-agent.service
for want in '^User=poolscope$' '^NoNewPrivileges=yes$' '^ProtectSystem=strict$' \
    '^ProtectHome=yes$' '^PrivateTmp=yes$' '^Restart=on-failure$' \
    '^AmbientCapabilities=CAP_BPF CAP_PERFMON$' "^ExecReload=/bin/kill -HUP \\\$MAINPID\$"; do
    check "unit: $want" grep -qE "$want" "$UNIT"
done
if command -v systemd-analyze >/dev/null 2>&1; then
    # verify resolves ExecStart= against the real root: point it at the
    # extracted binary in a copy of the unit.
    sed "s#/usr/bin/poolscope-agent#$ROOTFS/usr/bin/poolscope-agent#g" "$UNIT" \
        >"$TMP/poolscope-agent.service"
    if out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$TMP/poolscope-agent.service" 2>&1) &&
        [ -z "$(grep -v -e 'Cannot add dependency job' -e 'Failed to create.*/init.scope' \
            -e 'Failed to open /dev/tty' <<<"$out" | grep -i poolscope || true)" ]; then
        ok "systemd-analyze verify: clean"
    else
        bad "systemd-analyze verify: $out"
    fi
    score=$(systemd-analyze security --offline=true "$TMP/poolscope-agent.service" 2>/dev/null |
        tail -n 1 || true)
    [ -z "$score" ] || echo "info: systemd-analyze security: $score"
else
    echo "SKIPPED (part): systemd-analyze is not installed; the unit was not verified"
fi

if command -v lintian >/dev/null 2>&1; then
    lintian --tag-display-limit 0 "$DEB" >"$TMP/lintian.log" 2>&1 || true
    if grep -q '^E:' "$TMP/lintian.log"; then
        bad "lintian errors:"
        grep '^E:' "$TMP/lintian.log"
    else
        ok "lintian: no errors ($(grep -c '^W:' "$TMP/lintian.log" || true) warnings)"
    fi
    grep '^W:' "$TMP/lintian.log" | sed 's/^/info: lintian /' || true
else
    echo "SKIPPED (part): lintian is not installed (apt-get install lintian)"
fi

AGENT=$ROOTFS/usr/bin/poolscope-agent
CONF=$ROOTFS/etc/poolscope/poolscope.yaml
if "$AGENT" --check-config "$CONF" >"$TMP/check.log" 2>&1; then
    ok "the packaged agent accepts the packaged default config"
else
    bad "poolscope-agent --check-config $CONF: $(cat "$TMP/check.log")"
fi

# Run it as the unit would (unprivileged, the packaged config) on a free port.
chmod 755 "$TMP"
sed 's#^\(  listen:\).*#\1 127.0.0.1:0#' "$CONF" >"$TMP/run.yaml"
chmod 644 "$TMP/run.yaml"
run_as=()
run_user=$(id -un)
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
    run_as=(setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs)
    run_user=nobody
fi
"${run_as[@]}" "$AGENT" --config "$TMP/run.yaml" >"$TMP/agent.log" 2>&1 &
AGENT_PID=$!
url=''
for ((i = 0; i < 100; i++)); do
    url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+/metrics' "$TMP/agent.log" | head -n 1 || true)
    [ -n "$url" ] && break
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.1
done
if [ -n "$url" ] && curl -fsS "$url" | grep -q '^poolscope_build_info{'; then
    ok "the packaged agent (as $run_user) serves $url"
else
    bad "the packaged agent did not serve /metrics: $(tail -n 5 "$TMP/agent.log")"
fi
kill -TERM "$AGENT_PID" 2>/dev/null || true
rc=0
wait "$AGENT_PID" || rc=$?
AGENT_PID=''
check "SIGTERM: exit $rc" [ "$rc" -eq 0 ]

# A real install, run and purge (root only; never over an installed package).
PKG=$(dpkg-deb -f "$DEB" Package)
if [ "$(id -u)" -ne 0 ] || ! command -v dpkg >/dev/null 2>&1 || ! command -v setpriv >/dev/null 2>&1; then
    echo "SKIPPED (part): dpkg -i needs root, dpkg and setpriv"
elif [ "${POOLSCOPE_TEST_DPKG:-1}" = 0 ]; then
    echo "SKIPPED (part): POOLSCOPE_TEST_DPKG=0: the package was not installed"
elif dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'install ok installed'; then
    echo "SKIPPED (part): a $PKG package is installed already; it is not replaced by a test"
else
    INSTALLED=$PKG
    if dpkg -i "$DEB" >"$TMP/dpkg-i.log" 2>&1; then
        ok "dpkg -i $(basename "$DEB")"
    else
        bad "dpkg -i: $(tail -n 5 "$TMP/dpkg-i.log")"
    fi
    check "install: the poolscope system user exists" getent passwd poolscope
    check "install: /etc/poolscope/poolscope.yaml is root:poolscope 0640" \
        [ "$(stat -c '%U:%G %a' /etc/poolscope/poolscope.yaml 2>/dev/null)" = "root:poolscope 640" ]
    check "install: dpkg lists the conffile" \
        grep -q '/etc/poolscope/poolscope.yaml' <<<"$(dpkg-query -W -f='${Conffiles}' "$PKG")"
    # Run it the way the unit does: its User= and ExecStart=, on a free port
    # (the installed config's listen address, edited as an operator would).
    unit=/lib/systemd/system/poolscope-agent.service
    user=$(sed -n 's/^User=//p' "$unit")
    read -r -a exec_start <<<"$(sed -n 's/^ExecStart=//p' "$unit")"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    sed -i "s#^\(  listen:\).*#\1 127.0.0.1:$port#" /etc/poolscope/poolscope.yaml
    setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs "${exec_start[@]}" \
        >"$TMP/installed.log" 2>&1 &
    AGENT_PID=$!
    served=0
    for ((i = 0; i < 100; i++)); do
        if curl -fsS "http://127.0.0.1:$port/metrics" >"$TMP/installed.metrics" 2>/dev/null &&
            grep -q '^poolscope_build_info{' "$TMP/installed.metrics"; then
            served=1
            break
        fi
        kill -0 "$AGENT_PID" 2>/dev/null || break
        sleep 0.1
    done
    check "the installed agent (User=$user, ${exec_start[*]}) serves /metrics" [ "$served" = 1 ]
    [ "$served" = 1 ] || tail -n 5 "$TMP/installed.log"
    kill -TERM "$AGENT_PID" 2>/dev/null || true
    rc=0
    wait "$AGENT_PID" || rc=$?
    AGENT_PID=''
    check "the installed agent stops on SIGTERM with exit 0 (exit $rc)" [ "$rc" -eq 0 ]
    if dpkg --purge "$PKG" >"$TMP/dpkg-purge.log" 2>&1; then
        ok "dpkg --purge $PKG"
    else
        bad "dpkg --purge: $(tail -n 5 "$TMP/dpkg-purge.log")"
    fi
    INSTALLED=''
    check "purge: the binary is gone" [ ! -e /usr/bin/poolscope-agent ]
    check "purge: /etc/poolscope is gone" [ ! -e /etc/poolscope/poolscope.yaml ]
    check "purge: dpkg no longer knows the package" \
        bash -c "! dpkg-query -W -f='\${Status}' $PKG 2>/dev/null | grep -q 'install ok installed'"
fi

echo "package_test: $((SECONDS - start)) s"
[ "$fail" -eq 0 ] || exit 1
echo "package_test: all checks passed"
