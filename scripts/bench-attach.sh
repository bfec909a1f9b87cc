#!/usr/bin/env bash
# Attach benchmark (issue 3), all in one run:
#  1. cove: attach/detach one ENI, and the same steps with `ip -batch` + `nft -f`
#     (cargo bench -p cove-host --bench attach; see its header for ATTACH_* and
#     BENCH_PREFIX), on a VPC with one ENI and on one with 1,000 ENIs and a
#     10,000-rule security group, in rounds;
#  2. Debian's netavark (1.4, iptables firewall) setting up one container network
#     namespace on a bridge, ATTACH_N times, inside a throwaway "host" namespace so
#     nothing touches this host's own networking (namespaces <BENCH_PREFIX>h<pid>
#     and <BENCH_PREFIX>c<pid>-<i>);
# then the ratio cove attach p50 (small VPC, median of rounds) / netavark setup p50.
# Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${ATTACH_N:-200}
for pkg in netavark iptables; do
  dpkg -s "$pkg" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
done
nv=/usr/lib/podman/netavark
work=$(mktemp -d)
nsp=${BENCH_PREFIX:-nv}
host=${nsp}h$$
cleanup() {
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^(${nsp}c$$-|$host$)"); do ip netns del "$ns"; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "== cove (attach bench)"
ATTACH_N=$n cargo bench --locked -q -p cove-host --bench attach 2>/dev/null \
  | grep -E '^\||^ratio|^attach|^small|^\(' | tee "$work/cove.txt"

echo "== netavark $($nv --version | awk '{print $2}') setup of one container netns ($n times)"
ip netns add "$host"
ip netns exec "$host" ip link set lo up
setup=() teardown=()
for i in $(seq 1 "$n"); do
  c=${nsp}c$$-$i
  ip netns add "$c"
  id=$(printf '%064x' "$i")
  ip=10.88.$((i / 250)).$((i % 250 + 2))
  cat > "$work/$i.json" <<JSON
{"container_id": "$id", "container_name": "c$i",
 "networks": {"bench": {"static_ips": ["$ip"], "interface_name": "eth0"}},
 "network_info": {"bench": {"dns_enabled": false, "driver": "bridge",
   "id": "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
   "internal": false, "ipv6_enabled": false, "name": "bench", "network_interface": "cbr0",
   "subnets": [{"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}]}},
 "port_mappings": []}
JSON
  t0=$(date +%s%N)
  ip netns exec "$host" "$nv" --config "$work/cfg" setup "/run/netns/$c" < "$work/$i.json" >/dev/null
  t1=$(date +%s%N)
  setup+=($(( (t1 - t0) / 1000 )))
done
for i in $(seq 1 "$n"); do
  c=${nsp}c$$-$i
  t0=$(date +%s%N)
  ip netns exec "$host" "$nv" --config "$work/cfg" teardown "/run/netns/$c" < "$work/$i.json" >/dev/null
  t1=$(date +%s%N)
  teardown+=($(( (t1 - t0) / 1000 )))
  ip netns del "$c"
done
printf '%s\n' "${setup[@]}" > "$work/setup.txt"
printf '%s\n' "${teardown[@]}" > "$work/teardown.txt"
python3 - "$work" <<'PY'
import re, sys
work = sys.argv[1]
def pct(path):
    v = sorted(int(x) for x in open(path).read().split())
    at = lambda pm: v[max(1, -(-len(v) * pm // 1000)) - 1]
    return at(500) / 1000, at(990) / 1000
s50, s99 = pct(f"{work}/setup.txt")
t50, t99 = pct(f"{work}/teardown.txt")
print(f"| netavark setup (includes its process start) | {s50:.2f} ms | {s99:.2f} ms |")
print(f"| netavark teardown | {t50:.2f} ms | {t99:.2f} ms |")
cove = open(f"{work}/cove.txt").read()
m = re.search(r"attach p50, median of rounds: small ([0-9.]+)", cove)
if m:
    c50 = float(m.group(1))
    print(f"ratio cove attach p50 (small VPC) / netavark setup p50: {c50 / s50:.2f}")
PY
