#!/usr/bin/env bash
# The closed network's two paths (issue 15), in one run on one machine:
#   * a GET of a 100 KB object through the S3 interface endpoint (wrk in a client
#     ENI's namespace → the router → the endpoint ENI → cove's object store) against
#     the same GET from the store's host side (`cove serve --objects-listen`, wrk on
#     loopback): requests per second, CN_ROUNDS rounds of CN_SECONDS each in turns,
#     the ratio endpoint/direct per round and its median;
#   * a private API call (GET /ping through the execute-api endpoint → the gateway
#     → the function) against a direct Lambda Invoke API call of the same function
#     (POST /2015-03-31/functions/ping/invocations on loopback), one connection each
#     (wrk -c1): p50 and p99 latency, and the p50 overhead in ms.
# Needs root; installs wrk; builds the release binary.
#   bash scripts/bench-closed-network.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
command -v aws >/dev/null || python3 -m pip install -q --break-system-packages awscli==1.45.11
[ -n "${COVE_BIN:-}" ] || cargo build --release --locked -q -p cove --bin cove
cove=${COVE_BIN:-$PWD/target/release/cove}
export COVE_PREFIX=${BENCH_PREFIX:-bcn}
secs=${CN_SECONDS:-5}
rounds=${CN_ROUNDS:-5}
work=$(mktemp -d /tmp/cove-bench-cn.XXXXXX)
export COVE_STATE_DIR=$work/state
serve=""
cleanup() {
  [ -n "$serve" ] && kill "$serve" 2>/dev/null && wait "$serve" 2>/dev/null
  "$cove" destroy >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
[ -z "${CN_DEBUG:-}" ] || set -x

mkdir -p "$work/code"
cat > "$work/code/ping.py" <<'PY'
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "pong"}
PY
cat > "$work/spec.yaml" <<'EOF'
tenants:
  - name: bench
    buckets:
      - name: bench-objects
        policy:
          Statement:
            - { Effect: Allow, Principal: "*", Action: s3:GetObject, Resource: "arn:aws:s3:::bench-objects/*" }
    apis:
      - name: ping
        id: b3nchap1aa
        routes: [{ route: "GET /ping", function: ping }]
        policy:
          Statement:
            - Effect: Allow
              Principal: "*"
              Action: execute-api:Invoke
              Resource: execute-api:/*
              Condition: { StringEquals: { "aws:SourceVpce": vpce-0be0c0000000000a1 } }
    vpcs:
      - name: v
        cidr: 10.90.0.0/16
        subnets:
          - { name: s, cidr: 10.90.1.0/24, az: us-east-1a }
        security_groups:
          - name: client
            egress: [{ protocol: tcp, ports: 80, cidr: 10.90.0.0/16 }]
          - name: endpoints
            ingress: [{ protocol: tcp, ports: 80, cidr: 10.90.0.0/16 }]
        enis:
          - { name: client, subnet: s, private_ip: 10.90.1.5, security_groups: [client] }
        endpoints:
          - { name: s3, type: interface, service: com.amazonaws.us-east-1.s3, subnets: [s], private_ips: [10.90.1.20], security_groups: [endpoints] }
          - { name: api, id: vpce-0be0c0000000000a1, type: interface, service: com.amazonaws.us-east-1.execute-api, subnets: [s], private_ips: [10.90.1.30], security_groups: [endpoints] }
        functions:
          - { name: ping, runtime: python3.11, handler: ping.handler, code: ./code, subnets: [s], concurrency: 2, memory: 1769 }
EOF
"$cove" apply -f "$work/spec.yaml" >/dev/null
objects=127.0.0.1:$((20000 + RANDOM % 20000))
"$cove" serve --listen 127.0.0.1:0 --no-api --objects-listen "$objects" > "$work/serve.log" 2>&1 &
serve=$!
for _ in $(seq 100); do
  [ -s "$COVE_STATE_DIR/$COVE_PREFIX/serve.addr" ] && curl -s -o /dev/null "http://$objects/" && break
  sleep 0.2
done
fn=$(cat "$COVE_STATE_DIR/$COVE_PREFIX/serve.addr")
ns=$("$cove" exec bench/v/client -- ip netns identify)
head -c 102400 /dev/urandom > "$work/obj100k"
eval "$("$cove" access-key --tenant bench | grep '^AWS_')"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
printf '[default]\ns3 =\n    addressing_style = path\n' > "$work/aws-config"
export AWS_CONFIG_FILE=$work/aws-config
aws --endpoint-url "http://$objects" s3 cp "$work/obj100k" s3://bench-objects/obj100k >/dev/null
for url in "http://$objects/bench-objects/obj100k"; do
  [ "$(curl -s "$url" | cmp - "$work/obj100k" && echo same)" = same ] || { echo "direct GET differs" >&2; exit 1; }
done
[ "$(ip netns exec "$ns" curl -s http://10.90.1.20/bench-objects/obj100k | cmp - "$work/obj100k" && echo same)" = same ] \
  || { echo "GET through the endpoint differs" >&2; exit 1; }

rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'; }
echo "== 100 KB GET: requests/s through the S3 endpoint vs from the store's host side (wrk -t2 -c8, ${secs}s x $rounds)"
ratios=()
for r in $(seq "$rounds"); do
  e=$(ip netns exec "$ns" wrk -t2 -c8 -d"${secs}s" http://10.90.1.20/bench-objects/obj100k | rps)
  d=$(wrk -t2 -c8 -d"${secs}s" "http://$objects/bench-objects/obj100k" | rps)
  ratio=$(python3 -c "print(f'{$e/$d:.3f}')")
  ratios+=("$ratio")
  echo "round $r: endpoint $e req/s, direct $d req/s, ratio $ratio"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median ratio endpoint/direct: $(median "${ratios[@]}") (goal >= 0.8)"

echo
echo "== private API call vs direct Invoke (wrk -t1 -c1 --latency, ${secs}s each, warmed)"
cat > "$work/invoke.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"rawPath": "/ping"}'
wrk.headers["Content-Type"] = "application/json"
LUA
host="Host: b3nchap1aa.execute-api.us-east-1.amazonaws.com"
ip netns exec "$ns" curl -s -H "$host" http://10.90.1.30/ping >/dev/null
answer=$(curl -s -X POST -d '{}' "http://$fn/2015-03-31/functions/ping/invocations")
case "$answer" in *pong*) ;; *) echo "Invoke did not answer pong: $answer" >&2; exit 1 ;; esac
[ "$(ip netns exec "$ns" curl -s -H "$host" http://10.90.1.30/ping)" = pong ] || { echo "the private API did not answer pong" >&2; exit 1; }
pct() { awk -v p="$1" '$1 == p {print $2}'; }
ms() { python3 -c "import sys; v=sys.argv[1]; print(float(v[:-2]) if v.endswith('ms') else float(v[:-2])/1000 if v.endswith('us') else float(v[:-1])*1000)" "$1"; }
api_out=$(ip netns exec "$ns" wrk -t1 -c1 -d"${secs}s" --latency -H "$host" http://10.90.1.30/ping)
inv_out=$(wrk -t1 -c1 -d"${secs}s" --latency -s "$work/invoke.lua" "http://$fn/2015-03-31/functions/ping/invocations")
for out in "$api_out" "$inv_out"; do
  if echo "$out" | grep -q 'Non-2xx\|Socket errors'; then
    echo "errors during the run: $out" >&2
    curl -si -X POST -H 'Content-Type: application/json' -d '{"rawPath": "/ping"}' "http://$fn/2015-03-31/functions/ping/invocations" >&2
    exit 1
  fi
done
a50=$(ms "$(echo "$api_out" | pct 50%)"); a99=$(ms "$(echo "$api_out" | pct 99%)")
i50=$(ms "$(echo "$inv_out" | pct 50%)"); i99=$(ms "$(echo "$inv_out" | pct 99%)")
echo "private API (execute-api endpoint): p50 ${a50} ms, p99 ${a99} ms, $(echo "$api_out" | rps) req/s"
echo "direct Invoke API (loopback):       p50 ${i50} ms, p99 ${i99} ms, $(echo "$inv_out" | rps) req/s"
echo "p50 overhead: $(python3 -c "print(f'{$a50-$i50:.3f}')") ms (goal <= 1 ms)"
