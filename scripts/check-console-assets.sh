#!/usr/bin/env bash
# Checks that the web console's vendored third-party files are exactly what npm's
# lockfile (crates/cove-console/web/package-lock.json) installs — `npm ci` verifies
# the packages' integrity hashes — and, with --update, copies them into
# crates/cove-console/assets/vendor/ (after changing package.json:
# `npm install --package-lock-only` in web/, then this with --update).
#   bash scripts/check-console-assets.sh [--update]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v npm >/dev/null || apt-get install -y -qq npm >/dev/null
web=crates/cove-console/web
vendor=crates/cove-console/assets/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$web/package.json" "$web/package-lock.json" "$tmp/"
(cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --silent)
for pair in htmx.org/dist/htmx.min.js:htmx.min.js htmx.org/LICENSE:htmx.LICENSE; do
  from=$tmp/node_modules/${pair%%:*}
  to=$vendor/${pair##*:}
  if [ "${1:-}" = --update ]; then
    cp "$from" "$to"
  elif ! cmp -s "$from" "$to"; then
    echo "$to differs from the lockfile's ${pair%%:*}: run bash scripts/check-console-assets.sh --update" >&2
    exit 1
  fi
done
echo "console assets match the lockfile"
