#!/usr/bin/env bash
# Prototype of issue 17's data plane (docs/design/hyperplane.md), with plain
# namespaces, veths and nftables (no cove): checks the design's isolation claims with
# real traffic and measures the cost of the shared-ENI hop, before cove builds it.
#
#   slot (today)   : client in <p>-slot (10.9.1.2, the ENI's own address) -> <p>-db
#   shared (design): client in <p>-e1 (169.254.64.2) -> <p>-hpl (masquerade to
#                    10.9.2.2, one-way forward) -> <p>-db
# and the alternative with no extra hop, both through a router namespace <p>-rt
# that tracks connections (as cove's host router does):
#   rslot  : client in <p>-rs (10.9.3.2) -> <p>-rt -> <p>-db (10.9.4.1)
#   rshared: client in <p>-e3 (169.254.64.4, its link straight into <p>-rt) -> <p>-rt
#            (snat to the shared address 10.9.3.10, one-way) -> <p>-db
#
# Checks (exit 1 if one fails): e1 -> db works and db sees 10.9.2.2 only; e1 -> e2
# fails; db -> e1 fails (nothing from the VPC opens a connection to an
# environment). Then iperf3 TCP throughput and UDP 64-byte packet rate, shared /
# slot, per round, rounds alternating. Needs root.
#
#   PROTO_PREFIX  namespace prefix (default cvpx)
#   PROTO_SECONDS length of each iperf3 run (default 5)
#   PROTO_ROUNDS  rounds (default 3)
set -euo pipefail
command -v iperf3 >/dev/null || apt-get install -y -qq iperf3 >/dev/null
p=${PROTO_PREFIX:-cvpx}
secs=${PROTO_SECONDS:-5}
rounds=${PROTO_ROUNDS:-3}
nss=(db slot hpl e1 e2 rt rs e3)
cleanup() {
  for n in "${nss[@]}"; do ip netns pids "$p-$n" 2>/dev/null | xargs -r kill 2>/dev/null || true; done
  for n in "${nss[@]}"; do ip netns del "$p-$n" 2>/dev/null || true; done
}
trap cleanup EXIT
cleanup
nsx() { local n=$1; shift; ip netns exec "$p-$n" "$@"; }
for n in "${nss[@]}"; do ip netns add "$p-$n"; nsx "$n" ip link set lo up; done

# db: the VPC side (two links so both paths have the same shape behind them).
ip link add s0 netns "$p-slot" type veth peer name ds netns "$p-db"
ip link add h0 netns "$p-hpl" type veth peer name dh netns "$p-db"
nsx db ip addr add 10.9.1.1/24 dev ds
nsx db ip addr add 10.9.2.1/24 dev dh
nsx db ip link set ds up
nsx db ip link set dh up
nsx slot ip addr add 10.9.1.2/24 dev s0
nsx slot ip link set s0 up
nsx hpl ip addr add 10.9.2.2/24 dev h0
nsx hpl ip link set h0 up
nsx hpl sysctl -qw net.ipv4.ip_forward=1

# Environments: a veth each into the shared-ENI namespace; the same gateway address
# 169.254.64.1/32 on every environment link there, a /32 route back; no bridge.
i=2
for e in e1 e2; do
  ip link add eth0 netns "$p-$e" type veth peer name "v$e" netns "$p-hpl"
  nsx "$e" ip addr add "169.254.64.$i/32" dev eth0
  nsx "$e" ip link set eth0 up
  nsx "$e" ip route add default via 169.254.64.1 dev eth0 onlink
  nsx hpl ip addr add 169.254.64.1/32 dev "v$e"
  nsx hpl ip link set "v$e" up
  nsx hpl ip route add "169.254.64.$i/32" dev "v$e"
  i=$((i + 1))
done
nsx hpl nft -f - <<'EOF'
table ip cove_hpl {
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "ve*" oifname "h0" ct state new accept
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "h0" ip saddr 169.254.64.0/18 masquerade
  }
}
EOF

# The no-extra-hop alternative: a router that tracks every connection; the
# environment's link ends in the router itself, which translates to the shared
# address and lets only the environment's own connections (and their replies) by.
ip link add r0 netns "$p-rs" type veth peer name rs0 netns "$p-rt"
ip link add eth0 netns "$p-e3" type veth peer name ve3 netns "$p-rt"
ip link add dr netns "$p-db" type veth peer name rd netns "$p-rt"
nsx rs ip addr add 10.9.3.2/24 dev r0
nsx rs ip link set r0 up
nsx rs ip route add default via 10.9.3.1
nsx rt ip addr add 10.9.3.1/24 dev rs0
nsx rt ip addr add 10.9.4.2/24 dev rd
nsx rt ip addr add 169.254.64.1/32 dev ve3
for l in rs0 rd ve3; do nsx rt ip link set "$l" up; done
nsx rt ip route add 169.254.64.4/32 dev ve3
nsx rt sysctl -qw net.ipv4.ip_forward=1
nsx e3 ip addr add 169.254.64.4/32 dev eth0
nsx e3 ip link set eth0 up
nsx e3 ip route add default via 169.254.64.1 dev eth0 onlink
nsx db ip addr add 10.9.4.1/24 dev dr
nsx db ip link set dr up
nsx db ip route add 10.9.3.0/24 via 10.9.4.2
nsx rt nft -f - <<'EOF'
table ip cove_rt {
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "rs0" ct state new accept
    iifname "rd" oifname "rs0" ct state new accept
    iifname "ve*" oifname "rd" ct state new accept
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    iifname "ve*" oifname "rd" snat to 10.9.3.10
  }
}
EOF

fail=0
check() { # $1 = description, $2 = expected (ok|blocked), $3 = namespace, rest = command
  local what=$1 want=$2 ns=$3; shift 3
  if timeout 5 ip netns exec "$p-$ns" "$@" </dev/null >/dev/null 2>&1; then got=ok; else got=blocked; fi
  if [ "$got" = "$want" ]; then echo "ok   $what: $got"; else echo "FAIL $what: $got (want $want)"; fail=1; fi
}
# A TCP listener in db that records its peers' addresses.
nsx db socat -T2 TCP-LISTEN:5432,fork,reuseaddr SYSTEM:'echo $SOCAT_PEERADDR >> /tmp/'"$p"'-peers' &
nsx e2 socat -T2 TCP-LISTEN:7000,fork,reuseaddr SYSTEM:'echo hi' &
nsx e1 socat -T2 TCP-LISTEN:7000,fork,reuseaddr SYSTEM:'echo hi' &
nsx e3 socat -T2 TCP-LISTEN:7000,fork,reuseaddr SYSTEM:'echo hi' &
sleep 0.5
rm -f "/tmp/$p-peers"
check "e1 -> db:5432" ok e1 socat -T2 - TCP:10.9.2.1:5432,connect-timeout=2
check "e2 -> db:5432" ok e2 socat -T2 - TCP:10.9.2.1:5432,connect-timeout=2
check "e1 -> e2:7000 (another environment)" blocked e1 socat -T2 - TCP:169.254.64.3:7000,connect-timeout=2
check "e1 -> e2 ping" blocked e1 ping -c1 -W1 169.254.64.3
check "db -> e1:7000 (the VPC into an environment)" blocked db socat -T2 - TCP:169.254.64.2:7000,connect-timeout=2
# A hostile VPC neighbour that routes the environments' block to the shared ENI:
# only the one-way forward chain stands in the way, and without it the same
# connection goes through (so the check above can fail).
nsx db ip route add 169.254.64.0/18 via 10.9.2.2
check "db -> e1:7000 routed via the shared ENI" blocked db socat -T2 - TCP:169.254.64.2:7000,connect-timeout=2
nsx hpl nft add rule ip cove_hpl forward accept
check "db -> e1:7000 with the one-way rule removed (control)" ok db socat -T2 - TCP:169.254.64.2:7000,connect-timeout=2
nsx hpl nft flush chain ip cove_hpl forward
nsx hpl nft add rule ip cove_hpl forward ct state established,related accept
nsx hpl nft add rule ip cove_hpl forward iifname '"ve*"' oifname '"h0"' ct state new accept
check "db -> e1:7000 with the rule back" blocked db socat -T2 - TCP:169.254.64.2:7000,connect-timeout=2
check "e3 -> db:5432 (no extra hop)" ok e3 socat -T2 - TCP:10.9.4.1:5432,connect-timeout=2
nsx db ip route add 169.254.64.4/32 via 10.9.4.2
check "db -> e3:7000 routed via the router" blocked db socat -T2 - TCP:169.254.64.4:7000,connect-timeout=2
sleep 0.3
peers=$(sort -u "/tmp/$p-peers" 2>/dev/null | tr '\n' ' ')
rm -f "/tmp/$p-peers"
if [ "$peers" = "10.9.2.2 10.9.3.10 " ]; then echo "ok   db saw only the shared address: $peers"; else echo "FAIL db saw: $peers"; fail=1; fi
[ "$fail" = 0 ] || exit 1

# Throughput: iperf3 server in db on both addresses.
nsx db iperf3 -s -D -p 5201 >/dev/null
sleep 0.5
tcp() { nsx "$1" iperf3 -c "$2" -p 5201 -t "$secs" -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])'; }
udp() { nsx "$1" iperf3 -c "$2" -p 5201 -t "$secs" -u -l 64 -b 0 -J | python3 -c 'import json,sys; e=json.load(sys.stdin)["end"]["sum"]; print(e["packets"]-e["lost_packets"])'; }
echo "round  path                  tcp base Gbit/s  tcp shared  ratio   udp64 base pkt/s  udp64 shared  ratio"
for r in $(seq 1 "$rounds"); do
  for path in hop router; do
    if [ "$path" = hop ]; then
      ts=$(tcp slot 10.9.1.1); th=$(tcp e1 10.9.2.1); us=$(udp slot 10.9.1.1); uh=$(udp e1 10.9.2.1)
    else
      ts=$(tcp rs 10.9.4.1); th=$(tcp e3 10.9.4.1); us=$(udp rs 10.9.4.1); uh=$(udp e3 10.9.4.1)
    fi
    python3 - "$r" "$path" "$ts" "$th" "$us" "$uh" "$secs" <<'EOF'
import sys
r, path = sys.argv[1], sys.argv[2]
ts, th, us, uh, secs = map(float, sys.argv[3:])
name = {"hop": "shared-ENI namespace", "router": "translation in router"}[path]
print(f"{r:>5}  {name:<21} {ts/1e9:15.2f}  {th/1e9:10.2f}  {th/ts:5.2f}   {us/secs:16.0f}  {uh/secs:12.0f}  {uh/us:5.2f}")
EOF
  done
done
