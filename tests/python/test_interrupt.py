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
import subprocess
import sys
import textwrap
import time

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
        out, err = proc.communicate(timeout=30)
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
