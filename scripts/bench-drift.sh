#!/usr/bin/env bash
# The reconciler of `cove serve` (issue 10): on a generated network of
# RECONCILE_VPCS x RECONCILE_ENIS ENIs (default 100 x 10 = 1,000), times
#  * the no-op tick `cove serve` runs every 500 ms (lease renewed, generation read,
#    kernel observed and diffed, nothing to do) and counts the processes it starts
#    (strace; the example binary itself excluded);
#  * drift repaired with no command by `cove serve`: a deleted ENI namespace and a
#    flushed router ruleset, each DRIFT_RUNS times, from the change until serve logs
#    the repair (polled every 10 ms; `cove status` then confirms it; the log line
#    also gives the repairing tick's own time).
# Needs root; cleans up on exit.   bash scripts/bench-drift.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v strace >/dev/null || apt-get install -y -qq strace
prefix=${BENCH_PREFIX:-cvrbd}
vpcs=${RECONCILE_VPCS:-100}
enis=${RECONCILE_ENIS:-10}
runs=${DRIFT_RUNS:-3}
cargo build -q --release --locked -p cove --bin cove -p cove-testgen --example large_spec \
  -p cove-deploy --example reconcile_tick
cove=$PWD/target/release/cove
work=$(mktemp -d /tmp/cove-bench-drift.XXXXXX)
serve_pid=
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  COVE_PREFIX=$prefix COVE_STATE_DIR=$work/state "$cove" destroy >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export COVE_PREFIX=$prefix COVE_STATE_DIR=$work/state
target/release/examples/large_spec "$vpcs" "$enis" > "$work/spec.yaml"
start=$EPOCHREALTIME
"$cove" apply -f "$work/spec.yaml" >/dev/null
echo "apply from scratch, $((vpcs * enis)) ENIs: $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $start }") s"
target/release/examples/reconcile_tick "$prefix" "$work/state" 30 | tail -1
strace -f -qq -e trace=execve -o "$work/trace" \
  target/release/examples/reconcile_tick "$prefix" "$work/state" 5 >/dev/null
echo "processes started by 6 ticks (strace): $(($(grep -c 'execve(' "$work/trace") - 1))"
"$cove" serve --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 > "$work/serve.log" 2>&1 &
serve_pid=$!
until grep -q "leader, in sync" "$work/serve.log"; do sleep 0.1; done
repaired() {
  local what=$1 start=$2 seen=$3
  until [ "$(grep -c 'drift repaired' "$work/serve.log")" -gt "$seen" ]; do
    awk "BEGIN { exit !($EPOCHREALTIME - $start > 60) }" && { echo "$what: not repaired in 60 s"; tail -3 "$work/serve.log"; exit 1; }
    sleep 0.01
  done
  local took; took=$(awk "BEGIN { printf \"%.2f\", $EPOCHREALTIME - $start }")
  "$cove" status -f "$work/spec.yaml" >/dev/null || { echo "$what: status not clean"; exit 1; }
  echo "$what: repaired in $took s ($(grep 'drift repaired' "$work/serve.log" | tail -1 | sed 's/.*operation(s) in //; s/ (drift.*//') in the repairing tick)"
}
ns=$(find /run/netns -maxdepth 1 -name "$prefix-e-*" -printf '%f\n' -quit)
for _ in $(seq "$runs"); do
  seen=$(grep -c 'drift repaired' "$work/serve.log" || true)
  start=$EPOCHREALTIME; ip netns del "$ns"
  repaired "deleted ENI namespace" "$start" "$seen"
  seen=$(grep -c 'drift repaired' "$work/serve.log" || true)
  start=$EPOCHREALTIME; ip netns exec "$prefix-router" nft flush ruleset
  repaired "flushed router ruleset" "$start" "$seen"
done
