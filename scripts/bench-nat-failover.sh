#!/usr/bin/env bash
# Issue 11's NAT gateway pair under load, with cove itself (`cove apply` + `cove
# serve`, no hand-made takeover): NAT_CONNS long-lived TCP connections (default
# 1,000; each sends a byte every 100 ms and reads it back) and a UDP stream (a
# datagram every 2 ms) from a private subnet through nat-a to a server on the
# internet stand-in; then NAT_ROUNDS failovers (default 20), alternately nat-a's
# namespace deleted and its link taken down, each followed by the fail-back
# (`--nat-failback-after 2`). Per round: connections kept / total (no error on
# either side and echoed within the last 0.5 s), the UDP gap around the failure
# and around the fail-back (largest inter-arrival time at the server), and when
# the takeover was applied. Then TCP throughput through the gateway, replication
# on (`nat_failover: pair`) / off (`independent`), in the same run (iperf3, 3
# alternating rounds, NAT_TPUT_ROUNDS). Needs root; cleans up on exit.
#   bash scripts/bench-nat-failover.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v iperf3 >/dev/null || apt-get install -y -qq iperf3 >/dev/null
command -v conntrack >/dev/null || apt-get install -y -qq conntrack >/dev/null
prefix=${BENCH_PREFIX:-cvbnf}
conns=${NAT_CONNS:-1000}
rounds=${NAT_ROUNDS:-20}
tput_rounds=${NAT_TPUT_ROUNDS:-3}
if [ -z "${COVE_BIN:-}" ]; then
  cargo build -q --release --locked -p cove --bin cove
fi
cove=${COVE_BIN:-$PWD/target/release/cove}
work=$(mktemp -d /tmp/cove-bench-natfo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  COVE_PREFIX=$prefix COVE_STATE_DIR=$work/state "$cove" destroy >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export COVE_PREFIX=$prefix COVE_STATE_DIR=$work/state
ulimit -n "$(ulimit -Hn)"

spec() {
  cat <<EOF
tenants:
  - name: t
    vpcs:
      - name: v
        cidr: 10.72.0.0/16
        internet_gateway: { name: igw }
        nat_failover: $1
        subnets:
          - { name: public-a, cidr: 10.72.0.0/24, az: az1, route_table: public }
          - { name: public-b, cidr: 10.72.10.0/24, az: az2, route_table: public }
          - { name: private-a, cidr: 10.72.1.0/24, az: az1, route_table: private-a }
          - { name: private-b, cidr: 10.72.2.0/24, az: az2, route_table: private-b }
        route_tables:
          - name: public
            routes:
              - { destination: 0.0.0.0/0, internet_gateway: igw }
          - name: private-a
            routes:
              - { destination: 0.0.0.0/0, nat_gateway: nat-a }
          - name: private-b
            routes:
              - { destination: 0.0.0.0/0, nat_gateway: nat-b }
        nat_gateways:
          - { name: nat-a, subnet: public-a, public_ips: [203.0.113.80] }
          - { name: nat-b, subnet: public-b, public_ips: [203.0.113.81] }
        enis:
          - { name: c, subnet: private-a, private_ip: 10.72.1.10 }
EOF
}
spec pair > "$work/pair.yaml"
spec independent > "$work/independent.yaml"
"$cove" apply -f "$work/pair.yaml" >/dev/null
# The namespaces by what they hold (their names carry hashes).
ns_with() {
  for n in $(ip netns list | awk '{print $1}' | grep "^$prefix-"); do
    ip -n "$n" -4 -o addr show 2>/dev/null | grep -q " $1/" && { echo "$n"; return; }
  done
}
client=$(ns_with 10.72.1.10)
nat_a=$(ns_with 10.72.0.4)
nat_b=$(ns_with 10.72.10.4)
outside=$prefix-outside
server_ip=198.51.100.1
[ -n "$client" ] && [ -n "$nat_a" ] && [ -n "$nat_b" ] || { echo "namespaces not found"; exit 1; }

"$cove" serve --listen 127.0.0.1:0 --no-api --nat-failback-after 2 > "$work/serve.log" 2>&1 &
pids+=($!)
until grep -q "leader, in sync" "$work/serve.log"; do sleep 0.1; done

cat > "$work/h.py" <<'PY'
import asyncio, json, os, signal, socket, struct, sys, time

def dump(path, obj):
    with open(path + ".tmp", "w") as f: json.dump(obj, f)
    os.replace(path + ".tmp", path)

def server(ip, out):
    conns, udp = [], []
    class Echo(asyncio.Protocol):
        def connection_made(self, t):
            self.t = t; self.c = {"err": None}; conns.append(self.c)
        def data_received(self, d): self.t.write(d)
        def connection_lost(self, e): self.c["err"] = repr(e) if e else "eof"
    class Sink(asyncio.DatagramProtocol):
        def datagram_received(self, d, a): udp.append(time.monotonic())
    async def main():
        loop = asyncio.get_running_loop()
        await loop.create_server(Echo, ip, 9000, backlog=4096)
        await loop.create_datagram_endpoint(Sink, local_addr=(ip, 9001))
        loop.add_signal_handler(signal.SIGUSR1, lambda: dump(out, {"conns": conns, "udp": udp[-20000:]}))
        open(out + ".ready", "w").close()
        await asyncio.Event().wait()
    asyncio.run(main())

def client(ip, n, out):
    conns = []
    async def one():
        c = {"err": None, "last": 0.0}; conns.append(c)
        try:
            r, w = await asyncio.open_connection(ip, 9000)
        except OSError as e:
            c["err"] = "connect: " + repr(e); return
        async def rd():
            while True:
                d = await r.read(100)
                if not d: raise EOFError()
                c["last"] = time.monotonic()
        t = asyncio.ensure_future(rd())
        try:
            while not t.done():
                w.write(b"x"); await asyncio.sleep(0.1)
            t.result()
        except Exception as e:
            c["err"] = repr(e)
    async def main():
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, lambda: dump(out, {"at": time.monotonic(), "conns": conns}))
        for k in range(0, n, 50):
            for _ in range(k, min(n, k + 50)): asyncio.ensure_future(one())
            await asyncio.sleep(0.05)
        open(out + ".ready", "w").close()
        await asyncio.Event().wait()
    asyncio.run(main())

def udp(ip, interval):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect((ip, 9001)); t = time.monotonic()
    while True:
        try: s.send(b"x" * 8)
        except OSError: pass
        t += interval; d = t - time.monotonic()
        if d > 0: time.sleep(d)

def report(server_out, client_out, t0):
    """kept (echoed in the last 0.5 s, no error either side) and the largest UDP
    inter-arrival gap after t0 - 1 (ms)."""
    s = json.load(open(server_out)); d = json.load(open(client_out)); c = d["conns"]; now = d["at"]
    kept = sum(1 for x in c if not x["err"] and now - x["last"] < 0.5)
    errs = sum(1 for x in c if x["err"]) + sum(1 for x in s["conns"] if x["err"])
    a = [t for t in s["udp"] if t >= t0 - 1]
    gap = max((b - x for x, b in zip(a, a[1:])), default=float("nan")) * 1000
    print(json.dumps({"kept": kept, "errors": errs, "gap_ms": round(gap, 1)}))

{"server": lambda: server(sys.argv[2], sys.argv[3]),
 "client": lambda: client(sys.argv[2], int(sys.argv[3]), sys.argv[4]),
 "udp": lambda: udp(sys.argv[2], float(sys.argv[3])),
 "report": lambda: report(sys.argv[2], sys.argv[3], float(sys.argv[4])),
 "now": lambda: print("%.6f" % time.monotonic())}[sys.argv[1]]()
PY
h() { python3 "$work/h.py" "$@"; }
ip netns exec "$outside" python3 "$work/h.py" server "$server_ip" "$work/server.json" & pids+=($!)
until [ -e "$work/server.json.ready" ]; do sleep 0.05; done
ip netns exec "$client" python3 "$work/h.py" client "$server_ip" "$conns" "$work/client.json" & cpid=$!; pids+=($cpid)
until [ -e "$work/client.json.ready" ]; do sleep 0.05; done
ip netns exec "$client" python3 "$work/h.py" udp "$server_ip" 0.002 & pids+=($!)
sleep 2
snap() { kill -USR1 "${pids[1]}" "$cpid"; sleep 0.3; h report "$work/server.json" "$work/client.json" "$1"; }
has_a() { ip -n "$nat_b" -4 -o addr show dev eth0 | grep -q " 10.72.0.4/32"; }
copies() { ip netns exec "$nat_b" conntrack -L -s 10.72.1.10 -p tcp 2>/dev/null | grep -c ESTABLISHED || true; }
echo "== $conns connections through nat-a; $rounds failovers, each with its fail-back"
echo "   before: $(snap "$(h now)")"
: > "$work/rounds"
for r in $(seq "$rounds"); do
  # B holds a copy of every connection before the failure.
  for _ in $(seq 200); do [ "$(copies)" -ge "$conns" ] && break; sleep 0.05; done
  t0=$(h now)
  if [ $((r % 2)) -eq 1 ]; then how=deleted; ip netns del "$nat_a"; else how=link-down; ip -n "$nat_a" link set eth0 down; fi
  until has_a; do sleep 0.005; done
  took=$(python3 -c "import sys; print('%.0f' % ((float(sys.argv[2]) - float(sys.argv[1])) * 1000))" "$t0" "$(h now)")
  sleep 2
  over=$(snap "$t0")
  [ "$how" = link-down ] && ip -n "$nat_a" link set eth0 up 2>/dev/null || true
  # Fail-back: nat-a back (recreated or up again) and healthy for 2 s.
  until ! has_a; do sleep 0.005; done
  t1=$(h now)
  sleep 2
  back=$(snap "$t1")
  echo "   round $r ($how): takeover applied ${took} ms after the failure; after it $over; after the fail-back $back"
  echo "$how $took $over $back" >> "$work/rounds"
done
[ "$rounds" -gt 0 ] && python3 - "$work/rounds" "$conns" <<'PY'
import json, statistics, sys
rows = [l.split(" ", 2) for l in open(sys.argv[1])]
def q(v, p): v = sorted(v); return v[min(len(v) - 1, int(round(p * (len(v) - 1))))]
over, back, took, kept = [], [], [], []
for how, t, rest in rows:
    a, b = rest.strip().split("} ")
    a = json.loads(a + "}"); b = json.loads(b)
    over.append(a["gap_ms"]); back.append(b["gap_ms"]); took.append(float(t)); kept.append(min(a["kept"], b["kept"]))
n = int(sys.argv[2])
print("== %d failovers: failover gap (UDP, ms) p50 %.1f p99 %.1f; fail-back gap p50 %.1f p99 %.1f; takeover applied p50 %.0f ms p99 %.0f ms; connections kept / total, worst round: %d/%d"
      % (len(rows), q(over, .5), q(over, .99), q(back, .5), q(back, .99), q(took, .5), q(took, .99), min(kept), n))
PY
echo "   after all rounds: $(snap "$(h now)")"
kill "$cpid" 2>/dev/null || true

echo "== TCP throughput through nat-a, replication on (pair) / off (independent)"
ip netns exec "$outside" iperf3 -s -B "$server_ip" -D -p 5201 --logfile "$work/iperf.log"
tput() {
  "$cove" apply -f "$work/$1.yaml" >/dev/null
  sleep 1
  ip netns exec "$client" iperf3 -c "$server_ip" -p 5201 -t 4 -J | python3 -c 'import json,sys; print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))'
}
on=(); off=()
for _ in $(seq "$tput_rounds"); do on+=("$(tput pair)"); off+=("$(tput independent)"); done
pkill -f "iperf3 -s -B $server_ip" || true
python3 - "${on[*]}" "${off[*]}" <<'PY'
import statistics, sys
on = [float(x) for x in sys.argv[1].split()]; off = [float(x) for x in sys.argv[2].split()]
print("   on %s Mbit/s, off %s Mbit/s: median ratio on/off %.3f" % (on, off, statistics.median(on) / statistics.median(off)))
PY
