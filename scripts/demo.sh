#!/usr/bin/env bash
# The main job on the shipped example:
#  1. the analyzer: validate the Secure Compute spec, explain reachable and blocked
#     flows, print the reachability matrix, import a real AWS export;
#  2. the data plane (as root): apply the spec to this host's kernel, open a real
#     connection from a function across the peering to the database, show a blocked
#     port with the analyzer's explanation, show outbound traffic leaving from the
#     NAT gateway's static IP;
#  3. functions (as root): deploy a Python function into the platform VPC's private
#     subnets, invoke it against a real PostgreSQL server in the customer's VPC across
#     the peering, serve it over Lambda's Invoke API and a function URL; then destroy
#     everything.
# Nothing leaves the machine: "the internet" is a namespace cove creates.
set -uo pipefail
cd "$(dirname "$0")/.."
for pair in nft:nftables socat:socat nc:netcat-openbsd ip:iproute2; do
  if ! command -v "${pair%%:*}" >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq "${pair#*:}" >/dev/null
  fi
done
cargo build --release --locked -q -p cove
cove=target/release/cove
spec=examples/secure-compute.yaml
run() { echo; echo "\$ cove $*"; "$cove" "$@"; echo "(exit $?)"; }

echo "=== 1. analyzer ==="
run validate -f "$spec"
run check -f "$spec" --from functions/fn-a --to prod/db-1 --proto tcp --port 5432
run check -f "$spec" --from functions/fn-a --to prod/db-1 --proto tcp --port 22
run check -f "$spec" --from functions/fn-b --to internet --proto tcp --port 443
run check -f "$spec" --from functions/fn-a --to 10.40.1.10 --proto icmp
run matrix -f "$spec" --ports tcp/5432,tcp/443
snap=../shared/aws-snapshots/batfish/test-vpc-peering
if [ -d "$snap" ]; then
  run import aws "$snap" -o target/imported.yaml
  run validate -f target/imported.yaml
fi

echo
echo "=== 2. data plane ==="
if [ "$(id -u)" != 0 ]; then
  echo "skipping the data plane: it needs root (network namespaces, nftables)"
  exit 0
fi
export COVE_PREFIX=demo COVE_STATE_DIR="${TMPDIR:-/tmp}/cove-demo"
"$cove" destroy >/dev/null 2>&1
echo; echo "\$ cove plan -f $spec   # (kernel changes abridged)"
"$cove" plan -f "$spec" | sed -n '1,4p;/^reachability/,$p'
run apply -f "$spec"
run apply -f "$spec"
run status -f "$spec"
# A stand-in PostgreSQL port and SSH port on the database ENI, a web server on the
# internet stand-in (the outside namespace).
( "$cove" exec prod/db-1 -- timeout 30 socat TCP-LISTEN:5432,fork,reuseaddr SYSTEM:'echo db says hello to $SOCAT_PEERADDR' 2>/dev/null & )
( "$cove" exec prod/db-1 -- timeout 30 socat TCP-LISTEN:22,fork,reuseaddr SYSTEM:'echo ssh' 2>/dev/null & )
( ip netns exec demo-outside timeout 30 socat TCP-LISTEN:443,bind=198.51.100.1,fork,reuseaddr SYSTEM:'echo internet host sees you as $SOCAT_PEERADDR' 2>/dev/null & )
sleep 0.5
echo
echo "\$ cove exec functions/fn-a -- nc -w2 10.30.1.10 5432    # across the peering"
"$cove" exec functions/fn-a -- nc -w2 10.30.1.10 5432; echo "(exit $?)"
echo
echo "\$ cove exec functions/fn-a -- nc -w2 10.30.1.10 22      # blocked"
"$cove" exec functions/fn-a -- nc -w2 10.30.1.10 22; echo "(exit $?: no answer — the analyzer says why:)"
"$cove" check -f "$spec" --from functions/fn-a --to prod/db-1 --proto tcp --port 22 | tail -1
echo
echo "\$ cove exec functions/fn-b -- nc -w2 198.51.100.1 443   # out through the NAT gateway"
"$cove" exec functions/fn-b -- nc -w2 198.51.100.1 443; echo "(exit $?)"

echo
echo "=== 3. functions ==="
# The runtime clients (awslambdaric, aws-lambda-ric, cove's Go/Ruby clients) and
# PostgreSQL; both are no-ops when installed.
bash scripts/install-runtimes.sh >/dev/null || { echo "installing the runtimes failed"; exit 1; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt-get install -y -qq postgresql >/dev/null
cargo build --release --locked -q -p cove-sandbox --bin cove-env-init
pkill -f "socat TCP-LISTEN:5432" 2>/dev/null; sleep 0.3
# A real PostgreSQL server on the database ENI (10.30.1.10) of the customer's VPC,
# trusting the platform VPC's addresses (its security group and NACL still decide).
pg=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
pgdata=$(mktemp -d); chown postgres "$pgdata"
runuser -u postgres -- "$pg/initdb" -A trust -U postgres -D "$pgdata/data" >/dev/null
echo "host all all 10.20.0.0/16 trust" >> "$pgdata/data/pg_hba.conf"
( "$cove" exec prod/db-1 -- runuser -u postgres -- "$pg/postgres" -D "$pgdata/data" \
    -c listen_addresses=10.30.1.10 -c unix_socket_directories="$pgdata" >/dev/null 2>&1 & )
for _ in $(seq 50); do runuser -u postgres -- "$pg/pg_isready" -q -h "$pgdata" && break; sleep 0.2; done
run fn deploy orders --runtime python3.11 --handler app.handler --code examples/functions/orders \
  --subnets functions/private-a,functions/private-b --security-groups fn --env DB_HOST=10.30.1.10
run fn list
run fn invoke orders --payload '{"order": 42}'
run check --from fn:orders --to prod/db-1 --proto tcp --port 5432
"$cove" serve --listen 127.0.0.1:9000 >/dev/null 2>&1 &
serve=$!
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:9000/2015-03-31/functions/ && break; sleep 0.1; done
echo; echo "\$ curl -X POST http://127.0.0.1:9000/2015-03-31/functions/orders/invocations -d '{\"order\": 43}'"
curl -s -X POST http://127.0.0.1:9000/2015-03-31/functions/orders/invocations -d '{"order": 43}'; echo
echo; echo "\$ curl http://127.0.0.1:9000/url/orders/status?verbose=1     # a function URL"
curl -s "http://127.0.0.1:9000/url/orders/status?verbose=1" | head -c 600; echo
kill "$serve"; wait "$serve" 2>/dev/null
pkill -f "postgres -D $pgdata" 2>/dev/null
run destroy
rm -rf "$pgdata"
