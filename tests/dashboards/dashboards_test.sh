#!/usr/bin/env bash
# Dashboards and alert rules: `promtool check rules` and `promtool test rules`
# on dashboards/alerts, the generated dashboards are up to date, the dashboard
# lint (tests/dashboards/lint_dashboards.py) passes and every panel query
# parses as PromQL; then the lint is shown to catch a broken copy.
#
#   dashboards_test.sh REPO_ROOT
set -euo pipefail

ROOT=$(cd "${1:?usage: dashboards_test.sh REPO_ROOT}" && pwd)
for tool in promtool python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIPPED: $tool is not installed (apt-get install prometheus python3)"
        exit 0
    fi
done

TMP=$(mktemp -d /tmp/poolscope-dashboards-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail=0
step() { printf '== %s\n' "$*"; }
bad() {
    printf 'FAILED: %s\n' "$*"
    fail=1
}

step "promtool check rules"
rules=()
for f in "$ROOT"/dashboards/alerts/*.yml; do
    case $f in *_test.yml) ;; *) rules+=("$f") ;; esac
done
[ "${#rules[@]}" -gt 0 ] || bad "no rule files in dashboards/alerts"
promtool check rules "${rules[@]}" || bad "promtool check rules"
n=$(grep -cE '^\s+- alert: ' "${rules[@]}" | awk -F: '{ s += $NF } END { print s }')
[ "$n" -eq 13 ] || bad "expected 13 alert rules, found $n"

step "promtool test rules"
tests=("$ROOT"/dashboards/alerts/*_test.yml)
(cd "$ROOT/dashboards/alerts" && promtool test rules "${tests[@]##*/}") || bad "promtool test rules"
# Every alert has a firing case in the tests.
while read -r a; do
    grep -qE "alertname: $a\$" "${tests[@]}" || bad "alert $a has no promtool test"
done < <(grep -hoE '^\s+- alert: \w+' "${rules[@]}" | awk '{ print $3 }')

step "dashboards/generate.py --check"
python3 "$ROOT/dashboards/generate.py" --check || bad "dashboards JSON out of date"

step "lint"
python3 "$ROOT/tests/dashboards/lint_dashboards.py" "$ROOT" --exprs-out "$TMP/queries.yml" ||
    bad "dashboard lint"
promtool check rules "$TMP/queries.yml" >/dev/null || bad "a panel query does not parse"

step "lint catches a broken copy"
mkdir -p "$TMP/broken/dashboards/alerts" "$TMP/broken/tests/dashboards"
cp "$ROOT"/dashboards/*.json "$TMP/broken/dashboards/"
cp "$ROOT"/dashboards/alerts/*.yml "$TMP/broken/dashboards/alerts/"
cp "$ROOT/tests/dashboards/known_metrics.txt" "$TMP/broken/tests/dashboards/"
for d in agent exporters probes; do ln -s "$ROOT/$d" "$TMP/broken/$d"; done
python3 - "$TMP/broken/dashboards/pool-health.json" <<'PY'
import json, sys
p = sys.argv[1]
b = json.load(open(p))
panels = [x for x in b["panels"] if x["type"] != "row"]
del panels[0]["fieldConfig"]["defaults"]["unit"]
panels[1]["datasource"] = {"type": "prometheus", "uid": "abc"}
panels[2]["targets"][0]["expr"] = "rate(poolscope_pool_acquires_total[5m])"
panels[3]["targets"][0]["expr"] = "poolscope_pool_no_such_metric"
json.dump(b, open(p, "w"))
PY
out=$(python3 "$ROOT/tests/dashboards/lint_dashboards.py" "$TMP/broken" || true)
# shellcheck disable=SC2016 # literal $__rate_interval in a grep pattern
for want in 'no unit' 'datasource is not' 'without \[\$__rate_interval\]' \
    'unknown metric poolscope_pool_no_such_metric'; do
    grep -q "$want" <<<"$out" || bad "lint did not report '$want' on the broken copy"
done

if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "dashboards_test: all checks passed"
