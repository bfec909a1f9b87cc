#!/usr/bin/env bash
# A no-op reconcile (issue 10's goal: with 1,000 ENIs, 0 processes and <= 100 ms):
# applies a generated network of RECONCILE_VPCS x RECONCILE_ENIS ENIs (default
# 100 x 10 = 1,000, peered in a ring, ~1,000 SG rules and ACL entries per 10 VPCs)
# and a small one (3 x 3 = 9 ENIs) side by side under two prefixes, then measures
# `cove status` and a no-op `cove apply` on both with hyperfine (the small network
# is the baseline: the ratio is what 1,000 ENIs cost over 9), and counts the
# processes a no-op apply starts with strace. Then the same no-op reconcile
# in-process with a persistent observer (what a long-running `cove serve` does):
# cove-host's `reconcile` benchmark (observe + diff, 1,000 ENIs vs 9 in the same
# run), also under strace. Needs root; cleans up on exit.
#   bash scripts/bench-reconcile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for pair in hyperfine:hyperfine strace:strace; do
  command -v "${pair%%:*}" >/dev/null || apt-get install -y -qq "${pair#*:}"
done
prefix=${BENCH_PREFIX:-cvrc}
vpcs=${RECONCILE_VPCS:-100}
enis=${RECONCILE_ENIS:-10}
runs=${RECONCILE_RUNS:-20}
cargo build -q --release --locked -p cove --bin cove -p cove-testgen --example large_spec
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
cove=$target_dir/release/cove
work=$(mktemp -d /tmp/cove-bench-reconcile.XXXXXX)
cleanup() {
  for p in "${prefix}l" "${prefix}s"; do
    COVE_PREFIX=$p COVE_STATE_DIR=$work/state "$cove" destroy >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
"$target_dir/release/examples/large_spec" "$vpcs" "$enis" > "$work/large.yaml"
"$target_dir/release/examples/large_spec" 3 3 > "$work/small.yaml"
export COVE_STATE_DIR=$work/state
for p in l s; do
  spec=$work/large.yaml; [ "$p" = s ] && spec=$work/small.yaml
  start=$EPOCHREALTIME
  COVE_PREFIX=$prefix$p "$cove" apply -f "$spec" >/dev/null
  echo "apply from scratch ($p): $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $start }") s"
done
# Processes a no-op apply starts (cove itself excluded).
for p in l s; do
  spec=$work/large.yaml; [ "$p" = s ] && spec=$work/small.yaml
  COVE_PREFIX=$prefix$p strace -f -qq -e trace=execve -o "$work/trace-$p" "$cove" apply -f "$spec" >/dev/null
  echo "no-op apply ($p): $(($(grep -c 'execve(' "$work/trace-$p") - 1)) process(es) started"
done
hyperfine -N -w 3 -r "$runs" --export-markdown "$work/table.md" \
  -n "status, $((vpcs * enis)) ENIs" "env COVE_PREFIX=${prefix}l $cove status -f $work/large.yaml" \
  -n "status, 9 ENIs" "env COVE_PREFIX=${prefix}s $cove status -f $work/small.yaml" \
  -n "no-op apply, $((vpcs * enis)) ENIs" "env COVE_PREFIX=${prefix}l $cove apply -f $work/large.yaml" \
  -n "no-op apply, 9 ENIs" "env COVE_PREFIX=${prefix}s $cove apply -f $work/small.yaml" >/dev/null
cat "$work/table.md"
# In-process: a persistent observer, no-op observe + diff (its own prefixes).
cargo bench -q --locked -p cove-host --bench reconcile --no-run 2>/dev/null
bench=$(find "$target_dir/release/deps" -maxdepth 1 -name 'reconcile-*' -type f -executable -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2)
run_bench() {
  RECONCILE_VPCS=$vpcs RECONCILE_ENIS=$enis BENCH_PREFIX=${prefix}b RECONCILE_PHASE=$1 "${@:2}" "$bench"
}
trap 'run_bench teardown >/dev/null 2>&1 || true; cleanup' EXIT
run_bench setup 2>/dev/null
run_bench measure 2>/dev/null
RECONCILE_RUNS=5 run_bench measure strace -f -qq -e trace=execve -o "$work/trace-bench" >/dev/null 2>&1
echo "in-process no-op reconciles: $(($(grep -c 'execve(' "$work/trace-bench") - 1)) process(es) started"
