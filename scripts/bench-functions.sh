#!/usr/bin/env bash
# Function benchmarks (issue 4): cold start of a trivial Python handler in a VPC slot
# vs with no network, and warm invoke overhead against a raw HTTP echo, in one run.
# Needs root and the runtime clients (installed here if missing).
#   FN_COLD_N=30 FN_WARM_N=2000 bash scripts/bench-functions.sh
#
# With FN_BASELINE=<commit> it instead compares the cold start (VPC slot) of this
# tree with that commit's, in one run: the baseline is built in a temporary git
# worktree with a target directory of its own (cargo hashes a workspace member by
# its path relative to the workspace, so two checkouts sharing one target directory
# would mix their crates) and rounds of both benches
# alternate, FN_COLD_N cold starts each per round, FN_ROUNDS rounds (issue 9: the
# isolated environment against 31e04fe, before it):
#   FN_BASELINE=31e04fe FN_ROUNDS=6 FN_COLD_N=5 bash scripts/bench-functions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-runtimes.sh >/dev/null
build() {
  cargo build --release -p cove-sandbox --bin cove-env-init -p cove-runtimes --bin cove-fixture-provided
  cargo bench --no-run -p cove-scheduler --bench functions
}
if [ -z "${FN_BASELINE:-}" ]; then
  build
  cargo bench -p cove-scheduler --bench functions
  exit 0
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
base=$(mktemp -d /tmp/cove-bench-base.XXXXXX)
samples=$(mktemp /tmp/cove-bench-samples.XXXXXX)
trap 'git worktree remove --force "$base"; rm -f "$samples"' EXIT
git worktree add --detach "$base" "$FN_BASELINE" >/dev/null
# The baseline's bench, taught to print its samples and to take its init from FN_INIT
# (the same two lines this tree's bench has).
sed -i -e 's|^\( *\)series.entry(which).or_default().push(d);|\1eprintln!("SAMPLE {which} {}", d.as_nanos());\n&|' \
  -e 's|let init = target_release().join("cove-env-init");|let init = std::env::var_os("FN_INIT").map(PathBuf::from).unwrap_or_else(\|\| target_release().join("cove-env-init"));|' \
  "$base/crates/cove-scheduler/benches/functions.rs"
base_target="$CARGO_TARGET_DIR/bench-baseline"
(cd "$base" && CARGO_TARGET_DIR="$base_target" build)
cp "$base_target/release/cove-env-init" "$base/cove-env-init"
build
for round in $(seq "${FN_ROUNDS:-6}"); do
  for which in after before; do
    dir=.; init="$CARGO_TARGET_DIR/release/cove-env-init"; target="$CARGO_TARGET_DIR"
    if [ "$which" = before ]; then dir="$base"; init="$base/cove-env-init"; target="$base_target"; fi
    (cd "$dir" && CARGO_TARGET_DIR="$target" FN_INIT="$init" FN_WARM_N=1 FN_COLD_N="${FN_COLD_N:-5}" \
      cargo bench -q -p cove-scheduler --bench functions 2>&1 >/dev/null) |
      sed -n "s/^SAMPLE vpc /$which /p" >> "$samples"
  done
  echo "round $round done"
done
python3 - "$samples" "$FN_BASELINE" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
def pct(v, p):
    v = sorted(v)
    return v[max(1, -(-len(v) * p // 100)) - 1] / 1e6
s = {w: [int(n) for k, n in rows if k == w] for w in ("before", "after")}
print(f"cold start, VPC slot, trivial Python handler ({len(s['after'])} after / {len(s['before'])} before, alternating rounds)")
print("| build | p50 | p90 |")
print("|---|---|---|")
for w, name in (("before", f"baseline {sys.argv[2]}"), ("after", "this tree")):
    print(f"| {name} | {pct(s[w], 50):.1f} ms | {pct(s[w], 90):.1f} ms |")
print(f"ratio after / before: p50 {pct(s['after'], 50) / pct(s['before'], 50):.3f}, p90 {pct(s['after'], 90) / pct(s['before'], 90):.3f}")
PY
