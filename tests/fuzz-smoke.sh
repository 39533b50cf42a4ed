#!/usr/bin/env bash
# Runs every cargo-fuzz target under fuzz/fuzz_targets for a short budget
# (FUZZ_SECONDS each, default 20), starting from the checked-in seeds and
# reproducers in fuzz/corpus/<target>/ (with fuzz/dicts/<target>.dict as
# its dictionary when there is one), so that no target rots. The corpus is
# copied to a temporary directory first: a run never grows the checked-in
# one. Fails if any target finds a crash, panic, leak, timeout or
# out-of-memory, or does not build; the input that failed is left in
# fuzz/artifacts/<target>/ (gitignored).
#
# Needs cargo-fuzz (installed from crates.io when missing) and a compiler
# that takes libFuzzer's unstable flags: the nightly toolchain when one is
# installed, else the machine's stable one with RUSTC_BOOTSTRAP=1 (a machine
# may have one toolchain and no way to fetch another). The build goes to
# CARGO_TARGET_DIR when it is set, else to fuzz/target (gitignored).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${FUZZ_SECONDS:-20}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"

# SYNOD_FUZZ_STABLE=1 takes the stable path even where nightly exists.
if [ -z "${SYNOD_FUZZ_STABLE:-}" ] && rustup run nightly rustc --version >/dev/null 2>&1; then
  toolchain=(+nightly)
else
  echo "fuzzing with the default toolchain and RUSTC_BOOTSTRAP=1 (no nightly, or SYNOD_FUZZ_STABLE)"
  toolchain=()
  export RUSTC_BOOTSTRAP=1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

targets=()
for f in fuzz_targets/*.rs; do
  targets+=("$(basename "$f" .rs)")
done

cargo ${toolchain[@]+"${toolchain[@]}"} fuzz build --target-dir "$target_dir"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=()
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  if [ -d "corpus/$t" ]; then
    cp -R "corpus/$t/." "$work/$t/"
  fi
  dict=()
  if [ -f "dicts/$t.dict" ]; then
    dict=(-dict="dicts/$t.dict")
  fi
  echo "-- $t: ${seconds} s from $(find "$work/$t" -type f | wc -l) inputs"
  if ! cargo ${toolchain[@]+"${toolchain[@]}"} fuzz run --target-dir "$target_dir" "$t" "$work/$t" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 ${dict[@]+"${dict[@]}"} \
      -print_final_stats=1 2>"$work/$t.log"; then
    tail -n 40 "$work/$t.log" >&2
    failed+=("$t")
    continue
  fi
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|^#[0-9]+ *DONE' "$work/$t.log" || true
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets failed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz smoke: ${#targets[@]} targets, ${seconds} s each, no failure"
