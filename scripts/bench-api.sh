#!/usr/bin/env bash
# API GET latency at a fixed rate, with a baseline in the same run: `GET /healthz`
# (touches nothing) and `GET /v1/connect/networks` (token check, a generation query,
# the tenant's 10 networks; also on a server whose reads may be 100 ms stale)
# alternately, each at API_RATE requests/s for API_SECS
# seconds, API_ROUNDS rounds, against a release build of the API on a fresh SQLite
# store (crates/cove-api/examples/bench_server.rs), 127.0.0.1 only.
#
# Needs `oha` (cargo install oha --locked; not installed by this script).
#   API_RATE=1000 API_SECS=10 API_ROUNDS=3 bash scripts/bench-api.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${API_RATE:-1000}
SECS=${API_SECS:-10}
ROUNDS=${API_ROUNDS:-3}
command -v oha >/dev/null || { echo "oha is not installed: cargo install oha --locked" >&2; exit 1; }
cargo build --release -q -p cove-api --example bench_server
BIN=${CARGO_TARGET_DIR:-target}/release/examples/bench_server
DIR=$(mktemp -d /tmp/cvap-benchapi.XXXXXX)
OUT="$DIR/out"
"$BIN" "$DIR/store" 0 >"$OUT" 2>"$DIR/err" &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
for _ in $(seq 1 300); do grep -q '^listening=' "$OUT" 2>/dev/null && break; sleep 0.1; done
grep -q '^listening=' "$OUT" || { cat "$DIR/err" >&2; exit 1; }
ADDR=$(sed -n 's/^listening=//p' "$OUT")
STALE=$(sed -n 's/^listening_stale=//p' "$OUT")
TOKEN=$(sed -n 's/^token=//p' "$OUT")
run() { # addr path -> "p50_ms p99_ms success_rate requests"
  oha --no-tui -q "$RATE" -z "${SECS}s" --output-format json \
      -H "authorization: Bearer $TOKEN" "http://$1$2" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); p=d["latencyPercentiles"]; s=d["summary"]; print("%.3f %.3f %.4f %d" % (p["p50"]*1e3, p["p99"]*1e3, s["successRate"], sum(d["statusCodeDistribution"].values())))'
}
echo "rate=${RATE}/s secs=${SECS} rounds=${ROUNDS} ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-6s %-36s %10s %10s %8s %8s\n' round path p50_ms p99_ms ok reqs
for r in $(seq 1 "$ROUNDS"); do
  for case in "$ADDR /healthz" "$ADDR /v1/connect/networks" "$STALE /v1/connect/networks"; do
    read -r addr path <<<"$case"
    label=$path; [ "$addr" = "$STALE" ] && label="$path (100 ms stale)"
    read -r p50 p99 ok n < <(run "$addr" "$path")
    printf '%-6s %-36s %10s %10s %8s %8s\n' "$r" "$label" "$p50" "$p99" "$ok" "$n"
  done
done
