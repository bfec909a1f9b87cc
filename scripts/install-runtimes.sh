#!/usr/bin/env bash
# Installs cove's language runtimes into a runtime directory (mounted read-only at /opt
# inside every function sandbox):
#
#   DIR/python/   awslambdaric, boto3, the AWS CLI (+ pg8000 for the test functions), for Debian's
#                 /usr/bin/python3.11 via PYTHONPATH
#   DIR/node/     aws-lambda-ric (node_modules/aws-lambda-ric/bin/index.mjs), for
#                 Debian's /usr/bin/node (v20)
#   DIR/ruby/     bootstrap.rb, cove's standard-library Ruby client (runtimes/ruby)
#   DIR/go/       the Go package `cove.invalid/lambda` (runtimes/go/lambda), for
#                 building Go functions offline
#
# and the Debian packages the runtimes need (python3.11, python3-pip, nodejs, golang-go,
# ruby3.1, and the native build tools of aws-lambda-ric).
#
# Usage: scripts/install-runtimes.sh [DIR]     (default ${COVE_RUNTIME_DIR:-/var/lib/cove/runtimes})
#
# Idempotent: each component carries a stamp (pinned versions + hash of its sources);
# a component whose stamp matches is left alone, so a second run is a fast no-op. Each
# component is built in a temporary directory beside DIR and renamed into place, so an
# interrupted run leaves either the old component or none, never half of one; the next
# run removes the leftovers. Concurrent runs are serialized with a lock file.
set -euo pipefail

# Versions are pinned in runtimes/python/requirements.txt and runtimes/node/package-lock.json;
# these name them in messages.
AWSLAMBDARIC_VERSION=4.2.2
NODE_RIC_VERSION=3.3.0
NODE_MAJOR=20
RUBY_BIN=/usr/bin/ruby3.1
PYTHON_BIN=/usr/bin/python3.11
NODE_BIN=/usr/bin/node

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-${COVE_RUNTIME_DIR:-/var/lib/cove/runtimes}}
case "$dir" in /*) ;; *) dir="$(pwd)/$dir" ;; esac

say() { printf '%s\n' "$*"; }
die() { printf 'install-runtimes: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
t_start=$(now_ms)
elapsed() { echo "$(( $(now_ms) - $1 )) ms"; }

# --- Debian packages -----------------------------------------------------------------
# binary -> package; a package is installed only when its binary is missing.
need_apt=()
for pair in \
  "$PYTHON_BIN:python3.11" \
  "/usr/lib/python3/dist-packages/pip/__init__.py:python3-pip" \
  "$NODE_BIN:nodejs" \
  "/usr/bin/npm:npm" \
  "/usr/bin/go:golang-go" \
  "$RUBY_BIN:ruby3.1" \
  "/usr/bin/cmake:cmake" \
  "/usr/bin/autoconf:autoconf" \
  "/usr/bin/automake:automake" \
  "/usr/bin/libtoolize:libtool" \
  "/usr/bin/g++:g++" \
  "/usr/bin/make:make" \
  "/usr/bin/setpriv:util-linux"; do
  [ -e "${pair%%:*}" ] || need_apt+=("${pair#*:}")
done
if [ "${#need_apt[@]}" -gt 0 ]; then
  pkgs=$(printf '%s ' "${need_apt[@]}")
  [ "$(id -u)" = 0 ] || die "missing Debian packages: ${pkgs}; install them as root (apt-get install ${pkgs}) and run again"
  t=$(now_ms)
  say "apt: installing ${pkgs}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  say "apt: done ($(elapsed "$t"))"
fi
node_major=$("$NODE_BIN" -p 'process.versions.node.split(".")[0]')
[ "$node_major" = "$NODE_MAJOR" ] \
  || die "$NODE_BIN is Node $node_major; aws-lambda-ric $NODE_RIC_VERSION and cove's nodejs20 runtime need Node $NODE_MAJOR"

# --- runtime directory -----------------------------------------------------------------
# installed COMPONENT WANT: true when DIR/COMPONENT carries exactly the stamp WANT.
installed() { [ -f "$dir/$1/.cove-stamp" ] && [ "$(cat "$dir/$1/.cove-stamp")" = "$2" ]; }
# commit COMPONENT TMP WANT: stamp TMP and swap it into place.
commit() {
  printf '%s' "$3" >"$2/.cove-stamp"
  chmod -R a+rX "$2"
  if [ -e "$dir/$1" ]; then mv "$dir/$1" "$dir/.old-$1"; fi
  mv "$2" "$dir/$1"
  rm -rf "$dir/.old-$1"
}
# hash_tree DIR: a digest of every file under DIR (Go tests excluded: not installed).
hash_tree() {
  [ -d "$1" ] || die "$1 is missing (run this script from a cove checkout)"
  (cd "$1" && find . -type f ! -name '*_test.go' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}
want_python="python $(hash_tree "$repo/runtimes/python")"
want_node="node$NODE_MAJOR $(hash_tree "$repo/runtimes/node")"
want_ruby="ruby-bootstrap $(hash_tree "$repo/runtimes/ruby")"
want_go="go-lambda $(hash_tree "$repo/runtimes/go/lambda")"

# Fast path, read-only (works for users who may not write DIR).
if installed python "$want_python" && installed node "$want_node" \
  && installed ruby "$want_ruby" && installed go "$want_go"; then
  say "runtimes in $dir are up to date (python: awslambdaric $AWSLAMBDARIC_VERSION, node: aws-lambda-ric $NODE_RIC_VERSION, ruby: bootstrap.rb, go: cove.invalid/lambda; $(elapsed "$t_start"))"
  exit 0
fi

if [ ! -d "$dir" ]; then
  mkdir -p "$dir"
  chmod 755 "$dir"
fi
[ -w "$dir" ] || die "$dir is not up to date and not writable by $(id -un): run this script as root"
exec 9>"$dir/.install.lock"
flock 9
# Leftovers of an interrupted run (only ever created under the lock).
rm -rf "$dir"/.tmp-* "$dir"/.old-*

did=()

# Python: awslambdaric (binary wheels for CPython 3.11) and pg8000, every package pinned
# in runtimes/python/requirements.txt.
src="$repo/runtimes/python"
want=$want_python
if installed python "$want"; then
  say "python: awslambdaric $AWSLAMBDARIC_VERSION already installed"
else
  t=$(now_ms)
  tmp="$dir/.tmp-python"
  mkdir -p "$tmp"
  # Debian's pip for Debian's python3.11; --target installs are allowed by PEP 668.
  "$PYTHON_BIN" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --no-cache-dir --no-compile --no-deps --only-binary=:all: --target "$tmp" \
    -r "$src/requirements.txt"
  # Byte-compile now: the runtime dir is read-only in the sandbox.
  "$PYTHON_BIN" -m compileall -q "$tmp" >/dev/null || true
  commit python "$tmp" "$want"
  did+=("python")
  say "python: installed $(grep -c '==' "$src/requirements.txt") pinned packages (awslambdaric $AWSLAMBDARIC_VERSION, pg8000, boto3, awscli) into $dir/python ($(elapsed "$t"))"
fi

# Node: aws-lambda-ric 3.x (4.x needs Node 22), the whole tree pinned by
# runtimes/node/package-lock.json. Its install scripts build a native addon
# (aws-lambda-cpp and curl, from bundled sources; npm runs them without prompting).
src="$repo/runtimes/node"
want=$want_node
if installed node "$want"; then
  say "node: aws-lambda-ric $NODE_RIC_VERSION already installed"
else
  t=$(now_ms)
  tmp="$dir/.tmp-node"
  mkdir -p "$tmp"
  cp "$src/package.json" "$src/package-lock.json" "$tmp/"
  (cd "$tmp" && npm ci --no-audit --no-fund --omit=dev --loglevel=error >/dev/null)
  [ -f "$tmp/node_modules/aws-lambda-ric/bin/index.mjs" ] || die "npm did not install aws-lambda-ric's bin/index.mjs"
  [ -f "$tmp/node_modules/aws-lambda-ric/dist/rapid-client.node" ] \
    || die "aws-lambda-ric's native addon dist/rapid-client.node was not built (did npm skip its install scripts?)"
  # The addon links curl and aws-lambda-cpp statically: their unpacked sources (~150 MB)
  # are build leftovers.
  rm -rf "$tmp"/node_modules/aws-lambda-ric/deps/curl-* "$tmp"/node_modules/aws-lambda-ric/deps/aws-lambda-cpp-*
  commit node "$tmp" "$want"
  did+=("node")
  say "node: installed aws-lambda-ric $NODE_RIC_VERSION into $dir/node ($(elapsed "$t"))"
fi

# Ruby: cove's bootstrap (standard library only).
src="$repo/runtimes/ruby"
want=$want_ruby
if installed ruby "$want"; then
  say "ruby: bootstrap already installed"
else
  tmp="$dir/.tmp-ruby"
  mkdir -p "$tmp"
  cp "$src/bootstrap.rb" "$tmp/bootstrap.rb"
  commit ruby "$tmp" "$want"
  did+=("ruby")
  say "ruby: installed bootstrap.rb into $dir/ruby"
fi

# Go: cove's Lambda package (standard library only), for `replace` directives.
src="$repo/runtimes/go/lambda"
want=$want_go
if installed go "$want"; then
  say "go: package cove.invalid/lambda already installed"
else
  tmp="$dir/.tmp-go"
  mkdir -p "$tmp/lambda"
  (cd "$src" && find . -type f ! -name '*_test.go' -exec cp --parents {} "$tmp/lambda/" \;)
  commit go "$tmp" "$want"
  did+=("go")
  say "go: installed package cove.invalid/lambda into $dir/go/lambda"
fi

if [ "${#did[@]}" -eq 0 ]; then
  say "runtimes in $dir are up to date ($(elapsed "$t_start"))"
else
  say "installed ${did[*]} in $dir ($(elapsed "$t_start"))"
fi
