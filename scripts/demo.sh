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
# COVE_PREFIX (default demo) and COVE_STATE_DIR choose the deployment. Everything the
# script starts is stopped by its pid (process group), also when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
for pair in nft:nftables socat:socat nc:netcat-openbsd ip:iproute2; do
  if ! command -v "${pair%%:*}" >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq "${pair#*:}" >/dev/null
  fi
done
cargo build --release --locked -q -p cove
cove=target/release/cove
spec=examples/secure-compute.yaml
# Runs cove and shows its exit status; 0 and 3 (a flow BLOCKED) are expected, any
# other status stops the demo.
run() {
  local rc=0
  echo; echo "\$ cove $*"
  "$cove" "$@" || rc=$?
  echo "(exit $rc)"
  case $rc in 0|3) return 0 ;; *) return "$rc" ;; esac
}

# What the script started, stopped by pid on exit (success or failure).
groups=()      # process groups (setsid) of background servers
serve=""       # cove serve
pgdata=""      # the PostgreSQL cluster
deployed=""    # set once the data plane is touched
cleanup() {
  local rc=$?
  trap - EXIT
  set +e
  [ -n "$serve" ] && kill "$serve" 2>/dev/null && wait "$serve" 2>/dev/null
  if [ -n "$pgdata" ] && [ -f "$pgdata/data/postmaster.pid" ]; then
    runuser -u postgres -- "$pg/pg_ctl" stop -s -m fast -D "$pgdata/data" >/dev/null 2>&1 || true
  fi
  for g in "${groups[@]}"; do kill -- "-$g" 2>/dev/null || true; done
  if [ -n "$deployed" ]; then "$cove" destroy >/dev/null 2>&1 || true; fi
  [ -n "$pgdata" ] && rm -rf "$pgdata"
  if [ "$rc" != 0 ]; then echo "demo failed (exit $rc); everything it started is stopped" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
# Starts a command in the background in its own process group; records the group.
background() {
  setsid "$@" &
  groups+=("$!")
}

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
export COVE_PREFIX="${COVE_PREFIX:-demo}"
export COVE_STATE_DIR="${COVE_STATE_DIR:-${TMPDIR:-/tmp}/cove-demo-$COVE_PREFIX}"
deployed=1
"$cove" destroy >/dev/null 2>&1 || true
echo; echo "\$ cove plan -f $spec   # (kernel changes abridged)"
"$cove" plan -f "$spec" | sed -n '1,4p;/^reachability/,$p'
run apply -f "$spec"
run apply -f "$spec"
run status -f "$spec"
# A stand-in PostgreSQL port and SSH port on the database ENI, a web server on the
# internet stand-in (the outside namespace).
background "$cove" exec prod/db-1 -- timeout --foreground 60 socat TCP-LISTEN:5432,fork,reuseaddr SYSTEM:'echo db says hello to $SOCAT_PEERADDR' 2>/dev/null
db_socat=${groups[-1]}
background "$cove" exec prod/db-1 -- timeout --foreground 60 socat TCP-LISTEN:22,fork,reuseaddr SYSTEM:'echo ssh' 2>/dev/null
background ip netns exec "$COVE_PREFIX-outside" timeout --foreground 60 socat TCP-LISTEN:443,bind=198.51.100.1,fork,reuseaddr SYSTEM:'echo internet host sees you as $SOCAT_PEERADDR' 2>/dev/null
sleep 0.5
echo
echo "\$ cove exec functions/fn-a -- nc -w2 10.30.1.10 5432    # across the peering"
rc=0; "$cove" exec functions/fn-a -- nc -w2 10.30.1.10 5432 || rc=$?; echo "(exit $rc)"
echo
echo "\$ cove exec functions/fn-a -- nc -w2 10.30.1.10 22      # blocked"
rc=0; "$cove" exec functions/fn-a -- nc -w2 10.30.1.10 22 || rc=$?
echo "(exit $rc: no answer — the analyzer says why:)"
{ "$cove" check -f "$spec" --from functions/fn-a --to prod/db-1 --proto tcp --port 22 || true; } | tail -1
echo
echo "\$ cove exec functions/fn-b -- nc -w2 198.51.100.1 443   # out through the NAT gateway"
rc=0; "$cove" exec functions/fn-b -- nc -w2 198.51.100.1 443 || rc=$?; echo "(exit $rc)"

echo
echo "=== 3. functions ==="
# The runtime clients (awslambdaric, aws-lambda-ric, cove's Go/Ruby clients) and
# PostgreSQL; both are no-ops when installed.
bash scripts/install-runtimes.sh >/dev/null || { echo "installing the runtimes failed"; exit 1; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt-get install -y -qq postgresql >/dev/null
cargo build --release --locked -q -p cove-sandbox --bin cove-env-init
# The stand-in on port 5432 makes way for PostgreSQL.
kill -- "-$db_socat" 2>/dev/null || true; sleep 0.3
# A real PostgreSQL server on the database ENI (10.30.1.10) of the customer's VPC,
# trusting the platform VPC's addresses (its security group and NACL still decide).
pg=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
pgdata=$(mktemp -d); chown postgres "$pgdata"
runuser -u postgres -- "$pg/initdb" -A trust -U postgres -D "$pgdata/data" >/dev/null
echo "host all all 10.20.0.0/16 trust" >> "$pgdata/data/pg_hba.conf"
background "$cove" exec prod/db-1 -- runuser -u postgres -- "$pg/postgres" -D "$pgdata/data" \
    -c listen_addresses=10.30.1.10 -c unix_socket_directories="$pgdata" >/dev/null 2>&1
for _ in $(seq 50); do runuser -u postgres -- "$pg/pg_isready" -q -h "$pgdata" && break; sleep 0.2; done
run fn deploy orders --runtime python3.11 --handler app.handler --code examples/functions/orders \
  --subnets functions/private-a,functions/private-b --security-groups fn --env DB_HOST=10.30.1.10
run fn list
run fn invoke orders --payload '{"order": 42}'
run check --from fn:orders --to prod/db-1 --proto tcp --port 5432
# On a free port (the address is in the state directory once it listens).
addr_file="$COVE_STATE_DIR/$COVE_PREFIX/serve.addr"
rm -f "$addr_file"
"$cove" serve --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 >/dev/null 2>&1 &
serve=$!
for _ in $(seq 100); do [ -s "$addr_file" ] && break; sleep 0.1; done
addr=$(cat "$addr_file")
echo; echo "\$ curl -X POST http://$addr/2015-03-31/functions/orders/invocations -d '{\"order\": 43}'"
curl -sf -X POST "http://$addr/2015-03-31/functions/orders/invocations" -d '{"order": 43}'; echo
echo; echo "\$ curl http://$addr/url/orders/status?verbose=1     # a function URL"
body=$(curl -sf "http://$addr/url/orders/status?verbose=1"); echo "${body:0:600}"
kill "$serve"; wait "$serve" 2>/dev/null || true; serve=""
runuser -u postgres -- "$pg/pg_ctl" stop -s -m fast -D "$pgdata/data" >/dev/null 2>&1 || true
run destroy
deployed=""
