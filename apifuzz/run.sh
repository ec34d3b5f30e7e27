#!/usr/bin/env bash
# Schema-driven API fuzzing: schemathesis (PyPI) generates requests for every operation of the
# OpenAPI document the server itself serves at /api/openapi.json, with a fixed seed and a bounded
# number of examples, against a real `tessera serve` on loopback. Passes when no answer is a 5xx,
# every answer has a documented status, media type and schema, schemathesis tested every
# operation the document lists (its summary's "Tested:" count against the operations in the
# served document), the server's own metrics count no 5xx, and the server is still up.
#
#   apifuzz/run.sh [max-examples-per-operation]     (default 25; SEED=<n> to change the seed)
#
# Needs: a built debug binary (cargo build --bin tessera) and python3 with venv.
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-25}"
seed="${SEED:-20261125}"
bin="target/debug/tessera"
venv="target/apifuzz-venv"
[ -x "$bin" ] || cargo build --bin tessera
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r apifuzz/requirements.txt
fi

work="$(mktemp -d)"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export TESSERA_DATA_DIR="$work/data" TESSERA_LISTEN="127.0.0.1:$port" TESSERA_LOG_LEVEL="warn"
key=$("$bin" api-key create --name apifuzz | sed -n 2p | tr -d '[:space:]')
account=$("$bin" verify-account create --name apifuzz)
account_sid=$(echo "$account" | sed -n 's/^Account SID: *//p')
auth_token=$(echo "$account" | sed -n 's/^Auth Token: *//p')
"$bin" serve > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/health" >/dev/null

# Two passes: the management API with an API key, the Verify API with its account's Basic auth.
base="http://127.0.0.1:$port"
status=0

# The operations the served document lists: of /v2/ ("v2") or of the rest ("api").
documented() {
  curl -fsS "$base/api/openapi.json" | python3 -c '
import json, re, sys
doc = json.load(sys.stdin)
verify = sys.argv[1] == "v2"
methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
print(sum(1 for path, item in doc.get("paths", {}).items()
          if bool(re.match(r"^/v2/", path)) == verify
          for method in item if method in methods))
' "$1"
}

# What the server counted in /metrics: "all" requests answered, or the "5xx" among them.
answered() {
  curl -fsS -H "Authorization: $key" "$base/metrics" | python3 -c '
import re, sys
want = sys.argv[1]
total = 0
for line in sys.stdin:
    m = re.match(r"tessera_http_requests_total\{(.*)\}\s+([0-9.e+]+)$", line.strip())
    if m and (want == "all" or re.search(r"status=\"5\d\d\"", m.group(1))):
        total += float(m.group(2))
print(int(total))
' "$1"
}

# A number from schemathesis's summary ("  Tested: 12", "  Selected: 12/80", "  123 generated"),
# or nothing when the line is not there.
summary() {
  sed 's/\x1b\[[0-9;]*m//g' "$1" | sed -n "$2" | tail -n 1
}

# One pass of schemathesis over the part of the document ("api" or "v2") its filters select; its
# summary's "Tested:" must be every operation of that part.
tested_total=0 documented_total=0 cases=0 failures=0 warnings=0
fuzz() {
  local name="$1" part="$2"
  shift 2
  local log="$work/schemathesis-$part.log"
  local expected
  expected=$(documented "$part")
  echo "apifuzz: $name: $expected operations in the served document"
  if [ "$expected" -eq 0 ]; then
    echo "apifuzz: $name: the served document lists no operation here"; status=1
    return
  fi
  # One worker: schemathesis's threads trip a CPython 3.11 bug ("AST constructor recursion depth
  # mismatch") in its own code generation.
  "$venv/bin/schemathesis" run "$base/api/openapi.json" "$@" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$examples" --seed "$seed" --workers 1 \
    --suppress-health-check all --no-color \
    | tee "$log" || status=$?
  local tested selected generated found warned
  tested=$(summary "$log" 's/^ *Tested: *\([0-9][0-9]*\).*/\1/p')
  selected=$(summary "$log" 's/^ *Selected: *\([0-9][0-9]*\)\/.*/\1/p')
  generated=$(summary "$log" 's/^ *\([0-9][0-9]*\) generated.*/\1/p')
  found=$(summary "$log" 's/.* found \([0-9][0-9]*\) unique failure.*/\1/p')
  warned=$(summary "$log" 's/.* \([0-9][0-9]*\) warnings* in [0-9.]*s.*/\1/p')
  if [ -z "$tested" ] || [ -z "$generated" ]; then
    echo "apifuzz: $name: no \"Tested:\" or \"N generated\" line in schemathesis's summary (has its format changed?)"
    status=1
    return
  fi
  if [ "$tested" -ne "$expected" ]; then
    echo "apifuzz: $name: schemathesis tested $tested of the $expected operations the served document lists (it selected ${selected:-?}; see \"Errored\" and \"Skipped\" in its summary above)"
    status=1
  fi
  tested_total=$((tested_total + tested))
  documented_total=$((documented_total + expected))
  cases=$((cases + generated))
  failures=$((failures + ${found:-0}))
  warnings=$((warnings + ${warned:-0}))
}

before=$(answered all)
fuzz "the JSON API, with an API key" api --header "Authorization: $key" --exclude-path-regex '^/v2/'
fuzz "the Verify API (/v2/), with an account's Basic auth" v2 --auth "$account_sid:$auth_token" --include-path-regex '^/v2/'

server_state="up after the run and stopped cleanly"
if ! curl -fsS "$base/health" >/dev/null; then
  echo "apifuzz: the server did not survive the run"; status=1; server_state="DOWN after the run"
  requests="?" errors="?"
else
  requests=$(( $(answered all) - before ))
  errors=$(answered 5xx)
  if [ "$errors" -ne 0 ]; then
    echo "apifuzz: the server's metrics count $errors answers with a 5xx status"; status=1
  fi
fi
if grep -q "panicked" "$work/server.log"; then
  echo "apifuzz: the server log shows a panic"; grep -m5 "panicked" "$work/server.log"; status=1
fi
kill -TERM "$server"
if ! wait "$server"; then
  echo "apifuzz: the server did not stop cleanly"; status=1
  [ "$server_state" = "up after the run and stopped cleanly" ] && server_state="up after the run, NOT stopped cleanly"
fi
server=""
echo "apifuzz: $tested_total of $documented_total documented operations tested, $cases test cases, $requests requests answered ($errors with a 5xx) (seed $seed, up to $examples examples each), $failures failures, $warnings schemathesis warnings (listed above); server $server_state: $([ "$status" = 0 ] && echo passed || echo FAILED)"
exit "$status"
