#!/usr/bin/env bash
# Tessera against privacyIDEA: the same code-check load (N connections, a fresh valid TOTP code
# per request, spread over USERS tokens) on both servers, on SQLite, on this machine.
#
#   bench/privacyidea.sh [USERS] [SECONDS] [CONNECTIONS]
#
# privacyIDEA comes from PyPI into a throwaway virtual environment (PI_VENV=DIR reuses one),
# with a minimal pi.cfg on SQLite, USERS TOTP tokens imported with known secrets (OATH CSV via
# `pi-manage token import`), served by gunicorn with 2 workers on loopback; the load goes to
# POST /validate/check (serial + code). Then Tessera's code-check runs with as many users.
# Not run by CI: it downloads privacyIDEA. Its latest output goes in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

users=${1:-10000}
duration=${2:-10}
connections=${3:-64}
work=$(mktemp -d "${TMPDIR:-/tmp}/privacyidea-bench.XXXXXX")
gunicorn_pid=
cleanup() {
  if [ -n "$gunicorn_pid" ]; then
    kill "$gunicorn_pid" 2>/dev/null || true
    wait "$gunicorn_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

step "privacyIDEA from PyPI"
venv=${PI_VENV:-$work/venv}
if [ ! -x "$venv/bin/pi-manage" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check privacyidea gunicorn
fi
"$venv/bin/pip" show privacyidea 2>/dev/null | grep -E '^Version' | sed 's/^/privacyIDEA /'

step "configuration (SQLite) and keys"
random() { "$venv/bin/python" -c 'import secrets; print(secrets.token_hex(24))'; }
cat > "$work/pi.cfg" <<EOF
SQLALCHEMY_DATABASE_URI = 'sqlite:///$work/privacyidea.sqlite'
SECRET_KEY = '$(random)'
PI_PEPPER = '$(random)'
PI_ENCFILE = '$work/enckey'
PI_AUDIT_KEY_PRIVATE = '$work/audit-private.pem'
PI_AUDIT_KEY_PUBLIC = '$work/audit-public.pem'
PI_LOGFILE = '$work/privacyidea.log'
PI_LOGLEVEL = 30
EOF
export PRIVACYIDEA_CONFIGFILE="$work/pi.cfg"
pi_manage() { "$venv/bin/pi-manage" "$@"; }
# privacyIDEA 3.8+ groups these under `setup`; older releases had them at the top level.
if pi_manage setup --help >/dev/null 2>&1; then
  pi_manage setup create_enckey >/dev/null
  pi_manage setup create_audit_keys >/dev/null
  pi_manage setup create_tables >/dev/null
else
  pi_manage create_enckey >/dev/null
  pi_manage create_audit_keys >/dev/null
  pi_manage createdb >/dev/null
fi

step "$users TOTP tokens with known secrets"
"$venv/bin/python" - "$users" "$work/oath.csv" "$work/tokens.txt" <<'EOF'
import base64, os, sys
count, oath, ours = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(oath, "w") as o, open(ours, "w") as t:
    for i in range(count):
        secret = os.urandom(20)
        serial = f"PIBENCH{i:07d}"
        # OATH CSV: serial, key (hex), type, digits, period
        o.write(f"{serial}, {secret.hex()}, totp, 6, 30\n")
        t.write(f"{serial},{base64.b32encode(secret).decode().rstrip('=')}\n")
EOF
started=$(date +%s)
pi_manage token import "$work/oath.csv" >/dev/null
echo "imported in $(( $(date +%s) - started )) s"

step "gunicorn, 2 workers, on loopback"
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$venv/bin/gunicorn" --workers 2 --bind "127.0.0.1:$port" --log-level warning \
  "privacyidea.app:create_app(config_name='production', config_file='$work/pi.cfg', silent=True)" \
  >"$work/gunicorn.log" 2>&1 &
gunicorn_pid=$!
for _ in $(seq 1 120); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 0.5
done
if ! curl -s -o /dev/null "http://127.0.0.1:$port/"; then
  echo "privacyIDEA did not start:"; cat "$work/gunicorn.log"; exit 1
fi

step "code-check against privacyIDEA: $connections connections, $duration s"
cargo build --release --quiet -p tessera-bench
bench=target/release/tessera-bench
"$bench" code-check --target privacyidea --url "http://127.0.0.1:$port" \
  --tokens "$work/tokens.txt" --duration "$duration" --connections "$connections" | tee "$work/privacyidea.out"
kill "$gunicorn_pid"; wait "$gunicorn_pid" 2>/dev/null || true; gunicorn_pid=

step "code-check against Tessera (SQLite): $connections connections, $duration s, $users users"
# Tessera spends USERS users' codes within seconds (three TOTP steps each, and two within 2 s of a
# step's edge, where the generator keeps a margin). Started late in a step, its phase crossed
# the edge and the clients waited for fresh steps half the time (2026-11-27: 8,217/s, "waited
# 114.6 s"), which measures the generator. Its seeding and limits take about 10 s: start in the
# first 8 s of a step, so that the phase runs within one.
while (( $(date +%s) % 30 >= 8 )); do sleep 0.5; done
"$bench" code-check --db sqlite --users "$users" --duration "$duration" --connections "$connections" | tee "$work/tessera.out"

step "both"
field() { grep '^RESULT' "$1" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"; }
pi_rate=$(field "$work/privacyidea.out" rate); pi_p99=$(field "$work/privacyidea.out" p99)
pi_errors=$(field "$work/privacyidea.out" errors)
t_rate=$(field "$work/tessera.out" rate); t_p99=$(field "$work/tessera.out" p99)
t_errors=$(field "$work/tessera.out" errors)
printf '%-12s %12s %10s %8s\n' server 'checks/s' 'p99 ms' errors
printf '%-12s %12s %10s %8s\n' privacyIDEA "$pi_rate" "$pi_p99" "$pi_errors"
printf '%-12s %12s %10s %8s\n' Tessera "$t_rate" "$t_p99" "$t_errors"
awk -v tr="$t_rate" -v pr="$pi_rate" -v tp="$t_p99" -v pp="$pi_p99" 'BEGIN {
  printf "Tessera / privacyIDEA: %.1fx the checks per second; p99 %.2fx\n", tr / pr, tp / pp }'
