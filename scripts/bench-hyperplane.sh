#!/usr/bin/env bash
# Shared function ENIs (issue 17, "Hyperplane"): the three data-plane benchmarks of
# the issue, in one run, on a deployment of its own (prefix BENCH_PREFIX, a state
# directory in a temporary directory; destroyed on exit). Needs root.
#
#   bash scripts/bench-hyperplane.sh
#
# The spec (written below): tenant `bench`, VPC 10.60.0.0/16, subnet `a`
# (10.60.1.0/24) and `b`; security group `fn` (the function's), `srv` (allows all
# from `fn` and from `cli`), `cli`; ENIs `srv` 10.60.1.10 and `cli` 10.60.1.11 in
# `a`; function `f` (Python, concurrency BENCH_CONCURRENCY) in `a` with group `fn`.
#
# 1. Throughput through the translation: iperf3 server in srv's namespace; client A
#    in an environment namespace (translated to the shared ENI's address in the host
#    router), client B in cli's namespace (same subnet, same router, no
#    translation). TCP throughput and UDP 64-byte packet rate (packets the receiver
#    got), BENCH_SECONDS each, BENCH_ROUNDS rounds, the order A/B alternating per
#    round; ratio A/B per round (goal >= 0.9).
# 2. Connections per shared ENI to one destination host: a Python server in srv's
#    namespace holds every connection on two ports; clients in BENCH_CONN_NS
#    environment namespaces open BENCH_CONNS_PORT1 connections to srv:7001 (more
#    than one (address, port, proto) can take after translation: source ports
#    1024-65535, 64,512) and BENCH_CONNS_PORT2 to srv:7002 from one more
#    namespace. Reports what srv has established per port, the distinct peer
#    addresses srv sees, the router's conntrack count and its insert failures (the
#    translation's "port allocation" failures). Open files are raised to 200000
#    where root may (CAP_SYS_RESOURCE); in a container that keeps a lower hard
#    limit each side is split into processes below it (SO_REUSEPORT listeners).
#    nf_conntrack_max is raised in the router namespace only, and only if short.
# 3. Addresses: the function scaled to BENCH_SCALE environments (default 1000, in
#    the /24), applied (timed); environments (cove fn list, kernel namespaces)
#    against distinct shared-ENI addresses (cove fn list's slot_ips; the router's
#    env_shared map).
#
#   BENCH_PREFIX       namespace prefix (default bh)
#   BENCH_CONCURRENCY  the function's environments for 1 and 2 (default 8)
#   BENCH_SECONDS      length of each iperf3 run (default 5)
#   BENCH_ROUNDS       rounds of 1 (default 3)
#   BENCH_CONN_NS      environment namespaces opening connections to srv:7001 (default 3)
#   BENCH_CONNS_PORT1  connections to srv:7001, spread over them (default 66000)
#   BENCH_CONNS_PORT2  connections to srv:7002 from one more namespace (default 6000)
#   BENCH_SCALE        environments for 3 (default 1000)
#   COVE_BIN           the cove binary (default target/release/cove if built, else
#                      target/debug/cove, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
command -v iperf3 >/dev/null || apt-get install -y -qq iperf3 >/dev/null

prefix=${BENCH_PREFIX:-bh}
conc=${BENCH_CONCURRENCY:-8}
secs=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
conn_ns=${BENCH_CONN_NS:-3}
conns1=${BENCH_CONNS_PORT1:-66000}
conns2=${BENCH_CONNS_PORT2:-6000}
scale=${BENCH_SCALE:-1000}
[ "$conc" -ge $((conn_ns + 1)) ] || { echo "BENCH_CONCURRENCY must be > BENCH_CONN_NS" >&2; exit 1; }
[ "$conc" -ge 4 ] || { echo "BENCH_CONCURRENCY must be >= 4" >&2; exit 1; }

work=$(mktemp -d /tmp/cove-bench-hpl.XXXXXX)
export COVE_STATE_DIR=$work/state COVE_PREFIX=$prefix
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -f "$work/iperf3.pid" ] && kill "$(cat "$work/iperf3.pid")" 2>/dev/null || true
  [ -x "$work/cove" ] && "$work/cove" destroy >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The binary, linked into the work directory so that a rebuild meanwhile (cargo
# replaces the file) does not change it under the run.
src=${COVE_BIN:-}
if [ -z "$src" ]; then
  if [ -x target/release/cove ]; then src=target/release/cove; else
    [ -x target/debug/cove ] || cargo build -q -p cove --bin cove
    src=target/debug/cove
  fi
fi
ln "$src" "$work/cove" 2>/dev/null || cp "$src" "$work/cove"
cove=$work/cove
echo "cove binary: $src"
"$cove" destroy >/dev/null 2>&1 || true # leftovers of an interrupted run

# --- the deployment -------------------------------------------------------------
mkdir -p "$work/code"
cat > "$work/code/handler.py" <<'EOF'
def handler(event, context):
    return {"ok": True}
EOF
spec() { # $1 = the function's concurrency
  cat <<EOF
tenants:
  - name: bench
    vpcs:
      - name: v
        cidr: 10.60.0.0/16
        subnets:
          - { name: a, cidr: 10.60.1.0/24, az: z1 }
          - { name: b, cidr: 10.60.2.0/24, az: z1 }
        security_groups:
          - name: fn
            description: the function's; all outbound
          - name: srv
            ingress:
              - { protocol: all, security_group: fn }
              - { protocol: all, security_group: cli }
          - name: cli
        enis:
          - { name: srv, subnet: a, private_ip: 10.60.1.10, security_groups: [srv] }
          - { name: cli, subnet: a, private_ip: 10.60.1.11, security_groups: [cli] }
        functions:
          - name: f
            runtime: python3.11
            handler: handler.handler
            code: code
            concurrency: $1
            subnets: [a]
            security_groups: [fn]
EOF
}
spec "$conc" > "$work/spec.yaml"
"$cove" apply -f "$work/spec.yaml"

srv_ip=10.60.1.10
cli_ip=10.60.1.11
router=$prefix-router
eni_ns() { # the ENI namespace whose eth0 has address $1
  local n
  for n in $(ip netns list | awk '{print $1}' | grep "^$prefix-e-"); do
    if ip -n "$n" -4 -br addr show dev eth0 2>/dev/null | grep -q " $1/"; then echo "$n"; return; fi
  done
  echo "no namespace with $1" >&2; return 1
}
srv_ns=$(eni_ns $srv_ip)
cli_ns=$(eni_ns $cli_ip)
fn_json() { "$cove" fn list --json; }
mapfile -t envs < <(fn_json | python3 -c 'import json,sys; [print(s) for s in json.load(sys.stdin)[0]["slots"]]')
shared_ip=$(fn_json | python3 -c 'import json,sys; print(*sorted(set(json.load(sys.stdin)[0]["slot_ips"])))')
echo "srv $srv_ip in $srv_ns; cli $cli_ip in $cli_ns; ${#envs[@]} environments (${envs[0]} …), shared ENI address(es): $shared_ip"
for n in "${envs[@]}"; do ip -n "$n" -4 -br addr show dev eth0 | grep -q ' 169\.254\.' || { echo "$n: no link-local address" >&2; exit 1; }; done

# --- 1. throughput through the translation ---------------------------------------
load0=$(cut -d' ' -f1 /proc/loadavg)
ip netns exec "$srv_ns" iperf3 -s -D -p 5201 -I "$work/iperf3.pid" >/dev/null
sleep 0.5
env_a=${envs[0]}
tcp() { ip netns exec "$1" iperf3 -c $srv_ip -p 5201 -t "$secs" -J |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])'; }
udp() { ip netns exec "$1" iperf3 -c $srv_ip -p 5201 -t "$secs" -u -l 64 -b 0 -J |
  python3 -c 'import json,sys; e=json.load(sys.stdin)["end"]["sum"]; print((e["packets"]-e["lost_packets"])/e["seconds"])'; }
# Warm-up, and a check that A really leaves with the shared address: the server's
# log of the connection's peer.
ip netns exec "$env_a" iperf3 -c $srv_ip -p 5201 -t 1 >/dev/null
ip netns exec "$cli_ns" iperf3 -c $srv_ip -p 5201 -t 1 >/dev/null
peer=$(ip netns exec "$env_a" python3 -c "
import socket; s=socket.create_connection(('$srv_ip', 5201)); print(s.getsockname()[0])")
echo "A's own address as it connects: $peer (translated in $router to $shared_ip)"
results=$work/throughput.txt
: > "$results"
for r in $(seq "$rounds"); do
  order="A B"; [ $((r % 2)) = 0 ] && order="B A"
  for kind in tcp udp; do
    for who in $order; do
      ns=$env_a; [ "$who" = B ] && ns=$cli_ns
      v=$($kind "$ns")
      echo "$r $kind $who $v" >> "$results"
      printf 'round %s %s %s (%s): %.0f %s\n' "$r" "$kind" "$who" "$ns" "$v" "$([ $kind = tcp ] && echo bit/s || echo packets/s received)"
    done
  done
done
kill "$(cat "$work/iperf3.pid")"; rm -f "$work/iperf3.pid"
load1=$(cut -d' ' -f1 /proc/loadavg)

# --- 2. connections per shared ENI -------------------------------------------------
# Open files: raised to 200000 where allowed; a root without CAP_SYS_RESOURCE (a
# container) keeps its hard limit, so each side is split into processes of at most
# $per_proc sockets (listeners with SO_REUSEPORT on the server's side).
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
nofile=$(ulimit -n)
per_proc=$(( nofile > 200000 ? 150000 : nofile * 3 / 4 ))
[ "$per_proc" -ge 1000 ] || { echo "open files limit $nofile is too low" >&2; exit 1; }
echo "open files per process: $nofile (so at most $per_proc connections per client process)"
cat > "$work/hold.py" <<'PY'
# hold.py READY PORT: accepts on PORT (SO_REUSEPORT) and holds every connection.
import resource, selectors, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("0.0.0.0", int(sys.argv[2])))
s.listen(65535)
s.setblocking(False)
sel = selectors.DefaultSelector()
sel.register(s, selectors.EVENT_READ)
open(sys.argv[1], "w").close()
held = []
while True:
    for key, _ in sel.select():
        while True:
            try:
                c, _ = key.fileobj.accept()
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:  # EMFILE: say so, and do not spin
                print("accept:", e, file=sys.stderr)
                time.sleep(1)
                break
            held.append(c)
PY
cat > "$work/open.py" <<'PY'
# open.py OUT DST PORT COUNT: opens COUNT connections to DST:PORT (at most 512
# connecting at once, each given 10 s), writes {"ok", "failed"} to OUT and holds
# them until killed.
import errno, json, os, resource, selectors, signal, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
out, dst, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sel = selectors.DefaultSelector()
held, pending, failed = [], {}, {}
started, stop = 0, False
def fail(name):
    failed[name] = failed.get(name, 0) + 1
last_sweep = time.monotonic()
while (started < count and not stop) or pending:
    while started < count and not stop and len(pending) < 512:
        started += 1
        try:
            s = socket.socket()
        except OSError as e:
            fail(errno.errorcode.get(e.errno, str(e.errno))); stop = True; break
        s.setblocking(False)
        rc = s.connect_ex((dst, port))
        if rc not in (0, errno.EINPROGRESS):
            fail(errno.errorcode.get(rc, str(rc))); s.close()
            if rc == errno.EADDRNOTAVAIL:  # this namespace's ephemeral ports are used up
                stop = True
            continue
        pending[s] = time.monotonic() + 10
        sel.register(s, selectors.EVENT_WRITE)
    for key, _ in sel.select(0.2):
        s = key.fileobj
        sel.unregister(s)
        del pending[s]
        rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if rc == 0:
            held.append(s)
        else:
            fail(errno.errorcode.get(rc, str(rc))); s.close()
    now = time.monotonic()
    if now - last_sweep > 0.5:
        last_sweep = now
        for s in [s for s, t in pending.items() if t < now]:
            sel.unregister(s); del pending[s]; s.close(); fail("timeout")
with open(out + ".tmp", "w") as f:
    json.dump({"ok": len(held), "failed": failed}, f)
os.rename(out + ".tmp", out)
signal.pause()
PY
ct() { ip netns exec "$router" sysctl -n "net.netfilter.$1"; }
ct_max=$(ct nf_conntrack_max)
need=$(( (conns1 + conns2) * 12 / 10 ))
ct_note="nf_conntrack_max in $router: $ct_max (needed ~$need)"
if [ "$ct_max" -lt "$need" ]; then
  if ip netns exec "$router" sysctl -qw "net.netfilter.nf_conntrack_max=$need" 2>/dev/null; then
    ct_note="$ct_note; raised to $(ct nf_conntrack_max) in $router only"
  else
    ct_note="$ct_note; could not be raised inside $router (left as it is)"
  fi
else
  ct_note="$ct_note; not changed"
fi
echo "$ct_note"
echo "nf_conntrack_max in $srv_ns: $(ip netns exec "$srv_ns" sysctl -n net.netfilter.nf_conntrack_max 2>/dev/null || echo n/a)"
insert_failed() { # the router namespace's conntrack insert failures, summed over CPUs
  ip netns exec "$router" python3 -c '
rows = [l.split() for l in open("/proc/net/stat/nf_conntrack")]
c = rows[0].index("insert_failed")
print(sum(int(r[c], 16) for r in rows[1:]))'
}
if_before=$(insert_failed)
# Servers: enough listeners per port that none should hold more than half its limit.
nsrv=0
for port_n in "7001:$conns1" "7002:$conns2"; do
  port=${port_n%%:*} n=${port_n#*:}
  for _ in $(seq $(( n * 2 / per_proc + 1 ))); do
    ip netns exec "$srv_ns" python3 "$work/hold.py" "$work/hold.$nsrv" "$port" &
    pids+=($!)
    nsrv=$((nsrv + 1))
  done
done
for i in $(seq 0 $((nsrv - 1))); do
  for _ in $(seq 100); do [ -f "$work/hold.$i" ] && break; sleep 0.1; done
  [ -f "$work/hold.$i" ] || { echo "server $i did not start" >&2; exit 1; }
done
echo "$nsrv server processes in $srv_ns (SO_REUSEPORT on 7001 and 7002)"
# Clients: conns1 to 7001 over the first conn_ns environments, conns2 to 7002 from
# the next one, in processes of at most per_proc connections.
jobs_=() # "namespace port count"
for i in $(seq 0 $((conn_ns - 1))); do
  jobs_+=("${envs[$i]} 7001 $(( conns1 / conn_ns + (i < conns1 % conn_ns ? 1 : 0) ))")
done
jobs_+=("${envs[$conn_ns]} 7002 $conns2")
nc=0
cpids=()
t0=$(date +%s.%N)
for j in "${jobs_[@]}"; do
  read -r ns port n <<< "$j"
  while [ "$n" -gt 0 ]; do
    k=$(( n < per_proc ? n : per_proc ))
    ip netns exec "$ns" python3 "$work/open.py" "$work/open.$nc" $srv_ip "$port" "$k" &
    pids+=($!); cpids+=($!)
    echo "$ns $port $k" > "$work/job.$nc"
    nc=$((nc + 1)) n=$((n - k))
  done
done
for i in $(seq 0 $((nc - 1))); do
  while [ ! -f "$work/open.$i" ]; do
    kill -0 "${cpids[$i]}" 2>/dev/null || { echo "client $i died" >&2; exit 1; }
    sleep 0.5
  done
done
t1=$(date +%s.%N)
sleep 1
for i in $(seq 0 $((nc - 1))); do echo "client $i ($(cat "$work/job.$i")): $(cat "$work/open.$i")"; done
ip netns exec "$srv_ns" ss -Htn state established > "$work/ss.txt"
conn_summary=$(python3 - "$work/ss.txt" "$srv_ip" <<'PY'
import collections, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
# Recv-Q Send-Q Local:Port Peer:Port
per_port = collections.Counter(r[2].rsplit(":", 1)[1] for r in rows if r[2].startswith(sys.argv[2] + ":"))
peers = collections.Counter(r[3].rsplit(":", 1)[0] for r in rows)
print(f"conns_established={sum(per_port.values())}")
print(f"conns_to_srv_7001={per_port.get('7001', 0)}")
print(f"conns_to_srv_7002={per_port.get('7002', 0)}")
print(f"conns_max_to_one_ip_port={max(per_port.values(), default=0)}")
print(f"conns_distinct_peer_addresses={len(peers)}")
print(f"conns_peer_addresses={','.join(f'{p}x{n}' for p, n in peers.most_common())}")
PY
)
echo "$conn_summary"
read -r ok_clients failed_clients < <(python3 - "$work" "$nc" <<'PY'
import collections, json, sys
ok, failed = 0, collections.Counter()
for i in range(int(sys.argv[2])):
    r = json.load(open(f"{sys.argv[1]}/open.{i}"))
    ok += r["ok"]
    failed.update(r["failed"])
print(ok, ",".join(f"{k}x{v}" for k, v in failed.most_common()) or "none")
PY
)
conn_summary="$conn_summary
conns_clients_ok=$ok_clients
conns_clients_failed=$failed_clients
conns_router_conntrack_count=$(ct nf_conntrack_count)
conns_router_insert_failed=$(( $(insert_failed) - if_before ))
conns_open_seconds=$(python3 -c "print(round($t1 - $t0, 1))")
conns_open_files_per_process=$nofile"
echo "clients: $ok_clients connected, failed: $failed_clients; router conntrack entries: $(ct nf_conntrack_count); insert failures during the run: $(( $(insert_failed) - if_before ))"
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()

# --- 3. addresses per environments ---------------------------------------------------
spec "$scale" > "$work/spec.yaml"
t0=$(date +%s.%N)
"$cove" apply -f "$work/spec.yaml"
t1=$(date +%s.%N)
apply_s=$(python3 -c "print(round($t1 - $t0, 1))")
"$cove" status -f "$work/spec.yaml" >/dev/null || { echo "status: not in sync after the apply" >&2; exit 1; }
read -r model_envs model_addrs model_list < <(fn_json | python3 -c '
import json, sys
f = json.load(sys.stdin)[0]
ips = sorted(set(f["slot_ips"]))
print(len(set(f["slots"])), len(ips), ",".join(ips))')
kernel_ns=$(ip netns list | awk '{print $1}' | grep -c "^$prefix-v-" || true)
read -r kernel_links kernel_addrs < <(ip netns exec "$router" nft -j list map inet cove env_shared | python3 -c '
import json, sys
m = [x["map"] for x in json.load(sys.stdin)["nftables"] if "map" in x][0]
e = m.get("elem", [])
print(len(e), len({v for _, v in e}))')
echo "scaled to $scale environments: apply ${apply_s}s; environments: $model_envs (cove fn list), $kernel_ns namespaces, $kernel_links links in the router's env_shared map"
echo "shared-ENI addresses in subnet a: $model_addrs ($model_list) in the model, $kernel_addrs distinct in the router's map; with a slot per environment it would be $model_envs"

# --- summary ---------------------------------------------------------------------
echo
echo "== summary (prefix $prefix, $(nproc) cores, $(date -u +%FT%TZ)) =="
echo "load_1min_before_throughput=$load0 load_1min_after_throughput=$load1"
echo "environments=$model_envs"
echo "env_namespaces_in_kernel=$kernel_ns"
echo "shared_eni_addresses=$model_addrs"
echo "shared_eni_addresses_kernel=$kernel_addrs"
echo "addresses_per_1000_envs=$(python3 -c "print(round($model_addrs * 1000 / $model_envs, 3))")"
echo "apply_${scale}_envs_seconds=$apply_s"
python3 - "$results" <<'EOF'
import sys
v = {}
for line in open(sys.argv[1]):
    r, kind, who, x = line.split()
    v[(int(r), kind, who)] = float(x)
rounds = sorted({r for r, _, _ in v})
for kind in ("tcp", "udp"):
    ratios = []
    for r in rounds:
        a, b = v[(r, kind, "A")], v[(r, kind, "B")]
        ratios.append(a / b)
        unit = ("gbit_s", 1e9) if kind == "tcp" else ("kpps", 1e3)
        print(f"{kind}_round{r}_A_{unit[0]}={a / unit[1]:.3f} {kind}_round{r}_B_{unit[0]}={b / unit[1]:.3f}")
        print(f"{kind}_ratio_round{r}={a / b:.3f}")
    med = sorted(ratios)[len(ratios) // 2] if len(ratios) % 2 else sum(sorted(ratios)[len(ratios) // 2 - 1:][:2]) / 2
    print(f"{kind}_ratio_min={min(ratios):.3f} {kind}_ratio_median={med:.3f} {kind}_ratio_goal_0.9_met_every_round={'yes' if min(ratios) >= 0.9 else 'no'}")
EOF
echo "$conn_summary"
echo "conntrack_note=$ct_note"
