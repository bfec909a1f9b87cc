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
# and that router variant again with cove's checks in the router <p>-mrt (the NACL
# and the security group match the shared ENI's address, not the environment's):
#   mbase  : client in <p>-mbase (10.9.5.2) -> <p>-mrt -> <p>-mdb (10.9.6.1)
#   mshared: clients in <p>-m1, <p>-m2 (169.254.64.2, .3) -> <p>-mrt (ACL and group
#            see 10.9.5.10; snat to it; one-way) -> <p>-mdb
#
# Checks (exit 1 if one fails): e1 -> db works and db sees 10.9.2.2 only; e1 -> e2
# fails; db -> e1 fails (nothing from the VPC opens a connection to an
# environment). For <p>-mrt: m1, m2 -> db by TCP, UDP (also fragmented), ping, and
# db sees only 10.9.5.10; both from the same source port at once (one remapped); a
# port-unreachable from db comes back to m1, one from m1 reaches db; nothing reaches
# an environment from another one or from db; the NACL (either direction) and the
# group written with 169.254.64.0/18 instead of the shared address let nothing
# through; no checksum errors with software checksums. The "blocked" and "nothing
# reaches" checks have controls that show they can fail. Then iperf3 TCP throughput
# and UDP 64-byte packet rate, shared / base, per round, rounds alternating. Needs
# root.
#
#   PROTO_PREFIX  namespace prefix (default cvpx)
#   PROTO_SECONDS length of each iperf3 run (default 5)
#   PROTO_ROUNDS  rounds (default 3)
set -euo pipefail
command -v iperf3 >/dev/null || apt-get install -y -qq iperf3 >/dev/null
command -v ethtool >/dev/null || apt-get install -y -qq ethtool >/dev/null
p=${PROTO_PREFIX:-cvpx}
secs=${PROTO_SECONDS:-5}
rounds=${PROTO_ROUNDS:-3}
nss=(db slot hpl e1 e2 rt rs e3 mdb mrt mbase m1 m2)
cleanup() {
  for n in "${nss[@]}"; do ip netns pids "$p-$n" 2>/dev/null | xargs -r kill 2>/dev/null || true; done
  for n in "${nss[@]}"; do ip netns del "$p-$n" 2>/dev/null || true; done
  rm -f "/tmp/$p-peers" "/tmp/$p-pa" "/tmp/$p-pb"
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

# The router variant as cove builds it, with the checks of cove's forward path:
# the environments' links end in <p>-mrt, which has cove's shape (anti-spoofing,
# routing mark and conntrack zone per link before conntrack, policy routing, a
# forward chain that drops by default, a NACL and a stateful security group that
# match addresses). <p>-mbase (10.9.5.2, a plain ENI) and the shared ENI's address
# 10.9.5.10 are in the function subnet 10.9.5.0/24; <p>-m1 (169.254.64.2) and <p>-m2
# (169.254.64.3) are environments of the shared ENI; <p>-mdb is 10.9.6.1/24.
# In forward an environment's packet still has its own source (SNAT comes later, in
# postrouting) and a reply already has the environment's address as destination
# (de-NAT came earlier, in prerouting); the ACL and the group must see the shared
# address, so forward first rewrites both statelessly to it (the NAT in postrouting
# then writes the source again from conntrack), and a filter chain after the NAT
# puts the environment's own address back on what leaves toward it.
ip link add eth0 netns "$p-mbase" type veth peer name vb netns "$p-mrt"
ip link add eth0 netns "$p-mdb" type veth peer name vd netns "$p-mrt"
nsx mbase ip addr add 10.9.5.2/24 dev eth0
nsx mbase ip link set eth0 up
nsx mbase ip route add default via 10.9.5.1
nsx mdb ip addr add 10.9.6.1/24 dev eth0
nsx mdb ip link set eth0 up
nsx mdb ip route add default via 10.9.6.2
nsx mrt ip addr add 10.9.5.1/24 dev vb
nsx mrt ip addr add 10.9.6.2/24 dev vd
nsx mrt ip link set vb up
nsx mrt ip link set vd up
nsx mrt sysctl -qw net.ipv4.ip_forward=1
i=2
for e in m1 m2; do
  ip link add eth0 netns "$p-$e" type veth peer name "v$e" netns "$p-mrt"
  nsx "$e" ip addr add "169.254.64.$i/32" dev eth0
  nsx "$e" ip link set eth0 up
  nsx "$e" ip route add default via 169.254.64.1 dev eth0 onlink
  nsx mrt ip addr add 169.254.64.1/32 dev "v$e"
  nsx mrt ip link set "v$e" up
  nsx mrt ip route add "169.254.64.$i/32" dev "v$e" table 200
  i=$((i + 1))
done
# Policy routing as cove's router: a mark per link (VPC 1, route table 1) picks the
# subnet's table; a reply de-NATed to an environment's address is routed by the
# rule before the VPC's rules (their "unrouted" rule would end at a blackhole).
nsx mrt ip route add 10.9.5.0/24 dev vb table 1048577
nsx mrt ip route add 10.9.6.0/24 dev vd table 1048577
nsx mrt ip rule add to 169.254.64.0/18 lookup 200 priority 900
nsx mrt ip rule add fwmark 1048577 lookup 1048577 priority 2000
nsx mrt nft -f - <<'EOF'
table inet cove_m {
  set src_links { typeof iifname; elements = { "vb", "vd", "vm1", "vm2" } }
  set link_src { typeof iifname . ip saddr; flags interval;
    elements = { "vb" . 10.9.5.2, "vd" . 10.9.6.1, "vm1" . 169.254.64.2, "vm2" . 169.254.64.3 } }
  map link_table { typeof iifname : meta mark; elements = { "vb" : 1048577, "vd" : 1048577, "vm1" : 1048577, "vm2" : 1048577 } }
  map link_zone { typeof iifname : ct zone; elements = { "vb" : 1, "vd" : 1, "vm1" : 1, "vm2" : 1 } }
  set env_links { typeof iifname; elements = { "vm1", "vm2" } }
  map env_shared { typeof iifname : ip saddr; elements = { "vm1" : 10.9.5.10, "vm2" : 10.9.5.10 } }
  map env_addr { typeof iifname : ip daddr; elements = { "vm1" : 169.254.64.2, "vm2" : 169.254.64.3 } }
  set acl { typeof ip saddr . ip daddr; flags interval;
    elements = { 10.9.5.0/24 . 10.9.6.0/24, 10.9.6.0/24 . 10.9.5.0/24 } }
  set sg_new { typeof ip saddr . ip daddr; flags interval;
    elements = { 10.9.5.2 . 10.9.6.1, 10.9.5.10 . 10.9.6.1 } }
  chain from_links {
    type filter hook prerouting priority -450; policy accept;
    iifname @src_links iifname . ip saddr != @link_src drop
    meta mark set iifname map @link_table
    ct zone set iifname map @link_zone
  }
  chain filter_forward {
    type filter hook forward priority filter; policy drop;
    meta nfproto ipv6 drop
    oifname @env_links ct direction original drop
    iifname @env_links ip saddr set iifname map @env_shared
    oifname @env_links ip daddr set oifname map @env_shared
    goto nacl
  }
  chain nacl {
    ip saddr . ip daddr @acl goto stateful
  }
  chain stateful {
    ct state established,related accept
    ct state invalid drop
    ip saddr . ip daddr @sg_new accept
  }
  chain env_snat {
    type nat hook postrouting priority srcnat; policy accept;
    iifname @env_links snat ip to iifname map @env_shared
  }
  chain env_restore {
    type filter hook postrouting priority srcnat + 10; policy accept;
    oifname @env_links ip daddr set oifname map @env_addr
  }
  chain filter_input {
    type filter hook input priority filter; policy drop;
  }
}
EOF

fail=0
check() { # $1 = description, $2 = expected (ok|blocked), $3 = namespace, rest = command
  local what=$1 want=$2 ns=$3; shift 3
  if timeout 5 ip netns exec "$p-$ns" "$@" </dev/null >/dev/null 2>&1; then got=ok; else got=blocked; fi
  if [ "$got" = "$want" ]; then echo "ok   $what: $got"; else echo "FAIL $what: $got (want $want)"; fail=1; fi
}
expect() { # $1 = description, $2 = wanted value, $3 = value
  if [ "$2" = "$3" ]; then echo "ok   $1: $3"; else echo "FAIL $1: $3 (want $2)"; fail=1; fi
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

# The router with cove's checks (<p>-mrt).
# Probes: what reaches an environment on tcp port 7000 (counted before anything else).
for e in m1 m2; do
  nsx "$e" nft -f - <<'EOF'
table ip probe {
  counter c7000 { }
  chain pre { type filter hook prerouting priority -500; policy accept; tcp dport 7000 counter name c7000; }
}
EOF
  nsx "$e" socat -T2 TCP-LISTEN:7000,fork,reuseaddr SYSTEM:'echo hi' &
done
seen() { nsx "$1" nft list counter ip probe c7000 | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
zero() { for e in m1 m2; do nsx "$e" nft reset counter ip probe c7000 >/dev/null; done; }
# db: TCP listeners that answer with the peer's address and port (5433 holds the
# connection 3 s), a UDP echo of the peer's address, nothing on UDP port 9.
nsx mdb socat -T3 TCP-LISTEN:5432,fork,reuseaddr SYSTEM:'echo $SOCAT_PEERADDR $SOCAT_PEERPORT; sleep 1' &
nsx mdb socat -t5 -T5 TCP-LISTEN:5433,fork,reuseaddr SYSTEM:'echo $SOCAT_PEERADDR $SOCAT_PEERPORT; sleep 3' &
nsx mdb python3 -c 'import signal, socket, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.9.6.1", 5353))
while True:
    d, a = s.recvfrom(65535); s.sendto(a[0].encode(), a)' &
sleep 0.5
peer() { # $1 = namespace, $2 = socat options, $3 = port (default 5432)
  timeout 6 ip netns exec "$p-$1" socat -t5 -T5 - "TCP:10.9.6.1:${3:-5432},connect-timeout=2${2:+,$2}" </dev/null 2>/dev/null || true
}
expect "m1 -> db tcp, db sees" "10.9.5.10" "$(peer m1 | cut -d" " -f1)"
expect "m2 -> db tcp, db sees" "10.9.5.10" "$(peer m2 | cut -d" " -f1)"
expect "base -> db tcp, db sees" "10.9.5.2" "$(peer mbase | cut -d" " -f1)"
udp_peer() { # $1 = namespace, $2 = datagram size (default 2): what db answers
  timeout 5 ip netns exec "$p-$1" python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3); s.connect(("10.9.6.1", 5353))
s.send(b"x" * int(sys.argv[1])); print(s.recv(100).decode().strip())' "${2:-2}" 2>/dev/null || true
}
expect "m1 -> db udp, db sees" "10.9.5.10" "$(udp_peer m1)"
expect "m2 -> db udp, db sees" "10.9.5.10" "$(udp_peer m2)"
expect "m1 -> db udp 4000 B (fragments, reassembled in the router), db sees" "10.9.5.10" "$(udp_peer m1 4000)"
check "m1 -> db ping" ok m1 ping -c1 -W1 10.9.6.1
# Same source port from both environments at the same time: conntrack gives one of
# them another port of the shared address. While both are open (each has sent its
# FIN, db holds them 3 s), db's sockets show two connections from 10.9.5.10 with
# distinct ports.
peer m1 bind=169.254.64.2:40000 5433 > "/tmp/$p-pa" & pa=$!
peer m2 bind=169.254.64.3:40000 5433 > "/tmp/$p-pb" & pb=$!
sleep 1.5
open_now=$(nsx mdb ss -Htn '( sport = :5433 )' | awk '{print $5}' | sort | tr '\n' ' ')
wait "$pa" "$pb"
a=$(cat "/tmp/$p-pa"); b=$(cat "/tmp/$p-pb")
echo "     same source port 40000: db saw m1 as $a, m2 as $b; open at once in db: $open_now"
if [ "${a% *}" = 10.9.5.10 ] && [ "${b% *}" = 10.9.5.10 ] && [ "${a#* }" != "${b#* }" ] \
  && [ "$(echo "$open_now" | grep -o '10\.9\.5\.10:[0-9]*' | sort -u | wc -l)" = 2 ] \
  && ! echo "$open_now" | grep -q 169.254; then
  echo "ok   both connections at once, distinct ports"
else echo "FAIL same source port"; fail=1; fi
# An ICMP error: UDP to a closed port of db is refused in the environment only if
# the port-unreachable came back with its inner header translated back.
refused='
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); s.connect(("10.9.6.1", 9))
s.send(b"x")
try: s.recv(10)
except ConnectionRefusedError: sys.exit(0)
except OSError: pass
sys.exit(1)'
check "m1 -> db udp:9 closed port: refused (the icmp error came back)" ok m1 python3 -c "$refused"
nsx mrt nft insert rule inet cove_m filter_forward icmp type destination-unreachable drop
check "  the same with icmp errors dropped in forward (control)" blocked m1 python3 -c "$refused"
nsx mrt nft delete rule inet cove_m filter_forward handle "$(nsx mrt nft -a list chain inet cove_m filter_forward | sed -n 's/.*destination-unreachable drop # handle //p')"
check "  the same with the rule back" ok m1 python3 -c "$refused"
# And the other way: an error the environment sends about a reply (its socket is
# gone) reaches db with the inner header translated to the shared address.
db_refused='
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.9.6.1", 5354)); s.settimeout(5)
d, a = s.recvfrom(100); s.connect(a); time.sleep(0.3); s.send(b"y"); time.sleep(0.5)
try: s.send(b"y"); s.recv(10)
except ConnectionRefusedError: print(a[0], "refused"); sys.exit(0)
except OSError: pass
print(a[0], "no error"); sys.exit(1)'
env_gone='
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x", ("10.9.6.1", 5354)); s.close()'
from_env_error() { nsx mdb python3 -c "$db_refused" > "/tmp/$p-pa" 2>/dev/null & local d=$!; sleep 0.3; nsx m1 python3 -c "$env_gone"; wait "$d" || true; cat "/tmp/$p-pa"; }
expect "db -> m1's closed UDP port (m1 sent first, then closed): db gets" "10.9.5.10 refused" "$(from_env_error)"
nsx mrt nft insert rule inet cove_m filter_forward icmp type destination-unreachable drop
expect "  the same with icmp errors dropped in forward (control): db gets" "10.9.5.10 no error" "$(from_env_error)"
nsx mrt nft delete rule inet cove_m filter_forward handle "$(nsx mrt nft -a list chain inet cove_m filter_forward | sed -n 's/.*destination-unreachable drop # handle //p')"

# Nothing opens a connection toward an environment. Each check counts what reaches
# the environment; its control removes the one-way rule and lets the ACL and the
# security group allow it, so the check can fail.
oneway() { nsx mrt nft -a list chain inet cove_m filter_forward | sed -n 's/.*ct direction original drop # handle //p'; }
open_all() {
  nsx mrt nft delete rule inet cove_m filter_forward handle "$(oneway)"
  nsx mrt nft add element inet cove_m acl '{ 10.9.5.0/24 . 10.9.5.0/24 }'
  nsx mrt nft add element inet cove_m sg_new '{ 10.9.5.0/24 . 10.9.5.0/24, 10.9.6.0/24 . 10.9.5.0/24 }'
}
close_all() {
  nsx mrt nft insert rule inet cove_m filter_forward position "$(nsx mrt nft -a list chain inet cove_m filter_forward | sed -n 's/.*meta nfproto ipv6 drop # handle //p')" oifname @env_links ct direction original drop
  nsx mrt nft delete element inet cove_m acl '{ 10.9.5.0/24 . 10.9.5.0/24 }'
  nsx mrt nft delete element inet cove_m sg_new '{ 10.9.5.0/24 . 10.9.5.0/24, 10.9.6.0/24 . 10.9.5.0/24 }'
}
env_env() { zero; timeout 4 ip netns exec "$p-m1" socat -T2 - TCP:169.254.64.3:7000,connect-timeout=2 </dev/null >/dev/null 2>&1 || true; echo "$(seen m2)"; }
nsx mdb ip route add 169.254.64.0/18 via 10.9.6.2
db_env() { zero; timeout 4 ip netns exec "$p-mdb" socat -T2 - TCP:"$1":7000,connect-timeout=2 </dev/null >/dev/null 2>&1 || true; echo "$(seen m1)"; }
expect "m1 -> m2:7000, packets reaching m2" 0 "$(env_env)"
check "m1 -> m2 ping" blocked m1 ping -c1 -W1 169.254.64.3
expect "db -> 169.254.64.2:7000 routed via the router, packets reaching m1" 0 "$(db_env 169.254.64.2)"
# (No control for this one: nothing routes the shared address toward an environment's
# link, and a new connection to it matches no conntrack entry, so nothing de-NATs it.)
expect "db -> 10.9.5.10:7000 (the shared address), packets reaching m1" 0 "$(db_env 10.9.5.10)"
open_all
c=$(env_env)
if [ "$c" -gt 0 ]; then echo "ok     m1 -> m2:7000 with the one-way rule removed, all allowed (control): $c packets reach m2"; else echo "FAIL   m1 -> m2 control: nothing reached m2"; fail=1; fi
c=$(db_env 169.254.64.2)
if [ "$c" -gt 0 ]; then echo "ok     db -> m1:7000 likewise (control): $c packets reach m1"; else echo "FAIL   db -> m1 control: nothing reached m1"; fail=1; fi
close_all
expect "m1 -> m2:7000 with the rule back" 0 "$(env_env)"
expect "db -> m1:7000 with the rule back" 0 "$(db_env 169.254.64.2)"
check "m1 -> db still works" ok m1 socat -T2 - TCP:10.9.6.1:5432,connect-timeout=2

# The checks see the shared address: the same ACL and security group written with
# the environments' block instead of the shared address let nothing through.
swap() { # $1 = set, $2 = element to remove, $3 = element to add
  nsx mrt nft delete element inet cove_m "$1" "{ $2 }"
  nsx mrt nft add element inet cove_m "$1" "{ $3 }"
}
tcp_db() { check "$1" "$2" m1 socat -T2 - TCP:10.9.6.1:5432,connect-timeout=2; }
swap acl "10.9.5.0/24 . 10.9.6.0/24" "169.254.64.0/18 . 10.9.6.0/24"
tcp_db "  m1 -> db, ACL out allows 169.254.64.0/18 -> db instead of the subnet (control)" blocked
swap acl "169.254.64.0/18 . 10.9.6.0/24" "10.9.5.0/24 . 10.9.6.0/24"
swap acl "10.9.6.0/24 . 10.9.5.0/24" "10.9.6.0/24 . 169.254.64.0/18"
tcp_db "  m1 -> db, ACL in allows db -> 169.254.64.0/18 instead of the subnet (control)" blocked
check "  ping likewise (control)" blocked m1 ping -c1 -W1 10.9.6.1
swap acl "10.9.6.0/24 . 169.254.64.0/18" "10.9.6.0/24 . 10.9.5.0/24"
swap sg_new "10.9.5.10 . 10.9.6.1" "169.254.64.0/18 . 10.9.6.1"
tcp_db "  m1 -> db, security group allows 169.254.64.0/18 instead of 10.9.5.10 (control)" blocked
swap sg_new "169.254.64.0/18 . 10.9.6.1" "10.9.5.10 . 10.9.6.1"
tcp_db "m1 -> db with the ACL and the group back" ok

# Checksums. Between veths a packet with checksum offload (CHECKSUM_PARTIAL) is
# never verified, so the check runs twice with software checksums somewhere the
# receiver verifies them: (1) offload off where the packets start (environments,
# db): the rewrites and the NAT update full checksums; (2) offload on there but off
# on the router's links: the router's rewrites and NAT update the partial
# (pseudo-header) checksum, the router's transmit completes it, the receiver checks.
# TCP both ways, UDP, ICMP; then no checksum error in m1, m2 or db. The control
# overwrites the UDP checksum both ways in the router: both ends count errors.
nsx mdb iperf3 -s -D -p 5201 >/dev/null
sleep 0.5
csum_errors() { nsx "$1" nstat -asz | awk '/InCsumErrors/ {s += $2} END {print s + 0}'; }
counter() { nsx "$1" nstat -asz | awk '$1 == "'"$2"'" {print $2}'; }
offload() { # $1 = on|off for the endpoints, the router's links get the other
  local r=off; [ "$1" = off ] && r=on
  for n in m1 m2 mdb; do nsx "$n" ethtool -K eth0 tx "$1" >/dev/null 2>&1; done
  for l in vm1 vm2 vd; do nsx mrt ethtool -K "$l" tx "$r" >/dev/null 2>&1; done
}
corrupt() { # $1 = the router's link toward which UDP port 5353's checksums are overwritten
  nsx mrt nft insert rule inet cove_m env_restore oifname "$1" udp sport 5353 @th,48,16 set 0x1234
  nsx mrt nft insert rule inet cove_m env_restore oifname "$1" udp dport 5353 @th,48,16 set 0x1234
  udp_peer m1 >/dev/null
  nsx mrt nft flush chain inet cove_m env_restore
  nsx mrt nft add rule inet cove_m env_restore oifname @env_links ip daddr set oifname map @env_addr
}
declare -A e0=()
for mode in off on; do
  offload "$mode"
  for n in m1 m2 mdb; do e0[$n]=$(csum_errors "$n"); done
  t0=$(counter mdb TcpInSegs); u0=$(counter mdb UdpInDatagrams); r0=$(counter m2 TcpInSegs)
  nsx m1 iperf3 -c 10.9.6.1 -t 1 >/dev/null
  nsx m2 iperf3 -c 10.9.6.1 -t 1 -R >/dev/null
  nsx m1 iperf3 -c 10.9.6.1 -t 1 -u -b 100M >/dev/null
  nsx m2 ping -c3 -i0.2 -s 1400 10.9.6.1 >/dev/null
  t1=$(counter mdb TcpInSegs); u1=$(counter mdb UdpInDatagrams); r1=$(counter m2 TcpInSegs)
  label="endpoints' offload $mode, router's $([ "$mode" = off ] && echo on || echo off)"
  echo "     $label: db received $((t1 - t0)) TCP segments, $((u1 - u0)) UDP datagrams; m2 $((r1 - r0)) TCP segments"
  errs=0; for n in m1 m2 mdb; do errs=$((errs + $(csum_errors "$n") - e0[$n])); done
  expect "checksum errors (InCsumErrors in m1, m2, db), $label" 0 "$errs"
  corrupt vd; corrupt vm1
  d1=$(( $(csum_errors m1) - e0[m1] )); dd=$(( $(csum_errors mdb) - e0[mdb] ))
  if [ "$d1" -gt 0 ] && [ "$dd" -gt 0 ]; then echo "ok     the same with the UDP checksum overwritten in the router (control): db $dd, m1 $d1 errors"
  else echo "FAIL   checksum control: db $dd, m1 $d1 errors"; fail=1; fi
done
offload on  # and the router's links back on too:
for l in vm1 vm2 vd; do nsx mrt ethtool -K "$l" tx on >/dev/null; done
[ "$fail" = 0 ] || exit 1

# Throughput: iperf3 server in db on both addresses (and the one in mdb, started above).
nsx db iperf3 -s -D -p 5201 >/dev/null
sleep 0.5
tcp() { nsx "$1" iperf3 -c "$2" -p 5201 -t "$secs" -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])'; }
udp() { nsx "$1" iperf3 -c "$2" -p 5201 -t "$secs" -u -l 64 -b 0 -J | python3 -c 'import json,sys; e=json.load(sys.stdin)["end"]["sum"]; print(e["packets"]-e["lost_packets"])'; }
echo "round  path                  tcp base Gbit/s  tcp shared  ratio   udp64 base pkt/s  udp64 shared  ratio"
for r in $(seq 1 "$rounds"); do
  for path in hop router checks; do
    if [ "$path" = hop ]; then
      ts=$(tcp slot 10.9.1.1); th=$(tcp e1 10.9.2.1); us=$(udp slot 10.9.1.1); uh=$(udp e1 10.9.2.1)
    elif [ "$path" = router ]; then
      ts=$(tcp rs 10.9.4.1); th=$(tcp e3 10.9.4.1); us=$(udp rs 10.9.4.1); uh=$(udp e3 10.9.4.1)
    else
      ts=$(tcp mbase 10.9.6.1); th=$(tcp m1 10.9.6.1); us=$(udp mbase 10.9.6.1); uh=$(udp m1 10.9.6.1)
    fi
    python3 - "$r" "$path" "$ts" "$th" "$us" "$uh" "$secs" <<'EOF'
import sys
r, path = sys.argv[1], sys.argv[2]
ts, th, us, uh, secs = map(float, sys.argv[3:])
name = {"hop": "shared-ENI namespace", "router": "translation in router",
        "checks": "router, ACL+SG rules"}[path]
print(f"{r:>5}  {name:<21} {ts/1e9:15.2f}  {th/1e9:10.2f}  {th/ts:5.2f}   {us/secs:16.0f}  {uh/secs:12.0f}  {uh/us:5.2f}")
EOF
  done
done
