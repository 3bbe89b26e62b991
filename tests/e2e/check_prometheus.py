#!/usr/bin/env python3
"""The end-to-end test's checks against a running Prometheus.

  check_prometheus.py REPO_ROOT PROM_URL wait-alerts SECONDS ALERT...
      poll /api/v1/alerts until every ALERT is firing (exit 1 at the deadline)
  check_prometheus.py REPO_ROOT PROM_URL targets
      every scrape target is up
  check_prometheus.py REPO_ROOT PROM_URL panels [--skip-board FILE:REASON]...
      every panel query of every dashboard (variables filled in: $__rate_interval
      -> 1m, instance/pool/cache/target/process -> .*) and every variable's
      label_values query returns at least one series; prints each that does not
"""
import json
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path


def get(url, path, **params):
    q = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{url}{path}?{q}", timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{path}: {body}")
    return body["data"]


def wait_alerts(url, seconds, names):
    deadline = time.monotonic() + seconds
    states = {}
    while True:
        states = {}
        for a in get(url, "/api/v1/alerts")["alerts"]:
            n = a["labels"].get("alertname")
            if states.get(n) != "firing":
                states[n] = a["state"]
        if all(states.get(n) == "firing" for n in names):
            for n in names:
                print(f"ok: alert {n} is firing")
            return 0
        if time.monotonic() > deadline:
            for n in names:
                print(f"{'ok' if states.get(n) == 'firing' else 'FAIL'}: alert {n} is "
                      f"{states.get(n, 'inactive')}")
            print("alerts seen: " + json.dumps(states, sort_keys=True))
            return 1
        time.sleep(2)


def targets(url):
    active = get(url, "/api/v1/targets")["activeTargets"]
    bad = [t for t in active if t["health"] != "up"]
    for t in active:
        print(f"{'ok' if t['health'] == 'up' else 'FAIL'}: target {t['scrapeUrl']} "
              f"is {t['health']} {t.get('lastError', '')}".rstrip())
    if not active:
        print("FAIL: no scrape targets")
        return 1
    return 1 if bad else 0


def panels(root, url, skips):
    sys.path.insert(0, str(root / "tests/dashboards"))
    import lint_dashboards as lint  # the lint's own query extraction and filling

    known, _ = lint.load_known(root)
    failed = skipped = passed = 0
    for path in sorted((root / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        if path.name in skips:
            for p in board["panels"]:
                for t in p.get("targets", []):
                    skipped += 1
                    print(f"SKIPPED panel: {path.name} '{p['title']}' {t['refId']}: "
                          f"{skips[path.name]}")
            continue
        exprs = []
        lint.lint_dashboard(path, known, [], exprs)
        for v in board["templating"]["list"]:
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            if v["type"] == "query" and q.startswith("label_values("):
                inner = q[len("label_values("):-1]
                selector, label = inner.rsplit(",", 1)
                exprs.append((path.name, f"variable {v['name']}", "-",
                              lint.fill(f"count by ({label.strip()}) ({selector})")))
        for board_name, title, ref, expr in exprs:
            try:
                result = get(url, "/api/v1/query", query=expr)["result"]
            except Exception as e:  # a query Prometheus rejects is a failure too
                result, err = [], str(e)
            else:
                err = ""
            if result:
                passed += 1
            else:
                failed += 1
                print(f"FAIL: {board_name} '{title}' {ref}: no series for {expr} {err}".rstrip())
    print(f"panel queries: {passed} with series, {failed} without, {skipped} skipped")
    return 1 if failed else 0


def main():
    root, url, verb = Path(sys.argv[1]), sys.argv[2].rstrip("/"), sys.argv[3]
    args = sys.argv[4:]
    if verb == "wait-alerts":
        return wait_alerts(url, float(args[0]), args[1:])
    if verb == "targets":
        return targets(url)
    if verb == "panels":
        skips = {}
        while args:
            if args[0] == "--skip-board":
                name, reason = args[1].split(":", 1)
                skips[name] = reason
                args = args[2:]
            else:
                raise SystemExit(f"unknown argument {args[0]}")
        return panels(root, url, skips)
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
