#!/usr/bin/env bash
# Flow logs on / off (issue 14), in one run on one machine:
#   * iperf3 TCP throughput and UDP 64-byte packet rate between two ENIs in two
#     subnets of one VPC, in two deployments side by side — one whose VPC has
#     flow logs (`cove serve` collecting: conntrack accounting and timestamps on
#     in its router, a reading every second), one without — measured in turns,
#     FL_ROUNDS rounds, the ratio on/off per round and its median;
#   * FL_FLOWS (default 100,000) distinct UDP flows sent as fast as one Python
#     process can from one ENI to the other: how many of them have their record
#     in the flow log (and the collector's dropped records and lost events from
#     /metrics);
#   * FL_REFUSED (default 100,000) UDP datagrams to a port the receiving
#     subnet's network ACL denies, sent as fast as one Python socket can: how
#     many refused packets the collector read from NFLOG (the router logs at most
#     10,000 a second) and how many the REJECT records count.
# Needs root; installs iperf3.
#   bash scripts/bench-flowlogs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v iperf3 >/dev/null || apt-get install -y -qq iperf3 >/dev/null
[ -n "${COVE_BIN:-}" ] || cargo build --release --locked -q -p cove --bin cove
cove=${COVE_BIN:-$PWD/target/release/cove}
prefix=${BENCH_PREFIX:-bfl}
secs=${FL_SECONDS:-5}
rounds=${FL_ROUNDS:-5}
flows=${FL_FLOWS:-100000}
refused=${FL_REFUSED:-100000}
work=$(mktemp -d /tmp/cove-bench-fl.XXXXXX)
export COVE_STATE_DIR=$work/state
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for m in on off; do COVE_PREFIX=$prefix$m "$cove" destroy >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

spec() { # $1 = on|off
  cat <<EOF
tenants:
  - name: t
    vpcs:
      - name: v
        cidr: 10.51.0.0/16
        subnets:
          - { name: s1, cidr: 10.51.1.0/24, az: z1 }
          - { name: s2, cidr: 10.51.2.0/24, az: z1, network_acl: guard }
        network_acls:
          - name: guard
            ingress:
              - { rule: 50, action: deny, protocol: udp, ports: 7000, cidr: 10.51.1.0/24 }
              - { rule: 100, action: allow, protocol: all, cidr: 0.0.0.0/0 }
            egress:
              - { rule: 100, action: allow, protocol: all, cidr: 0.0.0.0/0 }
        security_groups:
          - name: open
            ingress: [ { protocol: all, cidr: 10.51.0.0/16 } ]
        enis:
          - { name: c, subnet: s1, private_ip: 10.51.1.10, security_groups: [open] }
          - { name: s, subnet: s2, private_ip: 10.51.2.10, security_groups: [open] }
EOF
  if [ "$1" = on ]; then
    cat <<EOF
        flow_logs:
          - { name: all, max_aggregation_interval: 60 }
          - { name: fast, eni: s, max_aggregation_interval: 1, log_format: '\${srcaddr} \${dstaddr} \${srcport} \${dstport} \${protocol} \${packets} \${flow-direction}' }
          - { name: refused, eni: s, traffic_type: REJECT, max_aggregation_interval: 1, log_format: '\${srcaddr} \${dstaddr} \${srcport} \${dstport} \${protocol} \${packets} \${action}' }
EOF
  fi
}

declare -A addr_of
for m in on off; do
  spec "$m" >"$work/$m.yaml"
  COVE_PREFIX=$prefix$m "$cove" destroy >/dev/null 2>&1 || true
  COVE_PREFIX=$prefix$m "$cove" apply -f "$work/$m.yaml" >/dev/null
  COVE_PREFIX=$prefix$m "$cove" serve --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 --no-api \
    >"$work/serve-$m.log" 2>&1 &
  pids+=($!)
done
for m in on off; do
  for _ in $(seq 1 100); do
    addr_of[$m]=$(sed -n 's/.* on http:\/\/\([0-9.:]*\) .*/\1/p' "$work/serve-$m.log" | head -1)
    [ -n "${addr_of[$m]}" ] && break
    sleep 0.2
  done
done
# The collector turns accounting on in its router when it starts.
for _ in $(seq 1 100); do
  [ "$(ip netns exec "${prefix}on-router" cat /proc/sys/net/netfilter/nf_conntrack_acct)" = 1 ] && break
  sleep 0.2
done
[ "$(ip netns exec "${prefix}on-router" cat /proc/sys/net/netfilter/nf_conntrack_acct)" = 1 ] \
  || { echo "the flow-log collector did not start" >&2; cat "$work/serve-on.log" >&2; exit 1; }

in_ns() { # $1 on|off, $2 c|s, then the command
  local m=$1 who=$2
  shift 2
  COVE_PREFIX=$prefix$m "$cove" exec -f "$work/$m.yaml" "$who" -- "$@"
}

measure() { # $1 on|off, $2 tcp|udp -> Gbit/s (tcp) or received kpps (udp)
  local m=$1 kind=$2
  in_ns "$m" s iperf3 -s -D -1 --logfile "$work/srv-$m.log" >/dev/null
  sleep 0.3
  if [ "$kind" = tcp ]; then
    in_ns "$m" c iperf3 -c 10.51.2.10 -t "$secs" -J |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9)'
  else
    in_ns "$m" c iperf3 -c 10.51.2.10 -u -l 64 -b 0 -t "$secs" -J |
      python3 -c 'import json,sys; e=json.load(sys.stdin)["end"]["sum"]; print((e["packets"]-e["lost_packets"])/e["seconds"]/1e3)'
  fi
}

: >"$work/results.txt"
for r in $(seq 1 "$rounds"); do
  for kind in tcp udp; do
    # The order alternates round by round.
    if [ $((r % 2)) = 1 ]; then order="on off"; else order="off on"; fi
    for m in $order; do
      echo "$r $kind $m $(measure "$m" "$kind")" >>"$work/results.txt"
    done
  done
done

python3 - "$work/results.txt" <<'EOF'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
for kind, unit in (("tcp", "Gbit/s"), ("udp", "kpps (64-byte)")):
    on = {r[0]: float(r[3]) for r in rows if r[1] == kind and r[2] == "on"}
    off = {r[0]: float(r[3]) for r in rows if r[1] == kind and r[2] == "off"}
    ratios = [on[k] / off[k] for k in sorted(on) if off.get(k)]
    print(f"{kind}: on {' '.join(f'{on[k]:.2f}' for k in sorted(on))} | off {' '.join(f'{off[k]:.2f}' for k in sorted(off))} {unit}")
    print(f"{kind}: on/off per round {' '.join(f'{x:.3f}' for x in ratios)}; median {statistics.median(ratios):.3f}")
EOF

# Many flows: FL_FLOWS distinct UDP 5-tuples, one datagram each.
metric() { # $1 series -> value
  curl -s "http://${addr_of[on]}/metrics" | awk -v s="$1" '$1 == s {print $2}'
}
written_before=$(metric 'cove_flow_log_records_total{outcome="written"}')
start=$(date +%s.%N)
in_ns on c python3 - "$flows" <<'EOF'
import socket, sys
n = int(sys.argv[1])
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.51.1.10", 20000 + i % 40000))
    s.sendto(b"x", ("10.51.2.10", 9000 + i // 40000))
    s.close()
EOF
sent_s=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
log="$COVE_STATE_DIR/${prefix}on/flow-logs/t/v/fast.log"
count() { awk '$2 == "10.51.2.10" && $5 == 17 && $7 == "ingress" && $4 >= 9000 && $4 < 9100 {print $3, $4}' "$log" 2>/dev/null | sort -u | wc -l; }
for _ in $(seq 1 120); do
  [ "$(count)" -ge "$flows" ] && break
  sleep 1
done
logged=$(count)
written_after=$(metric 'cove_flow_log_records_total{outcome="written"}')
dropped=$(metric 'cove_flow_log_records_total{outcome="dropped"}')
lost=$(metric 'cove_flow_log_lost_events_total')
echo "flows: $flows sent in ${sent_s} s ($(python3 -c "print(round($flows / $sent_s * 60))") per minute); $logged logged at the receiving ENI; records written $((${written_after%.*} - ${written_before%.*})), dropped ${dropped:-0}, lost destroy events ${lost:-0}"

# Refused packets: FL_REFUSED datagrams to a port the receiving subnet's ACL denies.
read_before=$(metric 'cove_flow_log_refused_packets_total')
start=$(date +%s.%N)
in_ns on c python3 - "$refused" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.51.1.10", 47000))
for _ in range(int(sys.argv[1])):
    s.sendto(b"x", ("10.51.2.10", 7000))
EOF
refused_s=$(python3 -c "import time; print(f'{time.time() - $start:.2f}')")
rlog="$COVE_STATE_DIR/${prefix}on/flow-logs/t/v/refused.log"
sleep 3
in_records=$(awk '$4 == 7000 && $7 == "REJECT" {n += $6} END {print n + 0}' "$rlog" 2>/dev/null || echo 0)
read_after=$(metric 'cove_flow_log_refused_packets_total')
lost_rejects=$(metric 'cove_flow_log_lost_rejects_total')
echo "refused: $refused datagrams in ${refused_s} s ($(python3 -c "print(round($refused / $refused_s))") per second); read from NFLOG $((${read_after%.*} - ${read_before%.*})) (limit 10,000/s + 1,000 burst: $(python3 -c "print(round(10000 * $refused_s + 1000))")); in REJECT records $in_records; socket overflows ${lost_rejects:-0}"
