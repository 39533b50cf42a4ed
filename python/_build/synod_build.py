"""The PEP 517 build backend of the `synod` package: maturin's, plus the
`synod` command.

maturin builds the extension `synod._synod`; it cannot build a second Rust
target (the `synod` binary of the crate `synod-cli`) into a pyo3 wheel. So
before each wheel this backend builds that binary with cargo (release,
symbols stripped, `Cargo.lock` honoured) and stages it in the wheel's data
directory (`[tool.maturin] data`, `<repo>/target/python-wheel-data`), whose
`scripts/synod` pip installs as the environment's `bin/synod`: the compiled
CLI itself, no Python in between. Everything else is maturin's.

`python _build/synod_build.py` (from `python/`) stages the binary without
building a wheel, for `maturin build` / `maturin develop` run by hand.
The package builds from the repository (the CLI crate lives outside
`python/`), not from an sdist.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

import maturin
from maturin import (  # noqa: F401  (the rest of the PEP 517 interface)
    build_sdist,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

PYTHON_DIR = Path(__file__).resolve().parent.parent
ROOT = PYTHON_DIR.parent
#: `[tool.maturin] data` in pyproject.toml.
DATA_DIR = ROOT / "target" / "python-wheel-data"


def _log(message: str) -> None:
    print(f"synod build: {message}", file=sys.stderr, flush=True)


def stage_cli() -> Path:
    """Builds the `synod` binary and copies it to the wheel's scripts."""
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--locked"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
    )
    target = Path(json.loads(meta.stdout)["target_directory"])
    command = [
        "cargo", "rustc", "--release", "--locked", "-p", "synod-cli", "--bin", "synod",
        "--", "-C", "strip=symbols",
    ]
    _log("building the synod command: " + " ".join(command))
    subprocess.run(command, cwd=ROOT, check=True)
    built = target / "release" / "synod"
    scripts = DATA_DIR / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    staged = scripts / "synod"
    tmp = scripts / ".synod.tmp"
    shutil.copy2(built, tmp)
    os.chmod(tmp, 0o755)
    os.replace(tmp, staged)
    _log(f"staged {staged} ({staged.stat().st_size // 1024} KiB)")
    return staged


def build_wheel(
    wheel_directory: str,
    config_settings: Mapping[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    stage_cli()
    return maturin.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(
    wheel_directory: str,
    config_settings: Mapping[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    stage_cli()
    return maturin.build_editable(wheel_directory, config_settings, metadata_directory)


if __name__ == "__main__":
    stage_cli()
