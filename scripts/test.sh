#!/usr/bin/env bash
# Runs every check and test of cove on a fresh machine (root, Debian, Rust).
# Installs what the tests need, then: format check, clippy -D warnings, all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the data-plane tests use: nft (cove's firewall batches), ip (tests
# inspect and break things on purpose), ping/socat/nc (traffic in the host tests),
# dnsmasq (the upstream resolver of the private DNS tests) and dig (their client).
need_apt=()
# chromium and chromedriver drive the closed-network example's and the web console's
# browser tests (crates/cove/tests/closed_network.rs, console.rs), curl their HTTP
# checks.
for pair in nft:nftables ip:iproute2 ping:iputils-ping socat:socat nc:netcat-openbsd timeout:coreutils conntrack:conntrack dnsmasq:dnsmasq-base dig:dnsutils chromium:chromium chromedriver:chromium-driver curl:curl; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need_apt+=("${pair#*:}")
done
# PostgreSQL server binaries: the Python test function's `pg` op (cove-runtimes tests) and
# the store's tests (cove-store, against SQLite and PostgreSQL).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
# The sandbox tests run Debian's Python as the unprivileged user (a Python under
# /root is not readable by it).
[ -x /usr/bin/python3 ] || need_apt+=(python3)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
  else
    echo "missing packages ${need_apt[*]} and not root: install them first" >&2
    exit 1
  fi
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true

# boto3 and the AWS CLI v1 drive the Lambda fidelity test (crates/cove/tests/lambda_fidelity.rs).
python3 -c 'import boto3' 2>/dev/null && command -v aws >/dev/null \
  || python3 -m pip install -q --break-system-packages boto3==1.43.11 awscli==1.45.11
# Selenium drives Debian's chromium in the closed-network example's and the web
# console's browser tests.
python3 -c 'import selenium' 2>/dev/null \
  || python3 -m pip install -q --break-system-packages selenium==4.27.1
# Prometheus's own Python client parses `cove serve`'s /metrics (crates/cove/tests/metrics.rs).
python3 -c 'import prometheus_client' 2>/dev/null \
  || python3 -m pip install -q --break-system-packages prometheus-client==0.23.1

# The language runtimes the cove-runtimes client tests run (idempotent; a no-op when
# installed).
echo "== scripts/install-runtimes.sh"
bash scripts/install-runtimes.sh

# The console's vendored htmx is exactly the file npm's lockfile pins (the build
# itself needs no npm: the file is in the repository).
echo "== console assets against crates/cove-console/web/package-lock.json"
bash scripts/check-console-assets.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
# One throwaway PostgreSQL for the whole run (the store's tests run against SQLite and
# it); a COVE_TEST_POSTGRES_URL already set is used instead.
if [ -z "${COVE_TEST_POSTGRES_URL:-}" ]; then
  pg_env=$(bash scripts/pg-throwaway.sh start --watch-pid $$)
  eval "$pg_env"
fi
# The AWS snapshot tests need ../shared/aws-snapshots (CI clones shared/ beside the repo).
log=$(mktemp)
trap 'rm -f "$log"; [ -z "${COVE_PG_THROWAWAY_DIR:-}" ] || bash scripts/pg-throwaway.sh stop "$COVE_PG_THROWAWAY_DIR"' EXIT
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log"
passed=$(grep -Eo '^test result: ok\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
echo "${passed} passed, ${failed} failed"
