#!/usr/bin/env bash
# The main job on the shipped example: validate the Secure Compute spec, then ask the
# analyzer about real flows (a database over peering, a blocked port, the internet
# through the NAT gateway's static IPs, an unpeered VPC), print the reachability
# matrix, and import a real AWS export.
set -uo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p cove
cove=target/release/cove
spec=examples/secure-compute.yaml
run() { echo; echo "\$ cove $*"; "$cove" "$@"; echo "(exit $?)"; }
run validate -f "$spec"
run check -f "$spec" --from functions/fn-a --to prod/db-1 --proto tcp --port 5432
run check -f "$spec" --from functions/fn-a --to prod/db-1 --proto tcp --port 22
run check -f "$spec" --from functions/fn-b --to internet --proto tcp --port 443
run check -f "$spec" --from functions/fn-a --to 10.40.1.10 --proto icmp
run check -f "$spec" --from prod/app-1 --to functions/fn-a --proto tcp --port 8080
run matrix -f "$spec" --ports tcp/5432,tcp/443
snap=../shared/aws-snapshots/batfish/test-vpc-peering
if [ -d "$snap" ]; then
  run import aws "$snap" -o target/imported.yaml
  run validate -f target/imported.yaml
fi
