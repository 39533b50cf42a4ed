"""Blocking calls release the GIL.

The node here is the single-node engine behind a proposal that sleeps for
DELAY seconds inside Rust. If `propose` held the GIL while it waits, no other
Python thread could run during that window, so the ticks the main thread
records while the proposal is in flight would all fall outside it.
"""

import threading
import time

import synod
from conftest import LEADER, RANGE

DELAY = 0.6


def test_other_threads_run_while_a_proposal_waits() -> None:
    node = synod._synod._scripted_node(LEADER, "h:1", delay=DELAY)
    window: list[float] = []
    outcome: list[object] = []

    def propose() -> None:
        window.append(time.monotonic())
        try:
            outcome.append(node.propose(synod.OwnershipTransition(RANGE, LEADER, 1), timeout=10))
        except BaseException as e:  # reported below, in the test's own thread
            outcome.append(e)
        window.append(time.monotonic())

    ticks: list[float] = []
    worker = threading.Thread(target=propose)
    worker.start()
    while worker.is_alive():
        ticks.append(time.monotonic())
        time.sleep(0.005)
    worker.join()

    assert len(outcome) == 1 and isinstance(outcome[0], synod.Commit), outcome
    start, end = window
    assert end - start >= DELAY * 0.9, "the proposal really waited"
    # Ticks well inside the proposal's window: impossible if the GIL was held.
    inside = [t for t in ticks if start + 0.1 < t < end - 0.1]
    assert len(inside) >= 5, f"only {len(inside)} ticks while propose waited: GIL held?"
    owner = node.owner(RANGE)
    assert owner is not None and owner.owner == LEADER


def test_a_read_is_not_blocked_behind_a_slow_proposal_holding_the_gil() -> None:
    node = synod._synod._scripted_node(LEADER, "h:1", delay=DELAY)
    worker = threading.Thread(
        target=node.propose, args=(synod.OwnershipTransition(RANGE, LEADER, 1),)
    )
    worker.start()
    time.sleep(0.05)
    # The proposal is sleeping in Rust; reads answer at once from this thread.
    t0 = time.monotonic()
    assert node.members()[0].id == LEADER
    assert node.is_leader
    assert time.monotonic() - t0 < DELAY / 2
    assert worker.is_alive(), "the proposal was still in flight during the reads"
    worker.join()
