"""Shared fixtures for the Python tests of `synod`."""

from collections.abc import Iterator

import pytest

import synod

LEADER = "CN=node-a"
PEER = "CN=node-b"
RANGE = "users:[0,1000)"


@pytest.fixture
def node() -> Iterator[synod.Node]:
    """A single-member control plane led by CN=node-a, with CN=node-b admitted."""
    with synod.Node.single(LEADER, "127.0.0.1:7000") as n:
        n.propose(synod.Admit(PEER, "data", "127.0.0.1:7001"))
        yield n
