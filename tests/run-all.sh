#!/usr/bin/env bash
# Runs every test of Synod: Rust (core, C ABI incl. the C and C++ tests, Python
# extension build), the simulator's seed sweep, a short run of every fuzz
# target, and the Python suite.
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

echo "== simulator: 20,000 seeds with the release build"
cargo build --release --quiet --bin synod
./target/release/synod sim --seeds 20000 --start 1000000
for m in $(./target/release/synod sim --list-mutants); do
  # A mutant must be caught in at least 10% of 300 seeds (the sweep exits
  # non-zero and its last line reads "300 seeds, N violations").
  if out=$(./target/release/synod sim --seeds 300 --mutant "$m" 2>/dev/null); then
    echo "mutant $m was NOT caught: $(echo "$out" | tail -n 1)" >&2
    exit 1
  fi
  last=$(echo "$out" | tail -n 1)
  caught=$(echo "$last" | sed -n 's/^300 seeds, \([0-9]*\) violations$/\1/p')
  if [ -z "$caught" ] || [ "$caught" -lt 30 ]; then
    echo "mutant $m caught in fewer than 30 of 300 seeds: $last" >&2
    exit 1
  fi
  echo "mutant $m caught: $last"
done

echo "== chaos: 60 s of kills, pauses and partitions on 5 member processes"
./target/release/synod chaos --seconds 60 --members 5

echo "== install: libsynod into a fresh prefix, linked with pkg-config and CMake"
bash tests/install-check.sh

echo "== fuzz: every cargo-fuzz target for 20 s from its checked-in corpus"
bash tests/fuzz-smoke.sh

if [ -f tests/python/run.sh ]; then
  echo "== python"
  bash tests/python/run.sh
fi
echo "== all tests passed"
