#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and prints one figure line per target:
#
#   fuzz/run.sh [seconds-per-target] [target...]
#
# The kept corpus in fuzz/corpus/<target>/ is read, not written: what a run discovers goes to
# fuzz/target/corpus-new/<target>/, so CI leaves the checkout as it was. To grow the kept corpus,
# run with FUZZ_KEEP=1 (new inputs land in fuzz/corpus/) and minimise it afterwards with
# `cargo fuzz cmin <target>`. Exits non-zero when any target crashed, ran out of memory or hung;
# the input that did it is in fuzz/artifacts/<target>/.
set -uo pipefail
cd "$(dirname "$0")"

seconds="${1:-20}"
shift || true
# The fuzz targets need nightly flags (sanitizer, coverage); this lets the stable compiler take
# them, as there is no nightly toolchain to rely on.
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

host="$(rustc -vV | sed -n 's/^host: //p')"
started=$(date +%s)
# 16 codegen units instead of cargo fuzz's 1: the instrumented build of tessera and its
# dependencies is most of this script's time on a 2-core machine; the runs lose little.
cargo fuzz build --codegen-units 16 || { echo "fuzz: the targets do not build"; exit 1; }
built=$(date +%s)
echo "fuzz: built ${#targets[@]} targets in $((built - started)) s"

commas() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }

failed=()
total_execs=0
for target in "${targets[@]}"; do
  kept="corpus/$target"
  mkdir -p "$kept" "artifacts/$target"
  if [ "${FUZZ_KEEP:-0}" = 1 ]; then
    dirs=("$kept")
  else
    scratch="target/corpus-new/$target"
    rm -rf "$scratch" && mkdir -p "$scratch"
    dirs=("$scratch" "$kept")
  fi
  log="target/fuzz-$target.log"
  # rss_limit_mb bounds the whole process, malloc_limit_mb any single allocation: an input of
  # at most 4 KiB that makes either grow this far is an unbounded allocation. A input that
  # takes more than 10 s is a hang. The fixed seed makes a CI run repeatable.
  "target/$host/release/$target" "${dirs[@]}" \
    -max_total_time="$seconds" -seed=1 -max_len=4096 -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=256 \
    -artifact_prefix="artifacts/$target/" -print_final_stats=1 >"$log" 2>&1
  status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  corpus=$(grep -o 'corp: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$')
  execs=${execs:-0}
  total_execs=$((total_execs + execs))
  if [ "$status" -eq 0 ]; then
    echo "fuzz $target: $(echo "$execs" | commas) executions in $seconds s, 0 crashes, corpus ${corpus:-?}"
  else
    failed+=("$target")
    artifact=$(grep -o "artifacts/$target/[^ ]*" "$log" | tail -n 1)
    echo "fuzz $target: CRASH after $(echo "$execs" | commas) executions (${artifact:-see $log})"
    grep -m 5 -E 'panicked|ERROR|SUMMARY|out-of-memory|malloc\(' "$log" | sed 's/^/    /'
  fi
done

finished=$(date +%s)
echo "fuzz: ${#targets[@]} targets, $(echo "$total_execs" | commas) executions in $((finished - built)) s, ${#failed[@]} crashes${failed:+ (${failed[*]})}"
[ ${#failed[@]} -eq 0 ]
