"""The package face: re-exports, version, typing marker, thread safety."""

import os
import subprocess
import sys
import threading
import tomllib
from importlib import resources
from pathlib import Path

import synod
import synod._synod

ROOT = Path(__file__).resolve().parents[2]


def test_version_is_the_crate_version() -> None:
    with open(ROOT / "Cargo.toml", "rb") as f:
        cargo = tomllib.load(f)
    assert synod.__version__ == cargo["workspace"]["package"]["version"]
    assert synod.__version__ == synod._synod.__version__


def test_the_package_re_exports_the_extension() -> None:
    assert set(synod._synod.__all__) <= set(synod.__all__)
    assert set(synod.__all__) - set(synod._synod.__all__) == {"Entry"}
    for name in synod._synod.__all__:
        assert getattr(synod, name) is getattr(synod._synod, name), name
    assert "_scripted_node" not in synod._synod.__all__, "the test hook is not exported"
    for name in ("Node", "Admit", "OwnershipTransition", "Commit", "FenceStatus"):
        assert getattr(synod, name).__module__ == "synod._synod"


def test_the_package_is_typed() -> None:
    files = resources.files("synod")
    assert files.joinpath("py.typed").is_file()
    assert files.joinpath("_synod.pyi").is_file()


def test_a_node_can_be_shared_between_threads() -> None:
    with synod.Node.single("CN=a", "h:1") as node:
        commits: list[synod.Commit] = []
        lock = threading.Lock()

        def work(i: int) -> None:
            for epoch in range(1, 21):
                c = node.propose(synod.OwnershipTransition(f"r{i}", "CN=a", epoch))
                with lock:
                    commits.append(c)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(commits) == 160
        assert sorted(c.index for c in commits) == list(range(2, 162)), "each index once"
        for i in range(8):
            owner = node.owner(f"r{i}")
            assert owner is not None and owner.epoch == 20


def test_the_synod_command_is_installed_with_the_package() -> None:
    """`pip install ./python` (and `maturin develop`) installs the compiled
    `synod` CLI as the environment's `bin/synod`: the binary itself."""
    command = Path(sys.executable).parent / "synod"
    assert command.is_file() and os.access(command, os.X_OK), command
    with open(command, "rb") as f:
        assert f.read(4) == b"\x7fELF", "the compiled CLI, not a Python wrapper"
    version = subprocess.run(
        [command, "--version"], capture_output=True, text=True, timeout=30, check=True
    )
    assert version.stdout.strip() == f"synod {synod.__version__}"
    usage = subprocess.run([command, "--help"], capture_output=True, text=True, timeout=30)
    assert usage.returncode == 0 and "node" in usage.stdout and "certs" in usage.stdout
    wrong = subprocess.run([command, "no-such-command"], capture_output=True, timeout=30)
    assert wrong.returncode == 2
