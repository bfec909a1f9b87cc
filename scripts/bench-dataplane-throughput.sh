#!/usr/bin/env bash
# Data-plane throughput (issue 3): iperf3 TCP throughput and UDP 64-byte packet rate
#   (a) across two subnets of one VPC, destination SG with 1,000 ingress entries
#   (b) the same routed path with a single allow-all rule
#   (c) across a VPC peering (same SG as b)
#   (v) b's path with BENCH_EXTRA_VPCS other VPCs (default 100) in the same host
#       router, listed before it (their policy rules come first)
# and, for reference, the same two routed paths without cove (plain namespaces,
# veths and routes; no nftables, no conntrack, no policy routing):
#   (pi) client -> router -> server          (the shape of b)
#   (pp) client -> router -> router -> server (the shape of c)
# The networks are deployed side by side (prefixes <p>a, <p>b, <p>c, <p>x) and
# measured in turns, BENCH_ROUNDS times (the order rotates every round); the ratios
# a/b, c/b and pp/pi are computed per round and their medians reported, with the
# range. Needs root.
#
#   BENCH_SECONDS   length of each iperf3 run (default 5)
#   BENCH_ROUNDS    rounds (default 5)
#   BENCH_PREFIX    namespace prefix (default bt)
#   BENCH_PATHS     which networks to measure (default "a b c pi pp"; add v for
#                   the cost of other VPCs in the host router)
#   BENCH_EXTRA_VPCS  other VPCs in path v (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v iperf3 >/dev/null || apt-get install -y -qq iperf3 >/dev/null
cargo build --release --locked -q -p cove
cove=${CARGO_TARGET_DIR:-$PWD/target}/release/cove
work=$(mktemp -d)
prefix=${BENCH_PREFIX:-bt}
secs=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-5}
paths=${BENCH_PATHS:-a b c pi pp}
export COVE_STATE_DIR=$work/state
plain=(c1 r1 s1 c2 ra rb s2)
cleanup() {
  for p in a b c v; do COVE_PREFIX=$prefix$p "$cove" destroy >/dev/null 2>&1 || true; done
  for n in "${plain[@]}"; do ip netns del "${prefix}x-$n" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

spec() { # $1 = number of extra SG entries, $2 = peered (0/1), $3 = other VPCs
  local n=$1 peered=$2 extra=${3:-0} i
  {
    echo "tenants:"
    echo "  - name: t"
    echo "    vpcs:"
    for i in $(seq 0 $((extra - 1))); do
      # /20s of 172.16.0.0/12, each with one subnet and one ENI-less route table
      local second=$((16 + i / 16)) third=$(( (i % 16) * 16 ))
      echo "      - name: x$i"
      echo "        cidr: 172.$second.$third.0/20"
      echo "        subnets: [ { name: s, cidr: 172.$second.$third.0/24, az: z1, route_table: rt } ]"
      echo "        route_tables: [ { name: rt, routes: [] } ]"
    done
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
  } > "$work/spec-$n-$peered-$extra.yaml"
  echo "$work/spec-$n-$peered-$extra.yaml"
}

plain_chains() { # the reference paths pi and pp, in namespaces <prefix>x-*
  local x=${prefix}x n
  for n in "${plain[@]}"; do
    ip netns del "$x-$n" 2>/dev/null || true
    ip netns add "$x-$n"
    ip -n "$x-$n" link set lo up
  done
  for n in r1 ra rb; do ip netns exec "$x-$n" sysctl -qw net.ipv4.ip_forward=1; done
  veth() { # ns1 dev1 ns2 dev2
    ip -n "$x-$1" link add "$2" type veth peer name "$4" netns "$x-$3"
    ip -n "$x-$1" link set "$2" up
    ip -n "$x-$3" link set "$4" up
  }
  host() { # ns address gateway
    ip -n "$x-$1" addr add "$2/32" dev eth0
    ip -n "$x-$1" route add default via "$3" dev eth0 onlink
  }
  veth c1 eth0 r1 e1; veth s1 eth0 r1 e2
  ip -n "$x-r1" addr add 10.50.1.1/32 dev lo; ip -n "$x-r1" addr add 10.50.2.1/32 dev lo
  host c1 10.50.1.10 10.50.1.1; host s1 10.50.2.10 10.50.2.1
  ip -n "$x-r1" route add 10.50.1.10/32 dev e1; ip -n "$x-r1" route add 10.50.2.10/32 dev e2
  veth c2 eth0 ra e1; veth ra pa rb pb; veth s2 eth0 rb e2
  ip -n "$x-ra" addr add 10.50.1.1/32 dev lo; ip -n "$x-rb" addr add 10.60.2.1/32 dev lo
  ip -n "$x-ra" addr add 169.254.0.0/31 dev pa; ip -n "$x-rb" addr add 169.254.0.1/31 dev pb
  host c2 10.50.1.10 10.50.1.1; host s2 10.60.2.10 10.60.2.1
  ip -n "$x-ra" route add 10.50.1.10/32 dev e1; ip -n "$x-ra" route add 10.60.0.0/16 via 169.254.0.1
  ip -n "$x-rb" route add 10.60.2.10/32 dev e2; ip -n "$x-rb" route add 10.50.0.0/16 via 169.254.0.0
}

declare -A spec_of server_of
spec_of[a]=$(spec 1000 0); server_of[a]=10.50.2.10
spec_of[b]=$(spec 0 0); server_of[b]=10.50.2.10
spec_of[c]=$(spec 0 1); server_of[c]=10.60.2.10
spec_of[v]=$(spec 0 0 "${BENCH_EXTRA_VPCS:-100}"); server_of[v]=10.50.2.10
server_of[pi]=10.50.2.10; server_of[pp]=10.60.2.10
for p in $paths; do
  case $p in
    pi|pp) [ -e "/run/netns/${prefix}x-c1" ] || plain_chains ;;
    *)
      COVE_PREFIX=$prefix$p "$cove" destroy >/dev/null
      COVE_PREFIX=$prefix$p "$cove" apply -f "${spec_of[$p]}" >/dev/null
      ;;
  esac
done

in_ns() { # $1 path, $2 c|s (client or server), then the command
  local p=$1 who=$2
  shift 2
  case $p in
    pi) ip netns exec "${prefix}x-${who}1" "$@" ;;
    pp) ip netns exec "${prefix}x-${who}2" "$@" ;;
    *) COVE_PREFIX=$prefix$p "$cove" exec -f "${spec_of[$p]}" "$who" -- "$@" ;;
  esac
}

measure() { # $1 path, $2 tcp|udp -> Gbit/s (tcp) or received kpps (udp)
  local p=$1 kind=$2
  in_ns "$p" s iperf3 -s -D -1 --logfile "$work/srv-$p.log" >/dev/null
  sleep 0.3
  if [ "$kind" = tcp ]; then
    in_ns "$p" c iperf3 -c "${server_of[$p]}" -t "$secs" -J |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9)'
  else
    in_ns "$p" c iperf3 -c "${server_of[$p]}" -u -l 64 -b 0 -t "$secs" -J |
      python3 -c 'import json,sys; e=json.load(sys.stdin)["end"]["sum"]; print((e["packets"]-e["lost_packets"])/e["seconds"]/1e3)'
  fi
}

: > "$work/results.txt"
read -r -a order <<< "$paths"
for r in $(seq 1 "$rounds"); do
  for kind in tcp udp; do
    for p in "${order[@]}"; do
      echo "$r $kind $p $(measure "$p" "$kind")" >> "$work/results.txt"
    done
  done
  order=("${order[@]:1}" "${order[0]}")
done

python3 - "$work/results.txt" "$paths" <<'PY'
import collections, statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
paths = sys.argv[2].split()
v = collections.defaultdict(dict)
for r, kind, p, x in rows:
    v[(int(r), kind)][p] = float(x)
rounds = sorted({r for r, _ in v})
label = {"a": "across subnets, SG with 1,000 entries", "b": "across subnets, allow-all SG (baseline)",
         "v": "baseline with other VPCs in the host router",
         "c": "across a peering, allow-all SG", "pi": "plain chain, one router (no cove)",
         "pp": "plain chain, two routers (no cove)"}
print("| path | TCP Gbit/s (median, range) | UDP 64 B kpps received (median, range) |")
print("|---|---|---|")
for p in paths:
    cells = []
    for kind in ("tcp", "udp"):
        xs = [v[(r, kind)][p] for r in rounds]
        fmt = "{:.2f}" if kind == "tcp" else "{:.0f}"
        cells.append(f"{fmt.format(statistics.median(xs))} ({fmt.format(min(xs))}-{fmt.format(max(xs))})")
    print(f"| {label[p]} | {cells[0]} | {cells[1]} |")
for num, den, name in (("a", "b", "1,000-entry SG / baseline"), ("c", "b", "peered / intra-VPC"),
                       ("v", "b", "other VPCs in the router / baseline"),
                       ("pp", "pi", "plain two routers / one router")):
    if num not in paths or den not in paths:
        continue
    out = []
    for kind in ("tcp", "udp"):
        rs = [v[(r, kind)][num] / v[(r, kind)][den] for r in rounds]
        out.append(f"{kind.upper()} {statistics.median(rs):.2f} ({min(rs):.2f}-{max(rs):.2f})")
    print(f"ratio {name}, median of {len(rounds)} rounds: " + ", ".join(out))
PY
