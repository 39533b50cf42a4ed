#!/usr/bin/env bash
# Builds libsynod (the C ABI crate, bindings/c) in release mode and installs
#
#   PREFIX/lib/libsynod.so.X.Y.Z      SONAME libsynod.so.X, debug info stripped
#   PREFIX/lib/libsynod.so.X          -> libsynod.so.X.Y.Z
#   PREFIX/lib/libsynod.so            -> libsynod.so.X
#   PREFIX/lib/libsynod.a             debug info stripped
#   PREFIX/include/synod.h, synod.hpp
#   PREFIX/lib/pkgconfig/synod.pc     Libs.private: the system libraries
#                                     rustc reports libsynod.a needs
#   PREFIX/lib/cmake/synod/synodConfig.cmake, synodConfigVersion.cmake
#                                     targets synod::synod, synod::synod_shared,
#                                     synod::synod_static
#
# Usage: bash bindings/c/install.sh [--prefix DIR] [--help]
#   --prefix DIR  where to install (default /usr/local); a relative DIR is
#                 taken from the current directory
#   DESTDIR       (environment) staging root: files go to DESTDIR/PREFIX while
#                 synod.pc still names PREFIX, as packagers expect
#   CARGO, STRIP  (environment) the cargo and strip to run (default: on PATH)
#   CARGO_TARGET_DIR and the rest of cargo's environment are honoured.
#
# Running it again installs over the previous files (each file is replaced by
# a rename, so a running program keeps its mapped copy). See
# docs/packaging.md for the versioning rule, static linking and why this is a
# script rather than cargo-c.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

die() {
  echo "install.sh: $*" >&2
  exit 2
}

prefix=/usr/local
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix)
      [ $# -ge 2 ] || die "--prefix needs a directory (--prefix DIR)"
      prefix=$2
      shift 2
      ;;
    --prefix=*)
      prefix=${1#--prefix=}
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      die "unknown argument '$1' (usage: bash bindings/c/install.sh [--prefix DIR]; --help says more)"
      ;;
  esac
done
[ -n "$prefix" ] || die "--prefix needs a non-empty directory"
case "$prefix" in
  /*) ;;
  *) prefix="$PWD/$prefix" ;;
esac
# No trailing slash (and "/" stays "/"), so the .pc and messages read cleanly.
while [ "${#prefix}" -gt 1 ] && [ "${prefix%/}" != "$prefix" ]; do prefix=${prefix%/}; done
destdir=${DESTDIR:-}

cargo=${CARGO:-cargo}
strip=${STRIP:-strip}
for tool in "$cargo" "$strip" sed install; do
  command -v "$tool" >/dev/null || die "'$tool' is not on PATH (strip is in binutils)"
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

# The version is the crate's (the workspace's): path+file:///...#synod-c@0.1.0.
pkgid=$("$cargo" pkgid -p synod-c)
version=${pkgid##*#}
version=${version##*@}
case "$version" in
  [0-9]*.[0-9]*.[0-9]*) ;;
  *) die "cannot read the version from cargo pkgid: '$pkgid'" ;;
esac
major=${version%%.*}
soname="libsynod.so.$major"
shared_file="libsynod.so.$version"

metadata=$("$cargo" metadata --no-deps --format-version 1)
target_dir=$(printf '%s' "$metadata" | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[ -n "$target_dir" ] || die "cannot find cargo's target directory in 'cargo metadata'"
out="$target_dir/release"

# One build gives the cdylib, the staticlib and rustc's list of the system
# libraries the staticlib needs (native-static-libs). cargo replays the note
# when the crate is already built; it is also kept next to the artefacts.
echo "== building libsynod $version (cargo rustc --release -p synod-c)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
"$cargo" rustc --release -p synod-c --lib -- --print native-static-libs 2>&1 | tee "$log" >&2
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || die "the release build failed (cargo exited $rc)"
natives_file="$out/synod-native-static-libs.txt"
natives=$(sed -n 's/^note: native-static-libs: //p' "$log" | tail -n 1)
if [ -n "$natives" ]; then
  printf '%s\n' "$natives" >"$natives_file"
elif [ -f "$natives_file" ]; then
  natives=$(cat "$natives_file")
else
  die "rustc did not report native-static-libs; run cargo clean --release -p synod-c and try again"
fi
for f in libsynod.so libsynod.a; do
  [ -f "$out/$f" ] || die "$out/$f is missing after the build"
done
# The SONAME comes from bindings/c/build.rs; check it rather than trust it.
if command -v readelf >/dev/null; then
  got=$(readelf -d "$out/libsynod.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  [ "$got" = "$soname" ] || die "$out/libsynod.so has SONAME '$got', expected '$soname' (bindings/c/build.rs)"
fi

# CMake wants a list of library names: "-lpthread -lm" -> "pthread;m".
natives_cmake=
for word in $natives; do
  case "$word" in
    -l*) item=${word#-l} ;;
    *) item=$word ;;
  esac
  natives_cmake="${natives_cmake:+$natives_cmake;}$item"
done
sizeof_void_p=$(getconf LONG_BIT 2>/dev/null || echo 64)
sizeof_void_p=$((sizeof_void_p / 8))

dest="$destdir$prefix"
libdir="$dest/lib"
incdir="$dest/include"
pcdir="$libdir/pkgconfig"
cmakedir="$libdir/cmake/synod"
echo "== installing into ${destdir:+DESTDIR=$destdir }$prefix"
mkdir -p "$libdir" "$incdir" "$pcdir" "$cmakedir"

# put MODE SRC DEST: copy to a temporary name beside DEST, then rename over it.
put() {
  local mode=$1 src=$2 dst=$3 tmp
  tmp="$(dirname "$dst")/.$(basename "$dst").tmp.$$"
  install -m "$mode" "$src" "$tmp"
  mv -f "$tmp" "$dst"
}

# put_stripped MODE SRC DEST: the same, without debug sections.
put_stripped() {
  local mode=$1 src=$2 dst=$3 tmp
  tmp="$(dirname "$dst")/.$(basename "$dst").tmp.$$"
  rm -f "$tmp"
  "$strip" --strip-debug -o "$tmp" "$src"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dst"
}

# fill TEMPLATE DEST: substitute the @NAME@ placeholders (the prefix is
# escaped for sed: it may hold '&', '|' or '\').
fill() {
  local tmp prefix_sed
  tmp=$(mktemp)
  prefix_sed=$(printf '%s' "$prefix" | sed 's/[\\&|]/\\&/g')
  sed -e "s|@PREFIX@|$prefix_sed|g" \
    -e "s|@VERSION@|$version|g" \
    -e "s|@MAJOR@|$major|g" \
    -e "s|@SONAME@|$soname|g" \
    -e "s|@SONAME_MAJOR@|$major|g" \
    -e "s|@SHARED_FILE@|$shared_file|g" \
    -e "s|@NATIVE_STATIC_LIBS@|$natives|g" \
    -e "s|@NATIVE_STATIC_LIBS_CMAKE@|$natives_cmake|g" \
    -e "s|@SIZEOF_VOID_P@|$sizeof_void_p|g" \
    "$1" >"$tmp"
  if grep -q '@[A-Z_]*@' "$tmp"; then
    rm -f "$tmp"
    die "$1 has a placeholder install.sh does not fill"
  fi
  put 644 "$tmp" "$2"
  rm -f "$tmp"
}

put_stripped 755 "$out/libsynod.so" "$libdir/$shared_file"
ln -sfn "$shared_file" "$libdir/$soname"
ln -sfn "$soname" "$libdir/libsynod.so"
put_stripped 644 "$out/libsynod.a" "$libdir/libsynod.a"
put 644 include/synod.h "$incdir/synod.h"
put 644 bindings/cpp/synod.hpp "$incdir/synod.hpp"
fill bindings/c/pkg/synod.pc.in "$pcdir/synod.pc"
fill bindings/c/pkg/synodConfig.cmake.in "$cmakedir/synodConfig.cmake"
fill bindings/c/pkg/synodConfigVersion.cmake.in "$cmakedir/synodConfigVersion.cmake"

cat <<EOF
installed libsynod $version (SONAME $soname) into ${destdir:+DESTDIR=$destdir }$prefix
  $prefix/lib/$shared_file, $soname, libsynod.so, libsynod.a
  $prefix/include/synod.h, synod.hpp
  $prefix/lib/pkgconfig/synod.pc          Libs.private: $natives
  $prefix/lib/cmake/synod/synodConfig.cmake (synod::synod)
EOF
