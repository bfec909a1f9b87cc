#!/usr/bin/env bash
# Prototype of issue 11's NAT gateway pair (docs/design/nat-failover.md), with plain
# namespaces, veths, nftables and conntrack-tools (no cove): gateway A fails, its
# partner B takes over A's private address, and open connections survive because
# A's conntrack entries were replicated into B beforehand.
#
#   c1 (10.80.1.10), c2 (10.80.1.11)   two function ENIs of a private subnet
#        |  veths rc1, rc2
#   rt   host router: per-link mark and conntrack zone, cove's policy routing (the
#        private route table: 0.0.0.0/0 via 10.80.0.10 onlink), cove's 1:1 NAT of
#        public IPs on the internet link (public_in / public_out, keyed by link)
#        |  rna, rnb                     |  rig
#   na   NAT gateway A, eth0 10.80.0.10   out   the internet stand-in, 198.51.100.1
#   nb   NAT gateway B, eth0 10.80.0.11         (TCP echo :9000, UDP sink :9001)
#   A's public IP 203.0.113.10, B's 203.0.113.11 (the router's maps).
#
# Takeover (done by a health checker in the router namespace, <= 3 commands):
# B adds 10.80.0.10/32 to its eth0; the router's /32 to 10.80.0.10 and the private
# route table's default route move to B's link. The router's 1:1 NAT is untouched
# (it maps 10.80.0.10 <-> 203.0.113.10 whichever link carries it), so each flow
# keeps its public source IP. B's table source-translates A's subnets to A's
# address (static, ready before any failure); A's flows are translated by the
# conntrack entries replicated from A (`conntrack -E` in A, `conntrack -I` with
# `--src-nat ip:port` in B).
#
# Both clients open their connections from the same source ports, so A must remap
# half of them: without replication B would translate them again, differently.
#
# Checks (exit 1 if one fails):
#  1. with replication: kill A (namespace deleted), every TCP connection keeps
#     transferring, 0 RSTs anywhere, the server sees only 203.0.113.10, UDP gap;
#  2. control: the same with replication off: connections are lost;
#  3. fail-back (B's entries synced into a new A, routes moved back): 0 lost;
#  4. rounds of failovers (namespace deleted / link down, alternating), each with
#     fail-back, every round keeping all connections: gap p50/p99;
#  5. the kernel facts the design relies on (conntrack -I with a NAT'd reply).
# Needs root.
#
#   PROTO_CONNS   TCP connections (default 1000, half per client)
#   PROTO_ROUNDS  failover rounds for the gap figures (default 10)
#   PROTO_PROBE   1 = detect by probes only (3 x 100 ms echo), 0 = link events too
set -euo pipefail
for t in conntrack nsenter tcpdump; do
  command -v "$t" >/dev/null || apt-get install -y -qq conntrack tcpdump >/dev/null
done
p=cvnf
conns=${PROTO_CONNS:-1000}
rounds=${PROTO_ROUNDS:-10}
probe_only=${PROTO_PROBE:-0}
nss=(c1 c2 rt na nb out)
tmp=$(mktemp -d /tmp/cvnf.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for n in "${nss[@]}"; do ip netns pids "$p-$n" 2>/dev/null | xargs -r kill 2>/dev/null || true; done
  for n in "${nss[@]}"; do ip netns del "$p-$n" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
nsx() { local n=$1; shift; ip netns exec "$p-$n" "$@"; }
fail=0
expect() { # $1 = description, $2 = wanted value, $3 = value
  if [ "$2" = "$3" ]; then echo "ok   $1: $3"; else echo "FAIL $1: $3 (want $2)"; fail=1; fi
}

VPC=0x100000      # VPC 1 in the high 12 bits: the VPC table (a /32 per ENI)
PRIV=0x100001     # the private subnet's route table
PUB=0x100002      # the NAT gateways' (public) subnet's route table

# A NAT gateway namespace: cove's table, plus (pair) A's subnets translated to A's
# address, and echo requests from the router answered (the health probe).
nat_ns() { # $1 = na|nb, $2 = its address
  local n=$1 ip=$2
  ip netns add "$p-$n"
  nsx "$n" ip link set lo up
  ip link add eth0 netns "$p-$n" type veth peer name "r$n" netns "$p-rt"
  nsx "$n" ip addr add "$ip/32" dev eth0
  nsx "$n" ip link set eth0 up
  nsx "$n" ip route add default via 10.80.0.1 dev eth0 onlink
  nsx "$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  nsx "$n" nft -f - <<EOF
table inet cove {
  chain filter_forward {
    type filter hook forward priority filter; policy accept;
    meta l4proto != { tcp, udp, icmp } drop
  }
  chain translate {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "eth0" ip saddr != { 10.80.0.10, 10.80.0.11 } ip saddr 10.80.1.0/24 meta l4proto { tcp, udp } snat ip to 10.80.0.10:1024-65535
    oifname "eth0" ip saddr != { 10.80.0.10, 10.80.0.11 } ip saddr 10.80.1.0/24 snat ip to 10.80.0.10
    oifname "eth0" ip saddr != { 10.80.0.10, 10.80.0.11 } meta l4proto { tcp, udp } snat ip to $ip:1024-65535
    oifname "eth0" ip saddr != { 10.80.0.10, 10.80.0.11 } snat ip to $ip
  }
  chain filter_input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iifname "eth0" ip saddr 10.80.0.1 icmp type echo-request accept
  }
}
EOF
  nsx rt ip link set "r$n" up
  nsx rt ip addr add 10.80.0.1/32 dev "r$n"
  nsx rt nft add element inet cove link_table "{ \"r$n\" : $PUB }"
  nsx rt nft add element inet cove link_zone "{ \"r$n\" : 1 }"
}

topology() {
  for n in c1 c2 rt out; do ip netns add "$p-$n"; nsx "$n" ip link set lo up; done
  nsx rt sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  # The router's table: cove's shape (prerouting mark and zone from the link, the
  # 1:1 NAT keyed by the internet link, the guard that only public-IP owners leave).
  nsx rt nft -f - <<EOF
table inet cove {
  map link_table { typeof iifname : meta mark; elements = { "rc1" : $PRIV, "rc2" : $PRIV, "rig" : $VPC } }
  map link_zone { typeof iifname : ct zone; elements = { "rc1" : 1, "rc2" : 1, "rig" : 1 } }
  set igw_links { typeof iifname; elements = { "rig" } }
  map public_to_private { typeof iifname . ip daddr : ip daddr;
    elements = { "rig" . 203.0.113.10 : 10.80.0.10, "rig" . 203.0.113.11 : 10.80.0.11 } }
  map private_to_public { typeof oifname . ip saddr : ip saddr;
    elements = { "rig" . 10.80.0.10 : 203.0.113.10, "rig" . 10.80.0.11 : 203.0.113.11 } }
  set igw_sources { typeof oifname . ip saddr; elements = { "rig" . 10.80.0.10, "rig" . 10.80.0.11 } }
  chain from_links {
    type filter hook prerouting priority -450; policy accept;
    meta mark set iifname map @link_table
    ct zone set iifname map @link_zone
  }
  chain public_in {
    type nat hook prerouting priority dstnat; policy accept;
    iifname @igw_links dnat ip to iifname . ip daddr map @public_to_private
  }
  chain public_out {
    type nat hook postrouting priority srcnat; policy accept;
    oifname @igw_links snat ip to oifname . ip saddr map @private_to_public
  }
  chain filter_forward {
    type filter hook forward priority filter; policy drop;
    oifname @igw_links oifname . ip saddr != @igw_sources counter drop
    ct state established,related accept
    ct state invalid counter drop
    accept
  }
  chain filter_input {
    type filter hook input priority filter; policy drop;
    icmp type echo-reply accept
  }
}
EOF
  local i=1
  for c in c1 c2; do
    ip link add eth0 netns "$p-$c" type veth peer name "r$c" netns "$p-rt"
    nsx "$c" ip addr add "10.80.1.1$((i - 1))/32" dev eth0
    nsx "$c" ip link set eth0 up
    nsx "$c" ip route add default via 10.80.1.1 dev eth0 onlink
    nsx rt ip addr add 10.80.1.1/32 dev "r$c"
    nsx rt ip link set "r$c" up
    nsx rt ip route add "10.80.1.1$((i - 1))/32" dev "r$c" table $((VPC))
    i=$((i + 1))
  done
  ip link add rig netns "$p-rt" type veth peer name eth0 netns "$p-out"
  nsx rt ip addr add 100.64.0.1/30 dev rig
  nsx rt ip link set rig up
  nsx out ip addr add 100.64.0.2/30 dev eth0
  nsx out ip addr add 198.51.100.1/32 dev eth0
  nsx out ip link set eth0 up
  nsx out ip route add 203.0.113.0/24 via 100.64.0.1
  nat_ns na 10.80.0.10
  nat_ns nb 10.80.0.11
  nsx rt ip route add 10.80.0.10/32 dev rna table $((VPC))
  nsx rt ip route add 10.80.0.11/32 dev rnb table $((VPC))
  nsx rt ip route add blackhole default table $((VPC))
  nsx rt ip route add default via 10.80.0.10 dev rna onlink table $((PRIV))
  nsx rt ip route add default via 100.64.0.2 dev rig onlink table $((PUB))
  nsx rt ip rule add to 10.80.0.0/16 fwmark $VPC/0xfff00000 lookup $((VPC)) priority 100
  nsx rt ip rule add fwmark $PRIV lookup $((PRIV)) priority 200
  nsx rt ip rule add fwmark $PUB lookup $((PUB)) priority 201
  nsx rt ip rule add fwmark $VPC/0xfff00000 lookup $((VPC)) priority 300
  # RSTs counted wherever a TCP endpoint is (sent and received).
  for n in c1 c2 out; do
    nsx "$n" nft -f - <<'EOF'
table inet probe {
  counter rst_in { }
  counter rst_out { }
  chain i { type filter hook input priority -500; policy accept; tcp flags rst counter name rst_in; }
  chain o { type filter hook output priority -500; policy accept; tcp flags rst counter name rst_out; }
}
EOF
  done
}
rsts() { # every RST seen in c1, c2, out (in + out)
  local s=0 n c
  for n in c1 c2 out; do
    for c in rst_in rst_out; do
      s=$((s + $(nsx "$n" nft list counter inet probe "$c" | sed -n 's/.*packets \([0-9]*\).*/\1/p')))
    done
  done
  echo "$s"
}

if [ "${PROTO_STAGE:-}" = topology ]; then topology; trap - EXIT; echo "$tmp"; exit 0; fi
