#!/usr/bin/env bash
# The web console's first page loads (issue 16), in one run on one machine: a
# `cove serve` (release build, reconciler off: the pages read the desired state)
# with a tenant of 50 ENIs and a tenant of 1,000 ENIs; Debian's headless Chromium
# loads the networks page and the 1,000-ENI topology with its cache off, in turns
# with the same bytes served as static files by Python's http.server (the
# baseline). Prints bytes on the wire, time to the load event and to the first
# paint after it, and the ratio to the static baseline; saves the 50-ENI topology
# as docs/console/topology-50.png.
#   bash scripts/bench-console.sh            (BC_ROUNDS=15 by default)
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
[ -n "${COVE_BIN:-}" ] || cargo build --release --locked -q -p cove --bin cove
cove=${COVE_BIN:-$PWD/target/release/cove}
export COVE_PREFIX=${BENCH_PREFIX:-bcon}
rounds=${BC_ROUNDS:-15}
work=$(mktemp -d /tmp/cove-bench-console.XXXXXX)
export COVE_STATE_DIR=$work/state
serve=""
cleanup() {
  [ -n "$serve" ] && kill "$serve" 2>/dev/null && wait "$serve" 2>/dev/null
  "$cove" destroy >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$cove" serve --no-reconcile --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 > "$work/serve.log" 2>&1 &
serve=$!
for _ in $(seq 100); do
  base=$(sed -n 's/^cove serve: control-plane API on \(http[^ ]*\).*/\1/p' "$work/serve.log")
  [ -n "$base" ] && break
  sleep 0.1
done
[ -n "$base" ] || { cat "$work/serve.log"; exit 1; }
admin=$(cat "$COVE_STATE_DIR/$COVE_PREFIX/admin-token")
call() { # METHOD PATH TOKEN [BODY]
  curl -sf -X "$1" -H "authorization: Bearer $3" -H 'content-type: application/json' \
    ${4:+-d "$4"} "$base$2"
}
call PUT /v1/ip-pool "$admin" '{"blocks":["198.51.100.0/28"]}' >/dev/null
tenant() { # NAME ENIS → token
  local id tok net
  id=$(call POST /v1/tenants "$admin" "{\"name\":\"$1\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  tok=$(call POST "/v1/tenants/$id/tokens" "$admin" '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
  call POST /v1/connect/networks "$tok" '{"name":"web","cidr":"10.20.0.0/16","region":"us-east-1"}' >/dev/null
  python3 - "$2" > "$work/spec-$1.json" <<'PY'
import ipaddress, json, sys
n = int(sys.argv[1])
enis = []
for i in range(n):
    subnet, block = (("private-a", "10.20.128.0"), ("private-b", "10.20.192.0"))[i % 2]
    ip = ipaddress.ip_address(block) + 10 + i // 2
    enis.append({"name": f"worker-{i}", "subnet": subnet, "private_ip": str(ip)})
print(json.dumps({"vpcs": [{"name": "web", "enis": enis}]}))
PY
  call PUT /v1/spec "$tok" "@$work/spec-$1.json" >/dev/null
  echo "$tok"
}
small=$(tenant small 50)
big=$(tenant big 1000)
python3 scripts/bench-console.py "$base" "$small" "$big" "$rounds" docs/console | tee "$work/out.json"
python3 - "$work/out.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
n, t = r["networks"], r["topology_1000"]
print(f"first load of the networks page: {n['bytes'] / 1024:.1f} KB on the wire "
      f"(HTML {n['html_bytes'] / 1024:.1f} KB), load event {n['load_ms']:.0f} ms, painted "
      f"{n['painted_ms']:.0f} ms; static baseline {n['static_painted_ms']:.0f} ms "
      f"({n['static_bytes'] / 1024:.1f} KB uncompressed): ratio {n['painted_ratio']:.2f}")
print(f"topology of 1,000 ENIs: {t['bytes'] / 1024:.1f} KB on the wire, painted "
      f"{t['painted_ms']:.0f} ms; static baseline {t['static_painted_ms']:.0f} ms: "
      f"ratio {t['painted_ratio']:.2f} (median of {t['rounds']} rounds)")
PY
