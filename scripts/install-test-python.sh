#!/usr/bin/env bash
# Installs the official Python Lambda runtime interface client (awslambdaric) that
# cove-runtime-api's real-client test drives, into a directory of its own (no venv, no
# change to the system Python). Idempotent: does nothing when it is already there.
# Prints the directory; the test finds it through COVE_TEST_PYTHON_RIC or, by default,
# at <target dir>/python-ric.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
dest="${COVE_TEST_PYTHON_RIC:-$target_dir/python-ric}"
python="${PYTHON:-python3}"
if PYTHONPATH="$dest" "$python" -c 'import awslambdaric' >/dev/null 2>&1; then
  echo "$dest"
  exit 0
fi
mkdir -p "$dest"
# A prebuilt wheel only: building awslambdaric from source needs a C++ toolchain and
# autotools. 4.x ships manylinux wheels for CPython 3.11.
"$python" -m pip install --quiet --disable-pip-version-check --no-input \
  --only-binary=:all: --target "$dest" 'awslambdaric>=4,<5' >&2
PYTHONPATH="$dest" "$python" -c 'import awslambdaric' >&2
echo "$dest"
