#!/usr/bin/env bash
# Schema-driven API fuzzing: schemathesis (PyPI) generates requests for every operation of the
# OpenAPI document the server itself serves at /api/openapi.json, with a fixed seed and a bounded
# number of examples, against a real `tessera serve` on loopback. Passes when no answer is a 5xx,
# every answer has a documented status, media type and schema, and the server is still up.
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
status=0
# One worker: schemathesis's threads trip a CPython 3.11 bug ("AST constructor recursion depth
# mismatch") in its own code generation.
fuzz() {
  "$venv/bin/schemathesis" run "http://127.0.0.1:$port/api/openapi.json" "$@" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$examples" --seed "$seed" --workers 1 \
    --suppress-health-check all --no-color \
    | tee -a "$work/schemathesis.log" || status=$?
}
echo "apifuzz: the JSON API, with an API key"
fuzz --header "Authorization: $key" --exclude-path-regex '^/v2/'
echo "apifuzz: the Verify API (/v2/), with an account's Basic auth"
fuzz --auth "$account_sid:$auth_token" --include-path-regex '^/v2/'

if ! curl -fsS "http://127.0.0.1:$port/health" >/dev/null; then
  echo "apifuzz: the server did not survive the run"; status=1
fi
if grep -q "panicked" "$work/server.log"; then
  echo "apifuzz: the server log shows a panic"; grep -m5 "panicked" "$work/server.log"; status=1
fi
kill -TERM "$server"; wait "$server" || { echo "apifuzz: the server did not stop cleanly"; status=1; }
server=""
operations=$(sed -n 's/^ *Tested: *\([0-9]*\).*/\1/p' "$work/schemathesis.log" | awk "{s+=\$1} END {print s+0}")
cases=$(sed -n 's/^ *\([0-9]*\) generated.*/\1/p' "$work/schemathesis.log" | awk "{s+=\$1} END {print s+0}")
failures=$(sed -n 's/.*found \([0-9]*\) unique failure.*/\1/p' "$work/schemathesis.log" | awk "{s+=\$1} END {print s+0}")
echo "apifuzz: $operations operations, $cases test cases (seed $seed, up to $examples examples each), $failures failures, server up and stopped cleanly: $([ "$status" = 0 ] && echo yes || echo NO)"
exit "$status"
