#!/usr/bin/env bash
# Analyzer benchmark: 1,000 VPCs, 10,000 ENIs, ~100,000 SG rules + NACL entries.
# Prints per-query percentiles (indexed vs naive, same flows, same run), the matrix
# timings, then criterion's estimates. Figures go to docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --locked -p cove-analyze --bench analyzer -- --warm-up-time 1 --measurement-time 5 "$@"
