#!/usr/bin/env bash
# Data-plane throughput (issue 3): iperf3 TCP throughput and UDP 64-byte packet rate
#   (a) across two subnets of one VPC, destination SG with 1,000 ingress entries
#   (b) the same routed path with a single allow-all rule
#   (c) across a VPC peering (same SG as b)
# and the ratios a/b and c/b, all measured in this run. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v iperf3 >/dev/null || apt-get install -y -qq iperf3 >/dev/null
cargo build --release --locked -q -p cove
cove=$PWD/target/release/cove
work=$(mktemp -d)
export COVE_PREFIX=bt COVE_STATE_DIR=$work/state
secs=${BENCH_SECONDS:-5}
trap '"$cove" destroy >/dev/null 2>&1; rm -rf "$work"' EXIT

spec() { # $1 = number of extra SG entries, $2 = peered (0/1)
  local n=$1 peered=$2
  {
    echo "tenants:"
    echo "  - name: t"
    echo "    vpcs:"
    echo "      - name: a"
    echo "        cidr: 10.50.0.0/16"
    echo "        subnets:"
    echo "          - { name: s1, cidr: 10.50.1.0/24, az: z1, route_table: rt }"
    echo "          - { name: s2, cidr: 10.50.2.0/24, az: z1, route_table: rt }"
    echo "        route_tables:"
    echo "          - name: rt"
    if [ "$peered" = 1 ]; then
      echo "            routes: [ { destination: 10.60.0.0/16, peering: p } ]"
    else
      echo "            routes: []"
    fi
    echo "        security_groups:"
    echo "          - name: client"
    echo "          - name: server"
    echo "            ingress:"
    for i in $(seq 1 "$n"); do
      echo "              - { protocol: tcp, ports: $((1000 + i)), cidr: 172.16.$((i / 250)).$((i % 250))/32 }"
    done
    echo "              - { protocol: all, cidr: 10.0.0.0/8 }"
    echo "        enis:"
    echo "          - { name: c, subnet: s1, private_ip: 10.50.1.10, security_groups: [client] }"
    if [ "$peered" = 0 ]; then
      echo "          - { name: s, subnet: s2, private_ip: 10.50.2.10, security_groups: [server] }"
    else
      echo "      - name: b"
      echo "        cidr: 10.60.0.0/16"
      echo "        subnets:"
      echo "          - { name: s2, cidr: 10.60.2.0/24, az: z1, route_table: rt }"
      echo "        route_tables:"
      echo "          - name: rt"
      echo "            routes: [ { destination: 10.50.0.0/16, peering: p } ]"
      echo "        security_groups:"
      echo "          - name: server"
      echo "            ingress: [ { protocol: all, cidr: 10.0.0.0/8 } ]"
      echo "        enis:"
      echo "          - { name: s, subnet: s2, private_ip: 10.60.2.10, security_groups: [server] }"
      echo "peerings:"
      echo "  - { name: p, requester: t/a, accepter: t/b, status: active }"
    fi
  } > "$work/spec-$n-$peered.yaml"
  echo "$work/spec-$n-$peered.yaml"
}

measure() { # $1 spec, $2 server ip -> "tcp_gbps udp_kpps"
  "$cove" destroy >/dev/null
  "$cove" apply -f "$1" >/dev/null
  "$cove" exec -f "$1" s -- iperf3 -s -D -1 --logfile "$work/srv.log" >/dev/null
  sleep 0.3
  local tcp udp
  tcp=$("$cove" exec -f "$1" c -- iperf3 -c "$2" -t "$secs" -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9)')
  "$cove" exec -f "$1" s -- iperf3 -s -D -1 --logfile "$work/srv.log" >/dev/null
  sleep 0.3
  udp=$("$cove" exec -f "$1" c -- iperf3 -c "$2" -u -l 64 -b 0 -t "$secs" -J | python3 -c 'import json,sys; e=json.load(sys.stdin)["end"]["sum"]; print((e["packets"]-e["lost_packets"])/e["seconds"]/1e3)')
  echo "$tcp $udp"
}

read -r a_tcp a_udp < <(measure "$(spec 1000 0)" 10.50.2.10)
read -r b_tcp b_udp < <(measure "$(spec 0 0)" 10.50.2.10)
read -r c_tcp c_udp < <(measure "$(spec 0 1)" 10.60.2.10)
python3 - "$a_tcp" "$a_udp" "$b_tcp" "$b_udp" "$c_tcp" "$c_udp" <<'PY'
import sys
a_t, a_u, b_t, b_u, c_t, c_u = map(float, sys.argv[1:])
print("| path | TCP Gbit/s | UDP 64 B kpps (received) |")
print("|---|---|---|")
print(f"| across subnets, SG with 1,000 entries | {a_t:.2f} | {a_u:.0f} |")
print(f"| across subnets, allow-all SG (baseline) | {b_t:.2f} | {b_u:.0f} |")
print(f"| across a peering, allow-all SG | {c_t:.2f} | {c_u:.0f} |")
print(f"ratio 1,000-entry SG / baseline: TCP {a_t/b_t:.2f}, UDP {a_u/b_u:.2f}")
print(f"ratio peered / intra-VPC: TCP {c_t/b_t:.2f}, UDP {c_u/b_u:.2f}")
PY
