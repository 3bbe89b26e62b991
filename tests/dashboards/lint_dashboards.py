#!/usr/bin/env python3
"""Lints the poolscope Grafana dashboards and alert rules.

  lint_dashboards.py REPO_ROOT [--exprs-out FILE]

Checks every dashboards/*.json: valid JSON; a DS_PROMETHEUS datasource
variable (type datasource, query prometheus) and no __inputs references;
instance/pool/cache/target variables are label_values queries on that
datasource; every panel and target uses {"type":"prometheus",
"uid":"${DS_PROMETHEUS}"}; every panel has a unit and at least one query;
every rate/irate/increase uses [$__rate_interval]; every metric a query (or
an alert rule) names is in tests/dashboards/known_metrics.txt, and every
poolscope_ name there is registered somewhere in the agent's sources.
With --exprs-out, writes each panel query (variables filled in) as a
recording rule, so that `promtool check rules` can parse them all.
Prints one line per problem; exit status 1 when there is any.
"""
import json
import re
import sys
from pathlib import Path

DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
FUNCTIONS = {
    "abs", "absent", "absent_over_time", "avg", "avg_over_time", "bottomk", "ceil",
    "changes", "clamp", "clamp_max", "clamp_min", "count", "count_over_time", "count_values",
    "day_of_month", "day_of_week", "days_in_month", "delta", "deriv", "exp", "floor",
    "group", "histogram_quantile", "holt_winters", "hour", "idelta", "increase", "irate",
    "label_join", "label_replace", "last_over_time", "ln", "log10", "log2", "max",
    "max_over_time", "min", "min_over_time", "minute", "month", "predict_linear",
    "quantile", "quantile_over_time", "rate", "resets", "round", "scalar", "sgn", "sort",
    "sort_desc", "sqrt", "stddev", "stddev_over_time", "stdvar", "sum", "sum_over_time",
    "time", "timestamp", "topk", "vector", "year",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan",
}
RATE_FUNCS = ("rate", "irate", "increase")
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count")}
VAR_VALUES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


def load_known(root):
    known, families = set(), []
    for line in (root / "tests/dashboards/known_metrics.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, kind = line.split()
        families.append(name)
        if kind == "histogram":
            known.update(name + s for s in SUFFIXES["histogram"])
        else:
            known.add(name)
    return known, families


def metric_names(expr):
    """The metric names an expression selects (identifiers that are not functions)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)            # string literals
    e = re.sub(r"\{[^}]*\}", "", e)                            # label matchers
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)                           # range selectors
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        tok = m.group(0)
        if tok.lower() in FUNCTIONS or tok.startswith("$"):
            continue
        # a preceding '$' would mark a variable (already removed by the check above)
        names.add(tok)
    return names


def check_rates(expr, where, problems):
    for m in re.finditer(r"\b(%s)\s*\(" % "|".join(RATE_FUNCS), expr):
        depth, i = 1, m.end()
        while i < len(expr) and depth:
            depth += {"(": 1, ")": -1}.get(expr[i], 0)
            i += 1
        inner = expr[m.end():i - 1]
        ranges = re.findall(r"\[([^\]]*)\]", inner)
        if not ranges or any(r != "$__rate_interval" for r in ranges):
            problems.append(f"{where}: {m.group(1)}() without [$__rate_interval]: {expr}")


def fill(expr):
    out = expr
    for k, v in VAR_VALUES.items():
        out = out.replace(k, v)
    return re.sub(r"\$\{?([A-Za-z_]+)\}?", ".*", out)


def lint_dashboard(path, known, problems, exprs):
    try:
        board = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        problems.append(f"{path.name}: not valid JSON: {e}")
        return
    name = path.name
    if "__inputs" in board:
        problems.append(f"{name}: has __inputs (use the DS_PROMETHEUS variable only)")
    text = path.read_text()
    for ref in set(re.findall(r"\$\{(DS_[A-Z_]+)\}", text)):
        if ref != "DS_PROMETHEUS":
            problems.append(f"{name}: references ${{{ref}}}")
    if not board.get("uid") or not board.get("title"):
        problems.append(f"{name}: no uid or title")
    variables = {v.get("name"): v for v in board.get("templating", {}).get("list", [])}
    ds = variables.get("DS_PROMETHEUS")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append(f"{name}: no DS_PROMETHEUS variable of type datasource/prometheus")
    if "instance" not in variables:
        problems.append(f"{name}: no instance variable")
    for vname, v in variables.items():
        if vname == "DS_PROMETHEUS":
            continue
        if v.get("datasource") != DS:
            problems.append(f"{name}: variable {vname} does not use ${{DS_PROMETHEUS}}")
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if not isinstance(q, str) or not q.startswith("label_values("):
            problems.append(f"{name}: variable {vname} is not a label_values query")
            continue
        for metric in metric_names(q[len("label_values("):].rsplit(",", 1)[0]):
            if metric not in known:
                problems.append(f"{name}: variable {vname} queries unknown metric {metric}")
    panels = []
    for p in board.get("panels", []):
        panels.append(p)
        panels.extend(p.get("panels", []))
    count = 0
    for p in panels:
        if p.get("type") == "row":
            continue
        count += 1
        where = f"{name}: panel '{p.get('title')}'"
        if p.get("datasource") != DS:
            problems.append(f"{where}: datasource is not ${{DS_PROMETHEUS}}")
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit")
        if not unit:
            problems.append(f"{where}: no unit")
        targets = p.get("targets") or []
        if not targets:
            problems.append(f"{where}: no queries")
        for t in targets:
            expr = t.get("expr", "")
            if t.get("datasource") != DS:
                problems.append(f"{where} query {t.get('refId')}: datasource is not "
                                "${DS_PROMETHEUS}")
            if not expr.strip():
                problems.append(f"{where} query {t.get('refId')}: empty")
                continue
            check_rates(expr, where, problems)
            for metric in metric_names(expr):
                if metric not in known:
                    problems.append(f"{where}: unknown metric {metric} in {expr}")
            exprs.append((name, p.get("title"), t.get("refId"), fill(expr)))
    if count == 0:
        problems.append(f"{name}: no panels")


def lint_rules(root, known, problems):
    # Rule files are YAML; the expressions are found without a YAML parser:
    # `expr: ...` on one line or a `|` block below it.
    for path in sorted((root / "dashboards/alerts").glob("*.yml")):
        if path.name.endswith("_test.yml"):
            continue
        lines = path.read_text().splitlines()
        i = 0
        while i < len(lines):
            m = re.match(r"^(\s*)expr:\s*(.*)$", lines[i])
            i += 1
            if not m:
                continue
            expr = m.group(2)
            if expr.strip() in ("|", ">", "|-", ">-"):
                indent = len(m.group(1))
                body = []
                while i < len(lines) and (not lines[i].strip() or
                                          len(lines[i]) - len(lines[i].lstrip()) > indent):
                    body.append(lines[i])
                    i += 1
                expr = "\n".join(body)
            for metric in metric_names(expr):
                if metric not in known:
                    problems.append(f"{path.name}: unknown metric {metric}")


def check_sources(root, families, problems):
    sources = []
    for d in ("agent", "exporters", "probes"):
        for f in (root / d).rglob("*"):
            if f.suffix in (".cc", ".h") and f.is_file():
                sources.append(f.read_text(errors="replace"))
    blob = "\n".join(sources)
    for name in families:
        if name.startswith("poolscope_") and f'"{name}"' not in blob:
            problems.append(f"known_metrics.txt: {name} is registered nowhere in the sources")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    root = Path(sys.argv[1]).resolve()
    exprs_out = None
    if "--exprs-out" in sys.argv:
        exprs_out = Path(sys.argv[sys.argv.index("--exprs-out") + 1])
    known, families = load_known(root)
    problems, exprs = [], []
    boards = sorted((root / "dashboards").glob("*.json"))
    if len(boards) < 6:
        problems.append(f"dashboards/: {len(boards)} dashboards, expected 6")
    for path in boards:
        lint_dashboard(path, known, problems, exprs)
    lint_rules(root, known, problems)
    check_sources(root, families, problems)
    if exprs_out:
        with exprs_out.open("w") as f:
            f.write("groups:\n  - name: dashboard-queries\n    rules:\n")
            for i, (_, _, _, e) in enumerate(exprs):
                f.write(f"      - record: dashboard_query_{i}\n")
                f.write("        expr: " + json.dumps(e) + "\n")
    for p in problems:
        print(p)
    print(f"{len(boards)} dashboards, {len(exprs)} queries, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
