#!/usr/bin/env bash
# Checks bindings/c/install.sh end to end: installs libsynod into a fresh
# temporary prefix and checks what a packager and a host program rely on:
#
#   - the files, the symlinks libsynod.so -> libsynod.so.X -> libsynod.so.X.Y.Z,
#     the SONAME libsynod.so.X, no debug sections in the .so, the headers
#     identical to the repository's, refusal of unknown flags, an idempotent
#     second install, and a DESTDIR install that still names its PREFIX;
#   - tests/install/consumer.c built three ways: pkg-config shared (run with
#     LD_LIBRARY_PATH), pkg-config --static (libsynod.so not needed), and
#     CMake find_package(synod) with synod::synod (shared, and static with
#     SYNOD_USE_STATIC_LIBS); tests/install/consumer.cpp through synod.hpp;
#     each program's output compared line by line with what it must print;
#   - the CMake version file: 0.x accepts a request for an older 0.x, refuses
#     a newer minor and another major.
#
# Installs cmake, pkg-config, a C/C++ toolchain, make and binutils with
# apt-get when missing (as root). Uses CARGO_TARGET_DIR like cargo does.
# Usage: bash tests/install-check.sh   (exit 0: every check passed)
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cmake >/dev/null || need_apt+=(cmake)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v gcc >/dev/null || need_apt+=(gcc)
command -v g++ >/dev/null || need_apt+=(g++)
command -v make >/dev/null || need_apt+=(make)
{ command -v readelf >/dev/null && command -v strip >/dev/null && command -v nm >/dev/null; } || need_apt+=(binutils)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== apt-get install ${need_apt[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "missing: ${need_apt[*]} (install them, or run as root)" >&2
    exit 1
  fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
lib="$prefix/lib"

fails=0
ok() { echo "  ok   $*"; }
fail() {
  echo "  FAIL $*" >&2
  fails=$((fails + 1))
}
# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
  local what=$1
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
# present DESCRIPTION REGEX TEXT / absent ...: TEXT has (lacks) a line
# matching the extended REGEX.
present() { if grep -Eq -- "$2" <<<"$3"; then ok "$1"; else fail "$1"; fi; }
absent() { if grep -Eq -- "$2" <<<"$3"; then fail "$1"; else ok "$1"; fi; }
# same_text DESCRIPTION WANT GOT
same_text() {
  if [ "$2" = "$3" ]; then
    ok "$1"
  else
    fail "$1"
    diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/         /' >&2 || true
  fi
}

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
soname="libsynod.so.$major"
echo "== libsynod $version: expecting SONAME $soname"

echo "== install.sh refuses what it does not know"
if out=$(bash bindings/c/install.sh --prefix "$tmp/never" --frobnicate 2>&1); then
  fail "an unknown flag was accepted"
else
  present "unknown flag: clear message" "unknown argument '--frobnicate'" "$out"
fi
if out=$(bash bindings/c/install.sh --prefix 2>&1); then
  fail "--prefix without a directory was accepted"
else
  present "--prefix without a directory: clear message" "--prefix needs a directory" "$out"
fi
check "nothing installed by a refused call" test ! -e "$tmp/never"
help=$(bash bindings/c/install.sh --help)
present "--help describes --prefix" "--prefix DIR" "$help"
present "--help describes DESTDIR" "DESTDIR" "$help"

echo "== install into a fresh prefix"
start=$SECONDS
bash bindings/c/install.sh --prefix "$prefix"
echo "   (install took $((SECONDS - start)) s)"

check "lib/libsynod.so.$version is a regular file" test -f "$lib/libsynod.so.$version" -a ! -L "$lib/libsynod.so.$version"
same_text "libsynod.so.$major -> libsynod.so.$version" "libsynod.so.$version" "$(readlink "$lib/$soname" || true)"
same_text "libsynod.so -> libsynod.so.$major" "$soname" "$(readlink "$lib/libsynod.so" || true)"
check "lib/libsynod.a" test -f "$lib/libsynod.a"
same_text "SONAME of the installed .so" "$soname" \
  "$(readelf -d "$lib/libsynod.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
sections=$(readelf -S -W "$lib/libsynod.so.$version")
absent "installed .so has no .debug_info (nor any .debug_* section)" '\.debug_' "$sections"
present "installed .so keeps its symbol table (.symtab)" '\.symtab' "$sections"
present "installed .so exports synod_version_string" ' T synod_version_string$' \
  "$(nm -D --defined-only "$lib/libsynod.so.$version")"
absent "libsynod.a has no .debug_info" '\.debug_info' "$(readelf -S -W "$lib/libsynod.a" 2>/dev/null)"
present "libsynod.a defines synod_version_string" ' T synod_version_string$' \
  "$(nm --defined-only "$lib/libsynod.a" 2>/dev/null)"
check "include/synod.h is the repository's" cmp -s include/synod.h "$prefix/include/synod.h"
check "include/synod.hpp is the repository's" cmp -s bindings/cpp/synod.hpp "$prefix/include/synod.hpp"
check "lib/pkgconfig/synod.pc" test -f "$lib/pkgconfig/synod.pc"
check "lib/cmake/synod/synodConfig.cmake" test -f "$lib/cmake/synod/synodConfig.cmake"
check "lib/cmake/synod/synodConfigVersion.cmake" test -f "$lib/cmake/synod/synodConfigVersion.cmake"

export PKG_CONFIG_PATH="$lib/pkgconfig"
same_text "pkg-config --modversion synod" "$version" "$(pkg-config --modversion synod)"
same_text "pkg-config --libs synod" "-L$lib -lsynod" "$(pkg-config --libs synod | sed "s/ *$//")"
static_libs=$(pkg-config --static --libs synod)
private=$(sed -n 's/^Libs.private: *//p' "$lib/pkgconfig/synod.pc")
present "Libs.private lists native libraries (got: '$private')" '-lpthread' "$private"
present "pkg-config --static --libs adds Libs.private" "-lsynod .*-lpthread" "$static_libs"

echo "== the consumer through pkg-config"
expected_c="version $version
identity CN=node-a, O=Synod
refused SYNOD_ERR_INVALID_IDENTITY: subject: identity is empty
node CN=node-a leader=1 members=1 first=CN=node-a@127.0.0.1:7400
consumer ok"
expected_cpp="version $version
identity CN=node-b
refused SYNOD_ERR_INVALID_IDENTITY: subject: identity is empty
consumer++ ok"

# needs BINARY: the DT_NEEDED entries of BINARY, one per line.
needs() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

warn=(-Wall -Wextra -Werror)
# compile DESCRIPTION COMMAND...: runs the compiler; a failure is a failed
# check (with the compiler's output) and skips what depends on the program.
compile() {
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then
    ok "$what: builds"
  else
    fail "$what: builds"
    printf '%s\n' "$out" | sed 's/^/         /' >&2
    return 1
  fi
}

# shellcheck disable=SC2046  # pkg-config's output is meant to be split
if compile "shared" gcc -std=c11 "${warn[@]}" tests/install/consumer.c -o "$tmp/c-shared" \
  $(pkg-config --cflags --libs synod); then
  present "shared: the program needs $soname (the SONAME, not libsynod.so)" "^$soname\$" "$(needs "$tmp/c-shared")"
  present "shared: ldd resolves $soname to the prefix" "$soname => $lib/$soname" \
    "$(LD_LIBRARY_PATH="$lib" ldd "$tmp/c-shared")"
  same_text "shared: output" "$expected_c" "$(LD_LIBRARY_PATH="$lib" "$tmp/c-shared" 2>&1 || echo "exit $?")"
fi

# Static: pkg-config --static gives -lsynod plus Libs.private; with both
# libsynod.so and libsynod.a in libdir the linker must be told to take the
# archive for -lsynod (docs/packaging.md).
static_link=${static_libs/-lsynod/-Wl,-Bstatic -lsynod -Wl,-Bdynamic}
# shellcheck disable=SC2046,SC2086
if compile "static" gcc -std=c11 "${warn[@]}" tests/install/consumer.c -o "$tmp/c-static" \
  $(pkg-config --cflags synod) $static_link; then
  absent "static: the program does not need libsynod" libsynod "$(needs "$tmp/c-static")"
  absent "static: ldd shows no libsynod" libsynod "$(ldd "$tmp/c-static")"
  same_text "static: output (no LD_LIBRARY_PATH)" "$expected_c" \
    "$(env -u LD_LIBRARY_PATH "$tmp/c-static" 2>&1 || echo "exit $?")"
fi

# shellcheck disable=SC2046
if compile "C++" g++ -std=c++17 "${warn[@]}" tests/install/consumer.cpp -o "$tmp/cpp-shared" \
  $(pkg-config --cflags --libs synod); then
  present "C++: the program needs $soname" "^$soname\$" "$(needs "$tmp/cpp-shared")"
  same_text "C++ (synod.hpp): output" "$expected_cpp" \
    "$(LD_LIBRARY_PATH="$lib" "$tmp/cpp-shared" 2>&1 || echo "exit $?")"
fi

echo "== the consumer through CMake find_package(synod)"
for kind in shared static; do
  build="$tmp/cmake-$kind"
  use_static=OFF
  [ "$kind" = static ] && use_static=ON
  if ! cmake -S tests/install -B "$build" -DCMAKE_PREFIX_PATH="$prefix" -DSYNOD_USE_STATIC_LIBS=$use_static \
    -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror" >"$build.log" 2>&1 \
    || ! cmake --build "$build" -j 2 >>"$build.log" 2>&1; then
    fail "CMake $kind: configure and build (log follows)"
    sed 's/^/         /' "$build.log" >&2
    continue
  fi
  ok "CMake $kind: configure and build"
  present "CMake $kind: found the installed package" "found synod $version at $lib/libsynod.so.$version" "$(cat "$build.log")"
  if [ "$kind" = shared ]; then
    present "CMake shared: the program needs $soname" "^$soname\$" "$(needs "$build/consumer")"
    # CMake gives the build-tree program an RPATH to the prefix's lib.
    present "CMake shared: ldd resolves $soname to the prefix" "$soname => $lib/" "$(ldd "$build/consumer")"
  else
    absent "CMake static: the programs do not need libsynod" libsynod \
      "$(needs "$build/consumer"; needs "$build/consumer_cpp")"
  fi
  same_text "CMake $kind: C output" "$expected_c" "$(env -u LD_LIBRARY_PATH "$build/consumer" 2>&1 || echo "exit $?")"
  same_text "CMake $kind: C++ output" "$expected_cpp" "$(env -u LD_LIBRARY_PATH "$build/consumer_cpp" 2>&1 || echo "exit $?")"
done

echo "== the CMake version rule"
mkdir -p "$tmp/cmake-version"
cat >"$tmp/cmake-version/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.13)
project(synod_version_probe NONE)
find_package(synod ${WANT} QUIET)
message(STATUS "synod_FOUND=${synod_FOUND}")
EOF
# probe WANT: prints TRUE or FALSE (find_package's verdict for that request).
probe() {
  rm -rf "$tmp/cmake-version/build"
  cmake -S "$tmp/cmake-version" -B "$tmp/cmake-version/build" -DCMAKE_PREFIX_PATH="$prefix" -DWANT="$1" 2>&1 \
    | sed -n 's/.*synod_FOUND=\([A-Za-z0-9]*\).*/\1/p'
}
bad_minor="$major.$((minor + 1))"
other_major="$((major + 1)).0"
same_text "find_package(synod $major.$minor) is found" "1" "$(probe "$major.$minor")"
if [ "$minor" -gt 0 ]; then same_text "find_package(synod $major.0) is found" "1" "$(probe "$major.0")"; fi
same_text "find_package(synod $bad_minor) is not found" "0" "$(probe "$bad_minor")"
same_text "find_package(synod $other_major) is not found" "0" "$(probe "$other_major")"

echo "== a second install into the same prefix"
listing() { (cd "$prefix" && find . -printf '%y %p %l\n' | sort); }
before=$(listing)
so_before=$(cksum <"$lib/libsynod.so.$version")
bash bindings/c/install.sh --prefix "$prefix" >/dev/null 2>&1
same_text "same files, links and targets" "$before" "$(listing)"
same_text "same libsynod.so.$version" "$so_before" "$(cksum <"$lib/libsynod.so.$version")"
same_text "the shared consumer still runs" "$expected_c" "$(LD_LIBRARY_PATH="$lib" "$tmp/c-shared" 2>&1 || echo "exit $?")"

echo "== DESTDIR"
stage="$tmp/stage"
staged_prefix="$tmp/opt/synod"
DESTDIR="$stage" bash bindings/c/install.sh --prefix "$staged_prefix" >/dev/null 2>&1
check "files land under DESTDIR/PREFIX" test -f "$stage$staged_prefix/lib/libsynod.so.$version"
check "nothing is written to PREFIX itself" test ! -e "$staged_prefix"
same_text "synod.pc names PREFIX, not DESTDIR" "prefix=$staged_prefix" \
  "$(grep '^prefix=' "$stage$staged_prefix/lib/pkgconfig/synod.pc")"
same_text "the staged .so has the SONAME" "$soname" \
  "$(readelf -d "$stage$staged_prefix/lib/libsynod.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"

if [ "$fails" -gt 0 ]; then
  echo "== install-check: $fails check(s) FAILED" >&2
  exit 1
fi
echo "== install-check: every check passed"
