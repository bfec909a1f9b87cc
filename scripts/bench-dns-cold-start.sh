#!/usr/bin/env bash
# Issue 12: a function's cold start with its VPC's resolver on and off, in one run.
# One deployment of its own (prefix BENCH_PREFIX, destroyed on exit): VPC `on`
# (dns_support, DNS hostnames, a private zone — the resolver serves it, with its
# kernel fast path) and VPC `off` (dns_support: false: no resolver), each with the
# same trivial Python function (concurrency 1). `cove serve` runs both. Each round,
# in alternating order: an invocation that ends the function's environment
# (`os._exit`), then the timed one, which starts a new environment (a cold start:
# namespace slot, runtime, handler import; its /etc/resolv.conf names the VPC's
# resolver or none). DNS_COLD_N rounds; p50 and p90 of each, and the ratio on/off
# (goal ≤ 1.02). Needs root and the runtime clients (installed if missing).
#   bash scripts/bench-dns-cold-start.sh
#   COVE_BIN     the cove binary (default target/release/cove, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
bash scripts/install-runtimes.sh >/dev/null
prefix=${BENCH_PREFIX:-cvbdcs}
n=${DNS_COLD_N:-80}
work=$(mktemp -d /tmp/cove-bench-dns-cold.XXXXXX)
export COVE_STATE_DIR=$work/state COVE_PREFIX=$prefix
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -x "$work/cove" ] && "$work/cove" destroy >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
src=${COVE_BIN:-target/release/cove}
[ -x "$src" ] || cargo build -q --release --locked -p cove --bin cove
ln "$src" "$work/cove" 2>/dev/null || cp "$src" "$work/cove"
cove=$work/cove
"$cove" destroy >/dev/null 2>&1 || true

mkdir -p "$work/code"
cat > "$work/code/handler.py" <<'PY'
import os


def handler(event, context):
    if event.get("op") == "exit":
        os._exit(3)
    return {"ok": True}
PY
vpc() { # name, second octet, dns_support
  cat <<YAML
      - name: $1
        cidr: 10.$2.0.0/16
        dns_support: $3
        dns_hostnames: $3
        subnets:
          - { name: s, cidr: 10.$2.1.0/24, az: us-east-1a }
        security_groups:
          - name: fn
        functions:
          - name: f$1
            runtime: python3.11
            handler: handler.handler
            code: code
            concurrency: 1
            subnets: [s]
            security_groups: [fn]
YAML
}
{
  echo "tenants:"
  echo "  - name: t"
  echo "    vpcs:"
  vpc on 76 true
  vpc off 77 false
  echo "    hosted_zones:"
  echo "      - name: corp.internal"
  echo "        vpcs: [on]"
  echo "        records:"
  echo "          - { name: db.corp.internal, type: A, values: [10.76.1.10] }"
} > "$work/spec.yaml"
"$cove" apply -f "$work/spec.yaml" >/dev/null
"$cove" serve --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 >"$work/serve.log" 2>&1 &
pids+=($!)
addr=""
for _ in $(seq 1 300); do
  addr=$(cat "$COVE_STATE_DIR/$prefix/serve.addr" 2>/dev/null || true)
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { echo "cove serve did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
invoke() { # function, event → seconds
  curl -s -o "$work/out" -w '%{time_total}' -X POST \
    "http://$addr/2015-03-31/functions/$1/invocations" -d "$2"
}
for f in fon foff; do
  for _ in $(seq 1 50); do
    invoke "$f" '{"op":"echo"}' >/dev/null
    grep -q '"ok"' "$work/out" && break
    sleep 0.2
  done
  grep -q '"ok"' "$work/out" || { echo "$f does not answer: $(cat "$work/out")" >&2; exit 1; }
done
# The VPC's resolver answers in `on` (and its fast path is on the link).
samples=$work/samples
for round in $(seq 1 "$n"); do
  order="fon foff"
  [ $((round % 2)) = 0 ] && order="foff fon"
  for f in $order; do
    invoke "$f" '{"op":"exit"}' >/dev/null
    t=$(invoke "$f" '{"op":"echo"}')
    grep -q '"ok"' "$work/out" || { echo "$f failed: $(cat "$work/out")" >&2; exit 1; }
    echo "$f $t" >> "$samples"
  done
done
python3 - "$samples" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
def pct(v, p):
    v = sorted(v)
    return v[max(1, -(-len(v) * p // 100)) - 1] * 1000
s = {f: [float(t) for g, t in rows if g == f] for f in ("fon", "foff")}
print(f"cold start, trivial Python handler, {len(s['fon'])} per VPC, alternating")
print("| VPC | p50 ms | p90 ms |")
print("|---|---|---|")
for f, name in (("fon", "resolver on (dns_support, a private zone)"), ("foff", "resolver off")):
    print(f"| {name} | {pct(s[f], 50):.1f} | {pct(s[f], 90):.1f} |")
print(f"ratio on/off: p50 {pct(s['fon'], 50) / pct(s['foff'], 50):.3f}, p90 {pct(s['fon'], 90) / pct(s['foff'], 90):.3f} (goal p50 <= 1.02)")
PY
