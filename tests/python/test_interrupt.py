"""Ctrl-C: a blocking call interrupts promptly on SIGINT.

Each case runs a small script in a subprocess: it makes a call that blocks
(against an endpoint nothing listens on, or a member that never catches
up), prints `ready` just before, and on `KeyboardInterrupt` prints how it
ended and then shows the object is still usable. The test sends SIGINT
shortly after `ready` and checks the script reported the interrupt within
LIMIT seconds of the signal.
"""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

#: The bound on the time from SIGINT to KeyboardInterrupt. The calls wake
#: every ~100 ms; the rest is slack for a loaded machine.
LIMIT = 0.6

PRELUDE = """
import sys, time
import synod
def ready():
    print("ready", flush=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def interrupt(body: str, *, after: float = 0.4) -> tuple[float, str]:
    """Runs `body` in a subprocess, sends SIGINT `after` seconds after it
    says `ready`; returns the seconds from the signal to the `interrupted`
    line, and the rest of its output."""
    script = PRELUDE + textwrap.dedent(body)
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", (line, proc.stderr.read() if proc.stderr else "")
        time.sleep(after)
        assert proc.poll() is None, "the call returned before the signal"
        sent = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        line = proc.stdout.readline()
        took = time.monotonic() - sent
        # Not communicate(): it reads the pipes' descriptors and would miss
        # what readline() already buffered.
        proc.wait(timeout=30)
        assert proc.stderr is not None
        out, err = proc.stdout.read(), proc.stderr.read()
        assert line.startswith("interrupted"), (line, out, err)
        assert proc.returncode == 0, (out, err)
        return took, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery")
def test_ctrl_c_interrupts_a_waiting_client_watch() -> None:
    took, out = interrupt(
        """
        c = synod.Client("127.0.0.1:1", insecure=True, timeout=2.0)
        w = c.watch()
        ready()
        try:
            for e in w:
                print("event", e)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        # Still usable: another wait ends on its timeout, not an error.
        print("after", w.poll(timeout=0.2), w.closed)
        """
    )
    assert took < LIMIT, f"{took:.2f} s from SIGINT to KeyboardInterrupt"
    assert "after None False" in out


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery")
@pytest.mark.parametrize(
    "call",
    [
        "c.propose(synod.OwnershipTransition('r', 'CN=a', 1), timeout=30)",
        "c.owner_at('r', level=synod.ReadLevel.LINEARIZABLE, timeout=30)",
        "c.status(timeout=30)",
    ],
)
def test_ctrl_c_interrupts_a_client_call_and_leaves_the_client_usable(call: str) -> None:
    took, out = interrupt(
        f"""
        c = synod.Client("127.0.0.1:1", insecure=True, timeout=30)
        ready()
        try:
            {call}
            print("returned")
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        # The client is usable: the next call answers on its own timeout.
        t0 = time.monotonic()
        try:
            c.status(timeout=0.3)
        except synod.UnavailableError:
            print("unavailable", round(time.monotonic() - t0, 1) < 2)
        """
    )
    assert took < LIMIT, f"{took:.2f} s from SIGINT to KeyboardInterrupt"
    assert "unavailable True" in out


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery")
def test_ctrl_c_interrupts_a_node_proposal() -> None:
    took, out = interrupt(
        """
        # A proposal that waits 30 s inside Rust before it commits.
        n = synod._synod._scripted_node("CN=a", "h:1", delay=30.0)
        ready()
        try:
            n.propose(synod.OwnershipTransition("r", "CN=a", 1), timeout=60)
            print("returned")
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        print("members", [m.id for m in n.members()])
        """
    )
    assert took < LIMIT, f"{took:.2f} s from SIGINT to KeyboardInterrupt"
    assert "members ['CN=a']" in out


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery")
def test_ctrl_c_interrupts_a_member_that_waits_to_join(tmp_path: Path) -> None:
    config = tmp_path / "joiner.toml"
    config.write_text(
        'id = "CN=joiner"\n'
        'listen = "127.0.0.1:0"\n'
        f'data_dir = "{tmp_path / "data"}"\n'
        "[tls]\n"
        "insecure = true\n"
        "[cluster]\n"
        'join = "127.0.0.1:1"\n'
    )
    took, out = interrupt(
        f"""
        ready()
        try:
            synod.RunningMember.start({str(config)!r})
            print("returned")
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        except synod.SynodError as e:
            print("failed", type(e).__name__, e)
        """,
        after=0.3,
    )
    assert took < LIMIT, f"{took:.2f} s from SIGINT to KeyboardInterrupt"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery")
def test_ctrl_c_interrupts_a_member_read_that_waits(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "solo.toml"
    config.write_text(
        'id = "CN=solo"\n'
        f'listen = "127.0.0.1:{port}"\n'
        f'data_dir = "{tmp_path / "data"}"\n'
        "[tls]\n"
        "insecure = true\n"
        "[cluster]\n"
        f'bootstrap = [{{ id = "CN=solo", address = "127.0.0.1:{port}" }}]\n'
    )
    took, out = interrupt(
        f"""
        m = synod.RunningMember.start({str(config)!r})
        ready()
        try:
            m.wait_applied(10**9, timeout=60)
            print("returned")
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        print("leader", m.leader() is not None or m.node.leader is None)
        m.close()
        """
    )
    assert took < LIMIT, f"{took:.2f} s from SIGINT to KeyboardInterrupt"
    assert "leader True" in out
