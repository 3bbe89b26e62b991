#!/usr/bin/env bash
# CLI contract of poolscope-agent: exit codes, one-line config errors, clean
# shutdown on SIGTERM/SIGINT, no secrets in logs.
# Usage: cli_test.sh PATH/TO/poolscope-agent
set -uo pipefail

agent=$1
work=$(mktemp -d /tmp/poolscope-cli.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
pass() { echo "ok   - $1"; }
fail() { echo "FAIL - $1"; failures=$((failures + 1)); }

# expect NAME WANT_RC CMD... : runs CMD, checks its exit code; output in $work/out.
expect() {
  local name=$1 want=$2
  shift 2
  "$@" >"$work/out" 2>&1
  local rc=$?
  if [ "$rc" -eq "$want" ]; then pass "$name (exit $rc)"; else
    fail "$name: exit $rc, want $want"; sed 's/^/    /' "$work/out"; fi
}
# output_has NAME TEXT : the last command's output contains TEXT.
output_has() {
  if grep -qF -- "$2" "$work/out"; then pass "$1"; else
    fail "$1: output lacks '$2'"; sed 's/^/    /' "$work/out"; fi
}
# one_clean_line NAME : the last output is one line, with no crash noise.
one_clean_line() {
  local lines
  lines=$(wc -l <"$work/out")
  if [ "$lines" -eq 1 ] && ! grep -qE 'terminate called|Aborted|core dumped|what\(\)' "$work/out"; then
    pass "$1: one clean line"
  else
    fail "$1: want one clean line, got $lines"; sed 's/^/    /' "$work/out"
  fi
}

free_port() {
  local p
  for _ in $(seq 200); do
    p=$((10000 + RANDOM % 22000))  # below the ephemeral range (32768+)
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo 0
}

wait_http() {  # wait_http PORT: until /healthz answers (up to 5 s)
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

expect "--version" 0 "$agent" --version
output_has "--version prints the version" "poolscope-agent 0."
expect "--help" 0 "$agent" --help
output_has "--help lists --check-config" "--check-config"
expect "unknown flag" 2 "$agent" --frobnicate

port=$(free_port)
cat >"$work/good.yaml" <<YAML
http:
  listen: 127.0.0.1:$port
log:
  level: info
targets:
  postgres:
    - name: main
      dsn: "host=127.0.0.1 port=1 dbname=postgres user=postgres password=hunter2"
      interval: 200ms
  redis:
    - name: cache
      address: 127.0.0.1:1
      interval: 200ms
YAML
expect "--check-config good" 0 "$agent" --check-config "$work/good.yaml"
output_has "--check-config says ok" "ok (1 postgres, 1 redis targets"

expect "--check-config missing file" 2 "$agent" --check-config "$work/nope.yaml"
one_clean_line "missing file"
output_has "missing file named" "$work/nope.yaml: cannot read config file: No such file or directory"

printf 'http:\n  listen: [oops\n' >"$work/syntax.yaml"
expect "YAML syntax error" 2 "$agent" --check-config "$work/syntax.yaml"
one_clean_line "syntax error"
output_has "syntax error names file and line" "$work/syntax.yaml:3:1: YAML syntax error"

printf 'http:\n  listen: 127.0.0.1:1\nlogs: {}\n' >"$work/unknown.yaml"
expect "unknown key" 2 "$agent" --config "$work/unknown.yaml"
one_clean_line "unknown key"
output_has "unknown key named" "$work/unknown.yaml:3:1: logs: unknown key"

printf 'targets:\n  redis:\n    - name: r\n      address: 127.0.0.1:6379\n      interval: soon\n' >"$work/dur.yaml"
expect "bad duration" 2 "$agent" --config "$work/dur.yaml"
one_clean_line "bad duration"
output_has "bad duration named" "$work/dur.yaml:5:17: targets.redis[0].interval: bad duration \"soon\""

printf 'http:\n  listen: {}\n' >"$work/type.yaml"
expect "wrong type" 2 "$agent" --config "$work/type.yaml"
output_has "wrong type named" "$work/type.yaml:2:11: http.listen: expected a string, got a map"

# A running agent: SIGTERM stops it within 2 s with exit 0, and its logs
# (targets down: port 1) never show the password.
"$agent" --config "$work/good.yaml" >"$work/agent1.log" 2>&1 &
a1=$!
pids+=("$a1")
if wait_http "$port"; then pass "agent listens on $port"; else fail "agent never listened"; fi
sleep 0.7

# Port in use: a second agent on the same port exits 2 naming the address.
expect "listen address in use" 2 "$agent" --config "$work/good.yaml"
one_clean_line "address in use"
output_has "address in use named" "cannot listen on 127.0.0.1:$port"

t0=$(date +%s%N)
kill -TERM "$a1"
wait "$a1"
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$rc" -eq 0 ] && [ "$ms" -lt 2000 ]; then pass "SIGTERM: exit 0 in ${ms} ms"; else
  fail "SIGTERM: exit $rc after ${ms} ms"; sed 's/^/    /' "$work/agent1.log"; fi
if grep -q 'hunter2' "$work/agent1.log"; then fail "the password reached the log"; else
  pass "no password in the log"; fi
if [ "$(grep -c 'pg target main: down' "$work/agent1.log")" -eq 1 ]; then
  pass "target down logged once"; else fail "target down not logged exactly once";
  sed 's/^/    /' "$work/agent1.log"; fi

"$agent" --config "$work/good.yaml" >"$work/agent2.log" 2>&1 &
a2=$!
pids+=("$a2")
wait_http "$port"
t0=$(date +%s%N)
kill -INT "$a2"
wait "$a2"
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$rc" -eq 0 ] && [ "$ms" -lt 2000 ]; then pass "SIGINT: exit 0 in ${ms} ms"; else
  fail "SIGINT: exit $rc after ${ms} ms"; fi

# SIGHUP: a good config is applied (a new target appears in /metrics); a bad
# one is refused with one log line and the agent keeps serving the old one.
cp "$work/good.yaml" "$work/reload.yaml"
"$agent" --config "$work/reload.yaml" >"$work/agent4.log" 2>&1 &
a4=$!
pids+=("$a4")
wait_http "$port"
# has_metric TEXT: /metrics holds TEXT (no pipe: grep -q would SIGPIPE curl).
has_metric() {
  curl -fsS "http://127.0.0.1:$port/metrics" >"$work/metrics" 2>/dev/null && grep -qF "$1" "$work/metrics"
}
cat >>"$work/reload.yaml" <<YAML
    - name: second
      address: 127.0.0.1:2
      interval: 200ms
YAML
kill -HUP "$a4"
seen=0
for _ in $(seq 100); do
  if has_metric 'poolscope_redis_up{target="second"}'; then seen=1; break; fi
  sleep 0.05
done
if [ "$seen" -eq 1 ]; then pass "SIGHUP: the new target is sampled"; else
  fail "SIGHUP: the new target never showed"; sed 's/^/    /' "$work/agent4.log"; fi
printf 'targets:\n  redis: [{name: broken}]\n' >"$work/reload.yaml"
kill -HUP "$a4"
refused=0
for _ in $(seq 100); do
  if grep -q 'SIGHUP: configuration not reloaded' "$work/agent4.log"; then refused=1; break; fi
  sleep 0.05
done
if [ "$refused" -eq 1 ] && grep -q 'reload.yaml:2:' "$work/agent4.log"; then
  pass "SIGHUP: a bad config is refused, naming file and line"; else
  fail "SIGHUP: bad config not refused clearly"; sed 's/^/    /' "$work/agent4.log"; fi
if kill -0 "$a4" 2>/dev/null && has_metric 'poolscope_redis_up{target="second"}'; then
  pass "SIGHUP: the old config keeps serving"; else fail "SIGHUP: the agent lost its config"; fi
kill -TERM "$a4"
wait "$a4"

# JSON logs are one JSON object per line.
sed -i 's/level: info/level: info\n  format: json/' "$work/good.yaml"
"$agent" --config "$work/good.yaml" >"$work/agent3.log" 2>&1 &
a3=$!
pids+=("$a3")
wait_http "$port"
sleep 0.5
kill -TERM "$a3"
wait "$a3"
if grep -qv '^{"ts":".*","level":"[a-z]*","thread":[0-9]*,"msg":".*"}$' "$work/agent3.log"; then
  fail "json log lines"; sed 's/^/    /' "$work/agent3.log"; else pass "json log lines"; fi

if [ "$failures" -ne 0 ]; then echo "$failures CLI check(s) failed"; exit 1; fi
echo "all CLI checks passed"
