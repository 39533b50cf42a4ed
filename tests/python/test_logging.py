"""The logging bridge: the library's records reach `logging` under the
`synod` loggers, with their fields; nothing is printed unless the
application configures logging; a flood is counted, not lost silently."""

import logging
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import synod
from test_cluster import certs, write_configs  # noqa: F401 (fixtures)

#: What the queue to the logging thread holds, and what that thread takes
#: in hand per batch (logs.rs: CAPACITY, BATCH).
CAPACITY = 8192
BATCH = 512


@pytest.fixture(autouse=True)
def levels() -> Iterator[None]:
    """Each test starts and ends with the `synod` loggers' levels unset."""
    names = ("synod", "synod.testing")
    yield
    for name in names:
        logging.getLogger(name).setLevel(logging.NOTSET)
    synod.refresh_logging()


def records(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    assert synod.flush_logs(timeout=10.0)
    return [r for r in caplog.records if r.name == name]


def test_a_member_start_logs_under_the_synod_loggers_with_fields(
    caplog: pytest.LogCaptureFixture, tmp_path: Path, certs: Path
) -> None:
    caplog.set_level(logging.INFO, logger="synod")
    synod.refresh_logging()
    configs = write_configs(tmp_path, certs)
    began = time.time()
    with synod.RunningMember.start(configs["node-a"]):
        pass
    runner = records(caplog, "synod.node.runner")
    boot = [r for r in runner if r.getMessage().startswith("bootstrapped a new cluster")]
    assert len(boot) == 1, [r.getMessage() for r in runner]
    r = boot[0]
    assert r.levelno == logging.INFO and r.levelname == "INFO"
    assert r.getMessage() == "bootstrapped a new cluster members=3"
    assert r.synod_fields == {"members": 3}  # type: ignore[attr-defined]
    assert r.synod_target == "synod::node::runner"  # type: ignore[attr-defined]
    assert r.pathname.endswith("runner.rs") and r.lineno > 0 and r.module == "runner"
    assert began - 1.0 <= r.created <= time.time()
    assert r.thread is None and isinstance(r.threadName, str)
    # Every record of the start is under `synod`; raft's under `synod.raft`.
    assert all(x.name.startswith("synod.") for x in caplog.records if hasattr(x, "synod_target"))


def test_levels_are_mapped_and_disabled_ones_are_not_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="synod")
    synod.refresh_logging()
    for level in ("info", "debug", "trace"):
        synod._synod._log_test_emit(3, level)
    synod._synod._log_test_emit(1, "warn")
    synod._synod._log_test_emit(1, "error")
    got = records(caplog, "synod.testing")
    assert [r.levelno for r in got] == [logging.WARNING, logging.ERROR]
    assert got[0].getMessage() == "test record 0 n=0"
    assert got[0].synod_fields == {"n": 0}  # type: ignore[attr-defined]

    caplog.clear()
    # A child logger's own level counts (refreshed on its own within 0.25 s).
    caplog.set_level(5, logger="synod.testing")
    time.sleep(0.8)
    synod._synod._log_test_emit(1, "debug")
    synod._synod._log_test_emit(1, "trace")
    got = records(caplog, "synod.testing")
    assert [(r.levelno, r.levelname) for r in got] == [(10, "DEBUG"), (5, "TRACE")]


def test_nothing_is_printed_unless_logging_is_configured(tmp_path: Path, certs: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, logging
        import synod
        if sys.argv[2] == "configured":
            logging.basicConfig(level=logging.INFO)
            synod.refresh_logging()
        synod._synod._log_test_emit(2, "error")
        with synod.RunningMember.start(sys.argv[1]):
            pass
        assert synod.flush_logs()
        """
    )
    for mode in ("unconfigured", "configured"):
        # A new cluster each time: only a first start bootstraps.
        (tmp_path / mode).mkdir()
        configs = write_configs(tmp_path / mode, certs)
        done = subprocess.run(
            [sys.executable, "-c", script, str(configs["node-a"]), mode],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == ""
        if mode == "unconfigured":
            assert done.stderr == ""
        else:
            assert "ERROR:synod.testing:test record 1 n=1" in done.stderr
            assert "INFO:synod.node.runner:bootstrapped a new cluster members=3" in done.stderr


def test_a_flood_is_counted_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="synod")
    synod.refresh_logging()
    assert synod.flush_logs()
    before = synod.log_dropped()
    # Made without releasing the GIL: the logging thread cannot hand any
    # over meanwhile, so all but what the queue and its hands hold are
    # dropped.
    count = 2 * CAPACITY + 1000
    synod._synod._log_test_emit(count)
    dropped = synod.log_dropped() - before
    assert dropped >= count - CAPACITY - BATCH
    kept = records(caplog, "synod.testing")
    assert len(kept) + dropped == count
    assert [r.synod_fields["n"] for r in kept] == list(range(len(kept)))  # type: ignore[attr-defined]

    # The loss is reported on the `synod` logger (at most once a second, so
    # possibly in two reports).
    deadline = time.monotonic() + 5.0
    reported = 0
    while reported < dropped and time.monotonic() < deadline:
        time.sleep(0.1)
        reports = [r for r in records(caplog, "synod") if "dropped" in r.getMessage()]
        assert all(r.levelno == logging.WARNING for r in reports)
        reported = sum(r.synod_fields["dropped"] for r in reports)  # type: ignore[attr-defined]
    assert reported == dropped


def test_flush_checks_its_timeout() -> None:
    assert synod.flush_logs(timeout=0.0) in (True, False)
    with pytest.raises(synod.InvalidArgumentError):
        synod.flush_logs(timeout=-1.0)
    assert synod.log_dropped() >= 0
