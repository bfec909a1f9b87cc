#!/usr/bin/env bash
# Function benchmarks (issue 4): cold start of a trivial Python handler in a VPC slot
# vs with no network, and warm invoke overhead against a raw HTTP echo, in one run.
# Needs root and the runtime clients (installed here if missing).
#   FN_COLD_N=30 FN_WARM_N=2000 bash scripts/bench-functions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-runtimes.sh >/dev/null
cargo build --release -p cove-sandbox --bin cove-env-init -p cove-runtimes --bin cove-fixture-provided
cargo bench -p cove-scheduler --bench functions
