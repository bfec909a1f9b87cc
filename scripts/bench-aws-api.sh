#!/usr/bin/env bash
# The AWS-compatible APIs against cove's own API, in one run (issue 13), p50 and
# p99 of each and their ratio:
#  1. EC2's DescribeVpcs and DescribeSecurityGroups with 1,000 VPCs (each with a
#     subnet and a group `web`) against GET /v1/spec, in-process on a fresh SQLite
#     store (crates/cove-awsapi/examples/bench_aws_api.rs `describe`);
#  2. Lambda's Invoke against POST /v1/functions/{name}/invocations of a warm
#     Python function in a network, on a real `cove serve` (release build; root,
#     the runtime clients; `invoke`).
# Every request is signed (SigV4) or carries its bearer token, sent over
# 127.0.0.1 and its whole answer read; the operations alternate in rounds.
#   BENCH_ROUNDS=5 BENCH_N=200 bash scripts/bench-aws-api.sh
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p cove --bin cove -p cove-sandbox --bin cove-env-init
cargo build --release --locked -q -p cove-awsapi --example bench_aws_api
bench=${CARGO_TARGET_DIR:-target}/release/examples/bench_aws_api
cove=${CARGO_TARGET_DIR:-target}/release/cove
echo "== EC2 describes, 1,000 VPCs"
"$bench" describe

bash scripts/install-runtimes.sh >/dev/null
export COVE_PREFIX=${BENCH_PREFIX:-bawsi}
work=$(mktemp -d /tmp/cove-bench-aws.XXXXXX)
export COVE_STATE_DIR=$work/state
serve=""
cleanup() {
  [ -n "$serve" ] && kill "$serve" 2>/dev/null && wait "$serve" 2>/dev/null
  "$cove" destroy >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"$cove" serve --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 > "$work/serve.log" 2>&1 &
serve=$!
base=""
for _ in $(seq 300); do
  base=$(sed -n 's/^cove serve: control-plane API on \(http[^ ]*\).*/\1/p' "$work/serve.log")
  [ -n "$base" ] && break
  sleep 0.1
done
[ -n "$base" ] || { cat "$work/serve.log"; exit 1; }
admin=$(cat "$COVE_STATE_DIR/$COVE_PREFIX/admin-token")
call() { # METHOD PATH TOKEN [BODY]
  curl -sf -X "$1" -H "authorization: Bearer $3" -H 'content-type: application/json' \
    ${4:+-d "$4"} "$base$2"
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
call PUT /v1/ip-pool "$admin" '{"blocks":["198.51.100.0/29"]}' >/dev/null
id=$(call POST /v1/tenants "$admin" '{"name":"bench"}' | field '["id"]')
tok=$(call POST "/v1/tenants/$id/tokens" "$admin" '{}' | field '["secret"]')
net=$(call POST /v1/connect/networks "$tok" '{"name":"web","cidr":"10.90.0.0/16","region":"us-east-1"}' | field '["id"]')
(cd crates/cove-runtimes/fixtures/python && python3 -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z: z.write("handler.py")' "$work/fn.zip")
code=$(curl -sf -X POST -H "authorization: Bearer $tok" -H 'content-type: application/zip' \
  --data-binary "@$work/fn.zip" "$base/v1/functions/code" | field '["code"]')
call POST /v1/functions "$tok" "{\"name\":\"echo\",\"network\":\"$net\",\"runtime\":\"python3.11\",\"handler\":\"handler.handler\",\"code\":\"$code\"}" >/dev/null
for _ in $(seq 600); do
  state=$(call GET /v1/functions/echo "$tok" | field '.get("state")')
  [ "$state" = "Active" ] && break
  sleep 0.2
done
[ "$state" = "Active" ] || { echo "the function never became Active"; tail -20 "$work/serve.log"; exit 1; }
keys=$(call GET /v1/access-key "$tok")
key=$(echo "$keys" | field '["access_key_id"]')
secret=$(echo "$keys" | field '["secret_access_key"]')
echo "== Lambda Invoke, a warm python3.11 function in a network"
"$bench" invoke "$base" "$tok" "$key" "$secret" echo
