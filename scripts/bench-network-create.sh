#!/usr/bin/env bash
# Secure Compute networks through `cove serve`'s API until they are `ready` in the
# kernel (issue 10's goals: p50 <= 200 ms for one network with 2 AZs and a NAT pair;
# 100 tenants creating networks at once all `ready` within 30 s, 0 errors).
#
#   bash scripts/bench-network-create.sh
#
# Starts a `cove serve` (release build) on a fresh SQLite store under prefix
# ${BENCH_PREFIX:-cvnc}, makes the admin token, an IP pool, tenants and their tokens,
# then:
#   1. sequential: NET_N (default 20) times one tenant creates a network, polls it
#      every 5 ms until `ready`, deletes it and waits until it is gone. The POST's own
#      latency (the store write, no kernel) is the baseline in the same run: the
#      ratio says what reaching the kernel adds;
#   2. concurrent: NET_TENANTS (default 100) tenants each create one network at the
#      same moment; the time until every one is `ready` and the errors are counted.
# Needs root; cleans up (serve stopped, `cove destroy`) on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${BENCH_PREFIX:-cvnc}
cargo build -q --release --locked -p cove --bin cove
cove=$PWD/target/release/cove
work=$(mktemp -d /tmp/cove-bench-netcreate.XXXXXX)
export COVE_PREFIX=$prefix COVE_STATE_DIR=$work/state
serve_pid=""
cleanup() {
  [ -z "$serve_pid" ] || { kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; }
  "$cove" destroy >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"$cove" serve --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 > "$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 200); do
  grep -q "control-plane API on" "$work/serve.log" && break
  sleep 0.05
done
api=$(sed -n 's/^cove serve: control-plane API on \([^ ]*\).*/\1/p' "$work/serve.log")
[ -n "$api" ] || { cat "$work/serve.log" >&2; exit 1; }
API=$api ADMIN_FILE=$work/state/$prefix/admin-token NET_N=${NET_N:-20} NET_TENANTS=${NET_TENANTS:-100} \
  python3 - <<'EOF'
import json, os, statistics, threading, time, urllib.request, urllib.error

API = os.environ["API"]
ADMIN = open(os.environ["ADMIN_FILE"]).read().strip()
N = int(os.environ["NET_N"])
TENANTS = int(os.environ["NET_TENANTS"])

def call(method, path, token, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(API + path, data=data, method=method)
    req.add_header("authorization", "Bearer " + token)
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")

def check(status, body, want):
    if status not in want:
        raise SystemExit(f"unexpected {status}: {body}")
    return body

check(*call("PUT", "/v1/ip-pool", ADMIN, {"blocks": ["198.18.0.0/22"]}), (200,))

def tenant(name):
    t = check(*call("POST", "/v1/tenants", ADMIN, {"name": name}), (201,))
    tok = check(*call("POST", f"/v1/tenants/{t['id']}/tokens", ADMIN, {}), (201,))
    return tok["secret"]

def wait_ready(token, nid, deadline=120.0):
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        s, n = call("GET", f"/v1/connect/networks/{nid}", token)
        if s == 200 and n["status"] == "ready":
            return True
        time.sleep(0.005)
    return False

def wait_gone(token, nid, deadline=120.0):
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        if call("GET", f"/v1/connect/networks/{nid}", token)[0] == 404:
            return True
        time.sleep(0.005)
    return False

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

# 1. Sequential: one network at a time, 2 AZs and a NAT pair (the default layout).
tok = tenant("seq")
posts, readies = [], []
for i in range(N):
    t0 = time.monotonic()
    n = check(*call("POST", "/v1/connect/networks", tok, {"name": f"n{i}", "region": "us-east-1"}), (201,))
    t1 = time.monotonic()
    if not wait_ready(tok, n["id"]):
        raise SystemExit(f"network {n['id']} not ready")
    t2 = time.monotonic()
    posts.append((t1 - t0) * 1000)
    readies.append((t2 - t0) * 1000)
    check(*call("DELETE", f"/v1/connect/networks/{n['id']}", tok), (202,))
    if not wait_gone(tok, n["id"]):
        raise SystemExit(f"network {n['id']} not removed")
print(f"| create -> ready (kernel applied), {N} networks one at a time | p50 {pct(readies, 50):.0f} ms | p99 {pct(readies, 99):.0f} ms | min {min(readies):.0f} ms |")
print(f"| baseline: the POST alone (store write, no kernel) | p50 {pct(posts, 50):.1f} ms | p99 {pct(posts, 99):.1f} ms | |")
print(f"| ratio ready / POST (p50) | {statistics.median(readies) / statistics.median(posts):.1f} | | |")

# 2. Concurrent: TENANTS tenants create one network each at the same moment.
tokens = [tenant(f"t{i}") for i in range(TENANTS)]
errors, done = [], []
lock = threading.Lock()
gate = threading.Barrier(TENANTS)
def one(tok, i):
    gate.wait()
    s, n = call("POST", "/v1/connect/networks", tok, {"name": "net", "region": "us-east-1"})
    if s != 201:
        with lock:
            errors.append((s, n))
        return
    ok = wait_ready(tok, n["id"])
    with lock:
        (done if ok else errors).append(time.monotonic())
threads = [threading.Thread(target=one, args=(t, i)) for i, t in enumerate(tokens)]
start = time.monotonic()
for t in threads:
    t.start()
for t in threads:
    t.join()
last = max(done) - start if done else float("nan")
print(f"| {TENANTS} tenants create a network at once: all ready | {last:.1f} s | {len(done)} ready | {len(errors)} errors |")
for e in errors[:5]:
    print("error:", e)
EOF
