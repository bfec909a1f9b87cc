#!/usr/bin/env bash
# Issue 12's resolver against Debian's unbound and dnsmasq, in one run, same
# machine, same query mix, each queried with dnsperf from a client namespace one
# veth hop away:
#   * cove: `cove serve`'s resolver in the host router, asked at the VPC's base + 2
#     from an ENI's namespace (the path every function's query takes);
#   * unbound and dnsmasq: in a namespace of their own, one thread each (as
#     cove's UDP server), configured with the same private zone and forwarding
#     to the same upstream.
# Two mixes: PRIVATE (100 names of a private zone, answered authoritatively) and
# FORWARDED (100 names the upstream answers, cached after a warm-up pass). For
# each: queries per second at full load (dnsperf, DNS_SECONDS s, 2 clients,
# 100 outstanding; DNS_ROUNDS rounds, the three resolvers alternating, the median
# reported) and latency p50/p99 at a fixed DNS_LATENCY_QPS (dnsperf -v, every
# answer's latency). Then the ratios of the medians, cove / unbound and cove /
# dnsmasq. Each throughput run also reports the CPU time the whole machine
# spent per answered query (every core's busy time from /proc/stat — client,
# server, kernel — over the answers): what a query costs wherever it is spent.
# With DNS_PIN=1 the servers run on CPU 1 and dnsperf on CPU 0. Not the default:
# cove's kernel fast path answers in the softirq of the CPU that sends the query,
# which pinning cannot move, so pinned it runs on dnsperf's core while unbound and
# dnsmasq get a core of their own; unpinned, the scheduler places everything, as
# on a host. DNS_FAST_PATH=0 runs cove without its fast path.
# DNS_RPS=1: see below. Needs root; installs dnsperf, unbound, dnsmasq-base; cleans
# up on exit.
#   bash scripts/bench-dns.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for pair in dnsperf:dnsperf unbound:unbound dnsmasq:dnsmasq-base dig:dnsutils; do
  command -v "${pair%%:*}" >/dev/null || apt-get install -y -qq "${pair#*:}" >/dev/null
done
prefix=${BENCH_PREFIX:-cvbdns}
seconds=${DNS_SECONDS:-10}
rounds=${DNS_ROUNDS:-3}
latency_qps=${DNS_LATENCY_QPS:-5000}
pin_server=()
pin_client=()
if [ "${DNS_PIN:-0}" = 1 ]; then
  pin_server=(taskset -c 1)
  pin_client=(taskset -c 0)
fi
if [ -z "${COVE_BIN:-}" ]; then
  cargo build -q --release --locked -p cove --bin cove
fi
cove=${COVE_BIN:-$PWD/target/release/cove}
work=$(mktemp -d /tmp/cove-bench-dns.XXXXXX)
cli=dnsbench-cli  # not under the prefix: cove owns every `<prefix>-…` namespace
srv=dnsbench-srv
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  COVE_PREFIX=$prefix COVE_STATE_DIR=$work/state "$cove" destroy >/dev/null 2>&1 || true
  ip netns del "$cli" 2>/dev/null || true
  ip netns del "$srv" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export COVE_PREFIX=$prefix COVE_STATE_DIR=$work/state

# The private zone: h0 … h99.bench.internal.
records=""
for i in $(seq 0 99); do
  records+="          - { name: h$i.bench.internal, type: A, values: [10.73.2.$((i + 1))] }"$'\n'
done
cat >"$work/spec.yaml" <<EOF
tenants:
  - name: t
    vpcs:
      - name: v
        cidr: 10.73.0.0/16
        subnets:
          - { name: a, cidr: 10.73.1.0/24, az: us-east-1a }
        enis:
          - { name: client, subnet: a, private_ip: 10.73.1.5 }
    hosted_zones:
      - name: bench.internal
        vpcs: [v]
        records:
$records
EOF
for i in $(seq 0 99); do echo "h$i.bench.internal A"; done >"$work/private.txt"
for i in $(seq 0 99); do echo "w$i.fwd.example A"; done >"$work/forwarded.txt"

# The upstream every resolver forwards to (a dnsmasq answering *.fwd.example with
# a day's TTL), on the host's loopback for cove and in the server namespace for
# the others.
upstream_args=(--keep-in-foreground --no-resolv --no-hosts --bind-interfaces
  --listen-address=127.0.0.1 --port=5390 --user=root --pid-file
  --address=/fwd.example/192.0.2.1 --local-ttl=86400)
dnsmasq "${upstream_args[@]}" &
pids+=($!)

# DNS_FAST_PATH=0: cove's resolver answers every query itself (without its kernel
# fast path), to see what the fast path brings.
fast_flag=()
[ "${DNS_FAST_PATH:-1}" = 1 ] || fast_flag=(--no-dns-fast-path)
"$cove" apply -f "$work/spec.yaml" >/dev/null
"${pin_server[@]}" "$cove" serve --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 --no-api \
  --dns-upstream 127.0.0.1:5390 "${fast_flag[@]}" >"$work/serve.log" 2>&1 &
pids+=($!)
client_ns=$(ip netns list | awk '{print $1}' | grep "^${prefix}-e-" | head -1)
ok=""
for _ in $(seq 1 100); do
  if ip netns exec "$client_ns" dig +short +time=1 +tries=1 @10.73.0.2 h1.bench.internal \
    | grep -q 10.73.2.2; then ok=1; break; fi
  sleep 0.2
done
[ -n "$ok" ] || { echo "cove's resolver does not answer" >&2; cat "$work/serve.log" >&2; exit 1; }

# The other resolvers' namespaces: client 10.99.0.1 — server 10.99.0.2.
ip netns add "$cli"
ip netns add "$srv"
ip -n "$cli" link add b0 type veth peer name b1 netns "$srv"
ip -n "$cli" addr add 10.99.0.1/24 dev b0
ip -n "$srv" addr add 10.99.0.2/24 dev b1
for n in "$cli" "$srv"; do ip -n "$n" link set lo up; done
ip -n "$cli" link set b0 up
ip -n "$srv" link set b1 up
ip netns exec "$srv" dnsmasq "${upstream_args[@]}" &
pids+=($!)

{
  echo "server:"
  echo "  interface: 10.99.0.2@53"
  echo "  access-control: 10.99.0.0/24 allow"
  echo "  do-not-query-localhost: no"
  echo "  num-threads: 1"
  echo "  chroot: \"\""
  echo "  username: \"\""
  echo "  directory: \"$work\""
  echo "  pidfile: \"\""
  echo "  use-syslog: no"
  echo "  do-daemonize: no"
  echo "  module-config: \"iterator\""
  echo "  local-zone: \"bench.internal.\" static"
  for i in $(seq 0 99); do echo "  local-data: \"h$i.bench.internal. 300 IN A 10.73.2.$((i + 1))\""; done
  echo "forward-zone:"
  echo "  name: \".\""
  echo "  forward-addr: 127.0.0.1@5390"
} >"$work/unbound.conf"
ip netns exec "$srv" "${pin_server[@]}" unbound -c "$work/unbound.conf" &
pids+=($!)
host_records=()
for i in $(seq 0 99); do host_records+=("--host-record=h$i.bench.internal,10.73.2.$((i + 1))"); done
ip netns exec "$srv" "${pin_server[@]}" dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
  --listen-address=10.99.0.2 --port=5353 --user=root --pid-file --cache-size=10000 \
  --server=127.0.0.1#5390 --local=/bench.internal/ --local-ttl=300 "${host_records[@]}" &
pids+=($!)
sleep 1

# DNS_RPS=1 (an experiment, not the default): every server's receiving link steers
# its packets to CPU 1 (RPS), so the receive path of a query — cove's router's
# firewall and policy routing, or the plain namespace's — is done on the server's
# core instead of the load generator's.
if [ "${DNS_RPS:-0}" = 1 ]; then
  for ns in $(ip netns list | awk '{print $1}' | grep "^${prefix}-"); do
    ip netns exec "$ns" sh -c 'for q in /sys/class/net/*/queues/rx-*; do echo 2 > "$q/rps_cpus"; done'
  done
  ip netns exec "$srv" sh -c 'for q in /sys/class/net/*/queues/rx-*; do echo 2 > "$q/rps_cpus"; done'
fi

# name → "netns address port"
declare -A target=(
  [cove]="$client_ns 10.73.0.2 53"
  [unbound]="$cli 10.99.0.2 53"
  [dnsmasq]="$cli 10.99.0.2 5353"
)

busy() { # jiffies every CPU spent not idle, since boot
  awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}
qps() { # resolver file → "queries/s:CPU µs per query" (every CPU's busy time, all
  # processes and the kernel's, over the answers)
  read -r ns addr port <<<"${target[$1]}"
  local before after out
  before=$(busy)
  out=$(ip netns exec "$ns" "${pin_client[@]}" dnsperf -s "$addr" -p "$port" -d "$2" -l "$seconds" -c 2 -q 100 -T 1 2>&1)
  after=$(busy)
  awk -v b="$before" -v a="$after" -v hz="$(getconf CLK_TCK)" -v s="$seconds" '
    /Queries per second/ {q = $4}
    END {printf "%.0f:%.2f", q, (a - b) / hz * 1e6 / (q * s)}' <<<"$out"
}
latency() { # resolver file → "p50_ms p99_ms lost"
  read -r ns addr port <<<"${target[$1]}"
  ip netns exec "$ns" "${pin_client[@]}" dnsperf -s "$addr" -p "$port" -d "$2" -l 5 -c 1 -Q "$latency_qps" -v 2>/dev/null \
    | awk '$1 == ">" && $2 == "NOERROR" {print $NF * 1000} $1 == ">" && $2 != "NOERROR" {bad++}
           END {if (bad) print "bad " bad > "/dev/stderr"}' \
    | sort -n | awk '{v[NR] = $1} END {
        if (NR == 0) {print "- - -"; exit}
        p50 = v[int(NR * 0.50) > 0 ? int(NR * 0.50) : 1]; p99 = v[int(NR * 0.99) > 0 ? int(NR * 0.99) : 1]
        printf "%.3f %.3f %d\n", p50, p99, NR }'
}
warm() { # resolver: one pass over the forwarded names
  read -r ns addr port <<<"${target[$1]}"
  ip netns exec "$ns" dnsperf -s "$addr" -p "$port" -d "$work/forwarded.txt" -n 1 -c 1 -q 10 >/dev/null 2>&1
}

for r in cove unbound dnsmasq; do
  read -r ns addr port <<<"${target[$r]}"
  answer=$(ip netns exec "$ns" dig +short +time=1 +tries=2 -p "$port" @"$addr" h7.bench.internal)
  [ "$answer" = 10.73.2.8 ] || { echo "$r does not answer the private zone: '$answer'" >&2; exit 1; }
  warm "$r"
done

declare -A result
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
for mix in private forwarded; do
  declare -A runs=() cpu=()
  for _ in $(seq 1 "$rounds"); do
    for r in cove unbound dnsmasq; do
      got=$(qps "$r" "$work/$mix.txt")
      runs[$r]+=" ${got%%:*}"
      cpu[$r]+=" ${got##*:}"
    done
  done
  for r in cove unbound dnsmasq; do
    result[$mix,$r,qps]=$(median <<<"${runs[$r]}")
    result[$mix,$r,runs]=${runs[$r]}
    result[$mix,$r,cpu]=$(median <<<"${cpu[$r]}")
    read -r p50 p99 n <<<"$(latency "$r" "$work/$mix.txt")"
    result[$mix,$r,p50]=$p50
    result[$mix,$r,p99]=$p99
    result[$mix,$r,n]=$n
  done
  unset runs cpu
done

printf "\n%-10s %-8s %12s %10s %10s %10s %8s  %s\n" mix resolver "queries/s" "CPU µs/q" "p50 ms" "p99 ms" answers "rounds (queries/s)"
for mix in private forwarded; do
  for r in cove unbound dnsmasq; do
    printf "%-10s %-8s %12.0f %10s %10s %10s %8s %s\n" "$mix" "$r" "${result[$mix,$r,qps]}" \
      "${result[$mix,$r,cpu]}" "${result[$mix,$r,p50]}" "${result[$mix,$r,p99]}" "${result[$mix,$r,n]}" "${result[$mix,$r,runs]}"
  done
  awk -v m="$mix" -v c="${result[$mix,cove,qps]}" -v u="${result[$mix,unbound,qps]}" \
    -v d="${result[$mix,dnsmasq,qps]}" \
    'BEGIN {printf "%-10s cove/unbound %.2f   cove/dnsmasq %.2f\n", m, c / u, c / d}'
done
