#!/usr/bin/env python3
"""Writes the poolscope Grafana dashboards (dashboards/*.json).

The JSON files are committed; edit the panels here and run
`python3 dashboards/generate.py` to rewrite them (`--check` only compares).
Every panel and target uses the DS_PROMETHEUS datasource variable, every
rate/increase uses $__rate_interval, every panel has a unit.
"""
import json
import sys
from pathlib import Path

DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
HERE = Path(__file__).resolve().parent


def ds_variable():
    return {
        "name": "DS_PROMETHEUS",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }


def query_variable(name, label, query):
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": query,  # the string form: Grafana 9 and 10 both read it
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "sort": 1,
        "hide": 0,
        "regex": "",
    }


def target(expr, legend, ref, fmt=None):
    t = {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref, "range": True}
    if fmt:
        t["format"] = fmt
    return t


class Board:
    def __init__(self, uid, title, description, variables):
        self.uid, self.title, self.description = uid, title, description
        self.variables = variables
        self.panels = []
        self.x = self.y = 0
        self.next_id = 1

    def row(self, title):
        if self.x:
            self.x, self.y = 0, self.y + 8
        self.panels.append({"id": self.next_id, "type": "row", "title": title, "collapsed": False,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": []})
        self.next_id += 1
        self.y += 1

    def panel(self, title, unit, queries, kind="timeseries", width=12, description="",
              stack=False, minimum=None, maximum=None):
        if self.x + width > 24:
            self.x, self.y = 0, self.y + 8
        refs = "ABCDEFGH"
        targets = []
        for i, q in enumerate(queries):
            expr, legend = q[0], q[1]
            fmt = q[2] if len(q) > 2 else None
            targets.append(target(expr, legend, refs[i], fmt))
        defaults = {"unit": unit}
        if minimum is not None:
            defaults["min"] = minimum
        if maximum is not None:
            defaults["max"] = maximum
        custom = {}
        if kind == "timeseries":
            custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10,
                      "showPoints": "never", "spanNulls": False,
                      "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
        defaults["custom"] = custom
        p = {
            "id": self.next_id,
            "type": kind,
            "title": title,
            "description": description,
            "datasource": DS,
            "gridPos": {"h": 8, "w": width, "x": self.x, "y": self.y},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "targets": targets,
        }
        if kind == "timeseries":
            p["options"] = {"legend": {"displayMode": "table", "placement": "bottom",
                                       "showLegend": True, "calcs": ["lastNotNull", "max"]},
                            "tooltip": {"mode": "multi", "sort": "desc"}}
        elif kind == "stat":
            p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                              "values": False},
                            "colorMode": "value", "graphMode": "area", "textMode": "auto",
                            "justifyMode": "auto", "orientation": "auto"}
        elif kind == "heatmap":
            p["options"] = {"calculate": False, "yAxis": {"unit": unit},
                            "cellGap": 1, "color": {"mode": "scheme", "scheme": "Oranges",
                                                    "steps": 64, "exponent": 0.5},
                            "tooltip": {"show": True, "yHistogram": True},
                            "legend": {"show": True}}
        elif kind == "bargauge":
            p["options"] = {"displayMode": "gradient", "orientation": "horizontal",
                            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                              "values": False}, "showUnfilled": True}
        self.panels.append(p)
        self.next_id += 1
        self.x += width
        if self.x >= 24:
            self.x, self.y = 0, self.y + 8

    def json(self):
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["poolscope"],
            "editable": True,
            "graphTooltip": 1,
            "schemaVersion": 37,
            "version": 1,
            "refresh": "30s",
            "time": {"from": "now-1h", "to": "now"},
            "timezone": "",
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "weekStart": "",
            "timepicker": {},
            "annotations": {"list": []},
            "links": [{"title": "poolscope", "type": "dashboards", "tags": ["poolscope"],
                       "asDropdown": True, "includeVars": True, "keepTime": True}],
            "templating": {"list": [ds_variable()] + self.variables},
            "panels": self.panels,
        }


RI = "$__rate_interval"
INST = 'instance=~"$instance"'
POOL = INST + ',pool=~"$pool"'
CACHE = INST + ',cache=~"$cache"'
TARGET = INST + ',target=~"$target"'
PROC = INST + ',process=~"$process"'


def instance_var(metric):
    return query_variable("instance", "Instance", f"label_values({metric}, instance)")


def pool_board():
    b = Board("poolscope-pool", "poolscope / Pool health",
              "Connection pools (poolscope::pool): the agent's embedded pools and any service "
              "linking the library.",
              [instance_var("poolscope_pool_max_connections"),
               query_variable("pool", "Pool",
                              'label_values(poolscope_pool_max_connections{instance=~"$instance"}, pool)')])
    b.row("Capacity")
    b.panel("Connections by state, against max and min idle", "short", [
        (f"sum by (pool, state) (poolscope_pool_connections{{{POOL}}})", "{{pool}} {{state}}"),
        (f"max by (pool) (poolscope_pool_max_connections{{{POOL}}})", "{{pool}} max"),
        (f"max by (pool) (poolscope_pool_min_idle_connections{{{POOL}}})", "{{pool}} min idle"),
    ], description="Active and idle connections; when active meets max, callers queue.")
    b.panel("Callers waiting", "short", [
        (f"sum by (pool) (poolscope_pool_pending_acquires{{{POOL}}})", "{{pool}}"),
    ], description="Callers blocked in Acquire right now.")
    b.row("Acquire")
    b.panel("Acquire wait p50 / p99", "s", [
        ("histogram_quantile(0.5, sum by (pool, le) (rate("
         f"poolscope_pool_acquire_wait_seconds_bucket{{{POOL}}}[{RI}])))", "{{pool}} p50"),
        ("histogram_quantile(0.99, sum by (pool, le) (rate("
         f"poolscope_pool_acquire_wait_seconds_bucket{{{POOL}}}[{RI}])))", "{{pool}} p99"),
    ], description="Time waiting for a free connection (connecting excluded).")
    b.panel("Acquire outcomes", "ops", [
        (f"sum by (pool, outcome) (rate(poolscope_pool_acquires_total{{{POOL}}}[{RI}]))",
         "{{pool}} {{outcome}}"),
    ], description="ok, timeout (no connection before the deadline), rejected (waiter queue "
       "full), error (connecting failed).")
    b.panel("Hold time p99", "s", [
        ("histogram_quantile(0.99, sum by (pool, le) (rate("
         f"poolscope_pool_usage_seconds_bucket{{{POOL}}}[{RI}])))", "{{pool}} p99"),
        ("histogram_quantile(0.5, sum by (pool, le) (rate("
         f"poolscope_pool_usage_seconds_bucket{{{POOL}}}[{RI}])))", "{{pool}} p50"),
    ], description="How long a lease keeps its connection.")
    b.panel("Connect time p99", "s", [
        ("histogram_quantile(0.99, sum by (pool, le) (rate("
         f"poolscope_pool_connect_seconds_bucket{{{POOL}}}[{RI}])))", "{{pool}} p99"),
    ], description="Opening one connection to the server.")
    b.row("Leaks and lifecycle")
    b.panel("Leaked connections now", "short", [
        (f"sum by (pool) (poolscope_pool_leaked_connections{{{POOL}}})", "{{pool}}"),
    ], description="Leases held past leak_threshold now; /debug/pool names their code sites.")
    b.panel("Suspected and resolved leaks", "short", [
        (f"sum by (pool) (increase(poolscope_pool_leaks_suspected_total{{{POOL}}}[{RI}]))",
         "{{pool}} suspected"),
        (f"sum by (pool) (increase(poolscope_pool_leaks_resolved_total{{{POOL}}}[{RI}]))",
         "{{pool}} resolved"),
    ], description="Leases that crossed leak_threshold, and those later returned, per interval.")
    b.panel("Connections opened", "ops", [
        (f"sum by (pool) (rate(poolscope_pool_connections_opened_total{{{POOL}}}[{RI}]))",
         "{{pool}}"),
        (f"sum by (pool) (rate(poolscope_pool_connect_errors_total{{{POOL}}}[{RI}]))",
         "{{pool}} failed"),
    ])
    b.panel("Connections closed by reason", "ops", [
        ("sum by (pool, reason) (rate("
         f"poolscope_pool_connections_closed_total{{{POOL}}}[{RI}]))", "{{pool}} {{reason}}"),
    ], description="max_lifetime, idle_timeout, broken, validation_failed, shutdown.")
    return b


def queries_board():
    b = Board("poolscope-queries", "poolscope / Queries",
              "Queries through poolscope pools, by statement fingerprint id.",
              [instance_var("poolscope_pool_max_connections"),
               query_variable("pool", "Pool",
                              'label_values(poolscope_pool_max_connections{instance=~"$instance"}, pool)')])
    b.panel("Top statements by rate", "ops", [
        ("topk(10, sum by (pool, statement) (rate("
         f"poolscope_query_duration_seconds_count{{{POOL}}}[{RI}])))", "{{pool}} {{statement}}"),
    ], description="Statement label: the fingerprint id (literals removed); other = past the cap.")
    b.panel("Top statements by p99", "s", [
        ("topk(10, histogram_quantile(0.99, sum by (pool, statement, le) (rate("
         f"poolscope_query_duration_seconds_bucket{{{POOL}}}[{RI}]))))", "{{pool}} {{statement}}"),
    ])
    b.panel("Time in queries by statement", "s", [
        ("topk(10, sum by (pool, statement) (rate("
         f"poolscope_query_duration_seconds_sum{{{POOL}}}[{RI}])))", "{{pool}} {{statement}}"),
    ], description="Seconds of query time per second: where the database time of this "
       "service goes.")
    b.panel("Slow queries per second", "ops", [
        ("sum by (pool, statement) (rate("
         f"poolscope_slow_queries_total{{{POOL}}}[{RI}]))", "{{pool}} {{statement}}"),
    ], description="Queries past slow_query_threshold (counted while they still run).")
    b.panel("Errors by SQLSTATE class", "ops", [
        ("sum by (pool, sqlstate_class) (rate("
         f"poolscope_query_errors_total{{{POOL}}}[{RI}]))", "{{pool}} class {{sqlstate_class}}"),
    ], description="08 connection, 40 rollback/serialization, 53 resources, 57 cancelled "
       "(statement timeout), ...")
    b.panel("Mean query time", "s", [
        (f"sum by (pool) (rate(poolscope_query_duration_seconds_sum{{{POOL}}}[{RI}])) / "
         f"sum by (pool) (rate(poolscope_query_duration_seconds_count{{{POOL}}}[{RI}]))",
         "{{pool}}"),
    ])
    return b


def cache_board():
    b = Board("poolscope-cache", "poolscope / Cache",
              "Two-level caches (poolscope::cache): L1 in process, L2 in Redis.",
              [instance_var("poolscope_cache_requests_total"),
               query_variable("cache", "Cache",
                              'label_values(poolscope_cache_requests_total{instance=~"$instance"}, cache)')])
    b.panel("Hit ratio per level", "percentunit", [
        ("sum by (cache, level) (rate(poolscope_cache_requests_total"
         f"{{{CACHE},result=~\"hit|negative_hit\"}}[{RI}])) / "
         f"sum by (cache, level) (rate(poolscope_cache_requests_total{{{CACHE}}}[{RI}]))",
         "{{cache}} {{level}}"),
        (f"1 - sum by (cache) (rate(poolscope_cache_loads_total{{{CACHE}}}[{RI}])) / "
         "sum by (cache) (rate(poolscope_cache_requests_total"
         f"{{{CACHE},level=\"l1\"}}[{RI}]))", "{{cache}} overall"),
    ], minimum=0, maximum=1, description="Per level: hits (negative hits included) over "
       "lookups reaching it. Overall: lookups answered without a load.")
    b.panel("Lookups by level and result", "ops", [
        ("sum by (cache, level, result) (rate("
         f"poolscope_cache_requests_total{{{CACHE}}}[{RI}]))", "{{cache}} {{level}} {{result}}"),
    ])
    b.panel("Loads by outcome", "ops", [
        (f"sum by (cache, outcome) (rate(poolscope_cache_loads_total{{{CACHE}}}[{RI}]))",
         "{{cache}} {{outcome}}"),
    ], description="Keys loaded from the source: ok, absent (cached as absent), error.")
    b.panel("Load time p50 / p99", "s", [
        ("histogram_quantile(0.5, sum by (cache, le) (rate("
         f"poolscope_cache_load_duration_seconds_bucket{{{CACHE}}}[{RI}])))", "{{cache}} p50"),
        ("histogram_quantile(0.99, sum by (cache, le) (rate("
         f"poolscope_cache_load_duration_seconds_bucket{{{CACHE}}}[{RI}])))", "{{cache}} p99"),
    ])
    b.panel("Coalesced waits", "ops", [
        (f"sum by (cache) (rate(poolscope_cache_coalesced_total{{{CACHE}}}[{RI}]))", "{{cache}}"),
    ], description="Lookups that waited for another caller's load of the same key "
       "instead of loading it again (stampede protection).")
    b.panel("Evictions by cause", "ops", [
        ("sum by (cache, level, cause) (rate("
         f"poolscope_cache_evictions_total{{{CACHE}}}[{RI}]))", "{{cache}} {{level}} {{cause}}"),
    ], description="size (L1 full), expired, idle, invalidated.")
    b.panel("L2 errors", "ops", [
        (f"sum by (cache) (rate(poolscope_cache_l2_errors_total{{{CACHE}}}[{RI}]))", "{{cache}}"),
    ], description="Redis operations that failed or were refused by the open breaker.")
    b.panel("L1 entries", "short", [
        (f"sum by (cache, level) (poolscope_cache_entries{{{CACHE}}})", "{{cache}} {{level}}"),
    ])
    return b


def database_board():
    b = Board("poolscope-database", "poolscope / Database tier",
              "The servers' own view: PostgreSQL connections and statements, Redis, "
              "PgBouncer, and the agent's canary.",
              [instance_var("poolscope_sampler_success"),
               query_variable("target", "Target",
                              'label_values(poolscope_sampler_success{instance=~"$instance"}, target)')])
    b.row("PostgreSQL")
    b.panel("Targets up", "short", [
        (f"min by (target) (poolscope_pg_up{{{TARGET}}})", "postgres {{target}}"),
        (f"min by (target) (poolscope_redis_up{{{TARGET}}})", "redis {{target}}"),
        (f"min by (target) (poolscope_pgbouncer_up{{{TARGET}}})", "pgbouncer {{target}}"),
    ], kind="stat", width=24, description="1: answered its last check in time.")
    b.panel("Server connections by application, against the usable maximum", "short", [
        (f"sum by (target, application) (poolscope_pg_connections{{{TARGET}}})",
         "{{target}} {{application}}"),
        (f"max by (target) (poolscope_pg_max_connections{{{TARGET}}} - "
         f"poolscope_pg_reserved_connections{{{TARGET}}})", "{{target}} usable max"),
    ], stack=False, description="Usable maximum: max_connections minus the reserved ones.")
    b.panel("Server connections by state", "short", [
        (f"sum by (target, state) (poolscope_pg_connections{{{TARGET}}})",
         "{{target}} {{state}}"),
    ])
    b.panel("Oldest idle in transaction per application", "s", [
        ("max by (target, application) ("
         f"poolscope_pg_idle_in_transaction_max_seconds{{{TARGET}}})",
         "{{target}} {{application}}"),
    ], description="The server-side sign of a leak: a client that opened a transaction "
       "and went quiet.")
    b.panel("Long-running queries", "short", [
        ("sum by (target, application) ("
         f"poolscope_pg_long_running_queries{{{TARGET}}})", "{{target}} {{application}}"),
    ], description="Queries running past the target's long_query_threshold now.")
    b.panel("Oldest running query", "s", [
        (f"max by (target) (poolscope_pg_oldest_query_seconds{{{TARGET}}})", "{{target}}"),
    ])
    b.panel("Top statements by time (pg_stat_statements)", "s", [
        ("topk(10, sum by (target, statement) (rate("
         f"poolscope_pg_statement_seconds_total{{{TARGET}}}[{RI}])))", "{{target}} {{statement}}"),
    ], description="Server execution time per second of the top statements; needs the "
       "pg_stat_statements extension.")
    b.panel("Top statements by calls (pg_stat_statements)", "ops", [
        ("topk(10, sum by (target, statement) (rate("
         f"poolscope_pg_statement_calls_total{{{TARGET}}}[{RI}])))", "{{target}} {{statement}}"),
    ])
    b.panel("Canary latency p99", "s", [
        ("histogram_quantile(0.99, sum by (target, phase, le) (rate("
         f"poolscope_canary_seconds_bucket{{{TARGET}}}[{RI}])))", "{{target}} {{phase}}"),
    ], description="The agent's own acquire + SELECT 1 through its embedded pool.")
    b.row("Redis")
    b.panel("Redis hit ratio", "percentunit", [
        (f"sum by (target) (rate(poolscope_redis_keyspace_hits_total{{{TARGET}}}[{RI}])) / "
         f"(sum by (target) (rate(poolscope_redis_keyspace_hits_total{{{TARGET}}}[{RI}])) + "
         f"sum by (target) (rate(poolscope_redis_keyspace_misses_total{{{TARGET}}}[{RI}])))",
         "{{target}}"),
    ], minimum=0, maximum=1)
    b.panel("Redis memory", "bytes", [
        (f"max by (target) (poolscope_redis_memory_used_bytes{{{TARGET}}})", "{{target}} used"),
        (f"max by (target) (poolscope_redis_memory_max_bytes{{{TARGET}}})",
         "{{target}} maxmemory (0: none)"),
    ])
    b.panel("Redis clients", "short", [
        (f"max by (target) (poolscope_redis_connected_clients{{{TARGET}}})",
         "{{target}} connected"),
        (f"max by (target) (poolscope_redis_max_clients{{{TARGET}}})", "{{target}} maxclients"),
    ])
    b.panel("Redis evictions", "ops", [
        (f"sum by (target) (rate(poolscope_redis_evicted_keys_total{{{TARGET}}}[{RI}]))",
         "{{target}}"),
    ], description="Keys evicted under maxmemory.")
    b.row("PgBouncer")
    b.panel("PgBouncer waiting clients", "short", [
        ("sum by (target, database) ("
         f"poolscope_pgbouncer_client_waiting_connections{{{TARGET}}})",
         "{{target}} {{database}}"),
    ])
    b.panel("PgBouncer max wait", "s", [
        (f"max by (target, database) (poolscope_pgbouncer_max_wait_seconds{{{TARGET}}})",
         "{{target}} {{database}}"),
    ], description="How long the oldest waiting client has waited for a server connection.")
    return b


def offcpu_board():
    b = Board("poolscope-offcpu", "poolscope / Off-CPU",
              "Where the watched processes' threads wait when not running (the agent's eBPF "
              "probe, probes.offcpu).",
              [instance_var("poolscope_offcpu_seconds_count"),
               query_variable("process", "Process",
                              'label_values(poolscope_offcpu_seconds_count{instance=~"$instance"}, process)')])
    b.panel("Time off CPU per second by reason", "s", [
        ("sum by (process, reason) (rate("
         f"poolscope_offcpu_seconds_sum{{{PROC}}}[{RI}]))", "{{process}} {{reason}}"),
    ], stack=True, description="Seconds off CPU per second (summed over threads): runqueue = "
       "CPU contention, io, lock (futex), poll, net, sleep, other.")
    b.panel("Time off CPU per second by thread", "s", [
        ("topk(15, sum by (process, thread) (rate("
         f"poolscope_offcpu_seconds_sum{{{PROC}}}[{RI}])))", "{{process}} {{thread}}"),
    ], description="Thread classes: names with digits folded into #.")
    b.panel("Off-CPU interval p99 by reason", "s", [
        ("histogram_quantile(0.99, sum by (process, reason, le) (rate("
         f"poolscope_offcpu_seconds_bucket{{{PROC}}}[{RI}])))", "{{process}} {{reason}}"),
    ])
    b.panel("Off-CPU intervals per second", "ops", [
        ("sum by (process, reason) (rate("
         f"poolscope_offcpu_seconds_count{{{PROC}}}[{RI}]))", "{{process}} {{reason}}"),
    ])
    b.panel("Off-CPU interval lengths (heatmap)", "s", [
        (f"sum by (le) (rate(poolscope_offcpu_seconds_bucket{{{PROC}}}[{RI}]))", "{{le}}",
         "heatmap"),
    ], kind="heatmap", width=24, description="How many intervals of each length (log2 "
       "buckets from 1 µs to 17 s) per second.")
    return b


def agent_board():
    b = Board("poolscope-agent", "poolscope / Agent",
              "The agent itself: samplers, probe, resources.",
              [instance_var("poolscope_build_info"),
               query_variable("target", "Target",
                              'label_values(poolscope_sampler_success{instance=~"$instance"}, target)')])
    b.panel("Sampler success", "short", [
        ("min by (sampler, target) (poolscope_sampler_success"
         f"{{{TARGET}}})", "{{sampler}} {{target}}"),
    ], minimum=0, maximum=1, description="1: the sampler's last run succeeded.")
    b.panel("Sampler duration p99", "s", [
        ("histogram_quantile(0.99, sum by (sampler, target, le) (rate("
         f"poolscope_sampler_duration_seconds_bucket{{{TARGET}}}[{RI}])))",
         "{{sampler}} {{target}}"),
    ])
    b.panel("Sampler errors", "ops", [
        ("sum by (sampler, target) (rate("
         f"poolscope_sampler_errors_total{{{TARGET}}}[{RI}]))", "{{sampler}} {{target}}"),
    ])
    b.panel("Probe state", "short", [
        (f"max by (probe) (poolscope_probe_up{{{INST}}})", "{{probe}} up"),
    ], minimum=0, maximum=1, description="1 while the eBPF probe is attached (only with "
       "probes.offcpu.enabled).")
    b.panel("Probe events and drops", "ops", [
        (f"sum by (probe) (rate(poolscope_probe_events_total{{{INST}}}[{RI}]))",
         "{{probe}} events"),
        (f"sum by (probe) (rate(poolscope_probe_dropped_total{{{INST}}}[{RI}]))",
         "{{probe}} dropped"),
    ])
    b.panel("Agent CPU", "percentunit", [
        ("rate(process_cpu_seconds_total{instance=~\"$instance\"}[" + RI + "]) "
         "and on (instance, job) poolscope_build_info", "{{instance}}"),
    ], description="Share of one core.")
    b.panel("Agent memory", "bytes", [
        ("process_resident_memory_bytes{instance=~\"$instance\"} "
         "and on (instance, job) poolscope_build_info", "{{instance}} resident"),
    ])
    b.panel("Agent open file descriptors", "short", [
        ("process_open_fds{instance=~\"$instance\"} and on (instance, job) poolscope_build_info",
         "{{instance}}"),
    ])
    b.panel("Agent uptime", "s", [
        ("time() - (process_start_time_seconds{instance=~\"$instance\"} "
         "and on (instance, job) poolscope_build_info)", "{{instance}}"),
    ], kind="stat")
    b.panel("Build", "none", [
        ("max by (instance, version, revision) (poolscope_build_info{instance=~\"$instance\"})",
         "{{instance}} {{version}} ({{revision}})"),
    ], kind="stat")
    return b


BOARDS = {
    "pool-health.json": pool_board,
    "queries.json": queries_board,
    "cache.json": cache_board,
    "database-tier.json": database_board,
    "offcpu.json": offcpu_board,
    "agent.json": agent_board,
}


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name, build in BOARDS.items():
        text = json.dumps(build().json(), indent=2, ensure_ascii=False) + "\n"
        path = HERE / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("out of date (run python3 dashboards/generate.py): " + " ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
