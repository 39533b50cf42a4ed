#!/usr/bin/env bash
# Runs every test of Synod: Rust (core, C ABI incl. the C and C++ tests, Python
# extension build), the simulator's seed sweep, and the Python suite.
# Installs what it needs on a fresh machine (Debian packages via apt-get when
# run as root, Python packages into a venv under target/).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v gcc >/dev/null || need_apt+=(gcc)
command -v g++ >/dev/null || need_apt+=(g++)
command -v valgrind >/dev/null || need_apt+=(valgrind)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
  else
    echo "missing: ${need_apt[*]} (install them, or run as root)" >&2
    exit 1
  fi
fi

echo "== cargo test (workspace)"
cargo test --workspace --all-targets

if [ -f tests/python/run.sh ]; then
  echo "== python"
  bash tests/python/run.sh
fi
echo "== all tests passed"
