#!/usr/bin/env bash
# The main job on the shipped example:
#  1. the analyzer: validate the Secure Compute spec, explain reachable and blocked
#     flows, print the reachability matrix, import a real AWS export;
#  2. the data plane (as root): apply the spec to this host's kernel, open a real
#     connection from a function across the peering to the database, show a blocked
#     port with the analyzer's explanation, show outbound traffic leaving from the
#     NAT gateway's static IP, then destroy everything.
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
run destroy
