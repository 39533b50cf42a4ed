"""Read levels that say their index and term, leader() and wait_applied(),
over the network (`Client`) and on a member in this process
(`RunningMember`), on the `cluster` fixture of test_cluster."""

import pickle

import pytest

import synod
from test_cluster import Cluster, certs, cluster, eventually  # noqa: F401 (fixtures)

RANGE = "users:[0,1000)"


def test_client_reads_at_levels_carry_index_and_term(cluster: Cluster) -> None:
    follower = cluster.followers()[0]
    with cluster.client("app") as app:
        commit = app.propose(synod.OwnershipTransition(RANGE, "CN=node-b", 1))
    with cluster.client("reader", endpoints=[follower.local_addr]) as c:
        # Read-your-write from a follower: at least the commit's index.
        r = c.owner_at(RANGE, at_least=commit.index)
        assert isinstance(r, synod.ReadAt)
        assert r.index >= commit.index and r.term >= commit.term
        assert r.value is not None and (r.value.owner, r.value.epoch) == ("CN=node-b", 1)
        same = c.owner_at(RANGE, level=synod.ReadLevel.AT_LEAST, at_least=commit.index)
        assert same.value == r.value
        lin = c.owner_at(RANGE, level=synod.ReadLevel.LINEARIZABLE)
        assert lin.index >= commit.index and lin.value == r.value
        by_name = c.owner_at(RANGE, level="linearizable")
        assert by_name.value == r.value
        local = c.owner_at("nobody:[0,1)")
        assert local.value is None and local.index >= 1 and local.term >= 1

        fence = c.fence_check_at(RANGE, "CN=node-b", 1, at_least=commit.index)
        assert fence.value.is_current and fence.index >= commit.index
        stale = c.fence_check_at(RANGE, "CN=node-a", 0, level=synod.ReadLevel.LINEARIZABLE)
        assert stale.value.is_stale

        members = c.members_at(level=synod.ReadLevel.LINEARIZABLE)
        assert isinstance(members.value, tuple)
        assert [m.id for m in members.value] == ["CN=node-a", "CN=node-b", "CN=node-c"]

        # A bad combination is refused before anything is sent.
        with pytest.raises(synod.InvalidArgumentError) as info:
            c.owner_at(RANGE, level=synod.ReadLevel.AT_LEAST)
        assert info.value.field == "at_least"
        with pytest.raises(synod.InvalidArgumentError) as info:
            c.owner_at(RANGE, level=synod.ReadLevel.LINEARIZABLE, at_least=3)
        assert info.value.field == "at_least"
        with pytest.raises(synod.InvalidArgumentError) as info:
            c.owner_at(RANGE, level="fresh")  # type: ignore[arg-type]
        assert info.value.field == "level"
        # An index the cluster has not reached: the member waits, then times out.
        with pytest.raises(synod.SynodError):
            c.owner_at(RANGE, at_least=commit.index + 1000, timeout=1.0)
    # The result objects: immutable, a repr, equal after a pickle round trip.
    assert repr(r).startswith("ReadAt(value=Ownership(range='users:[0,1000)'")
    with pytest.raises(AttributeError):
        r.index = 0  # type: ignore[misc]


def test_client_leader(cluster: Cluster) -> None:
    lead = cluster.leader()
    with cluster.client("reader") as c:
        info = c.leader()
        status = c.status()
    assert info is not None
    assert (info.id, info.address) == (lead.id, lead.local_addr)
    assert info.term == status.term >= 1
    assert isinstance(status.role, synod.Role), "Status.role is a Role (a str enum)"
    assert pickle.loads(pickle.dumps(info)) == info
    assert repr(info) == f"LeaderInfo(id={lead.id!r}, address={lead.local_addr!r}, term={info.term})"


def test_a_refusal_over_the_network_has_its_refusal_code(cluster: Cluster) -> None:
    with cluster.client("app") as c:
        c.propose(synod.OwnershipTransition(RANGE, "CN=node-a", 1))
        with pytest.raises(synod.RefusedError) as info:
            c.propose(synod.OwnershipTransition(RANGE, "CN=node-b", 1))
    assert info.value.code is synod.Refusal.STALE_EPOCH
    assert info.value.name == "stale-epoch"


def test_member_reads_leader_and_wait_applied(cluster: Cluster) -> None:
    lead = cluster.leader()
    follower = cluster.followers()[0]
    with cluster.client("app") as app:
        commit = app.propose(synod.OwnershipTransition(RANGE, "CN=node-c", 1))
    index, term = follower.wait_applied(commit.index, timeout=5.0)
    assert index >= commit.index and term >= 1
    r = follower.owner_at(RANGE, at_least=commit.index)
    assert r.value is not None and r.value.owner == "CN=node-c" and r.index >= commit.index
    lin = follower.owner_at(RANGE, level=synod.ReadLevel.LINEARIZABLE)
    assert lin.value == r.value and lin.index >= commit.index
    assert follower.fence_check_at(RANGE, "CN=node-c", 1).value.is_current
    members = follower.members_at()
    assert [m.id for m in members.value] == ["CN=node-a", "CN=node-b", "CN=node-c"]
    assert members.term >= 1
    with pytest.raises(synod.TimeoutError):
        follower.wait_applied(commit.index + 1000, timeout=0.2)
    with pytest.raises(synod.TimeoutError):
        follower.owner_at(RANGE, at_least=commit.index + 1000, timeout=0.2)

    info = follower.leader()
    assert info is not None and (info.id, info.address) == (lead.id, lead.local_addr)
    assert info.term >= 1
    assert lead.leader() == info
    follower.close()
    with pytest.raises(synod.ShutdownError):
        follower.leader()
    with pytest.raises(synod.ShutdownError):
        follower.owner_at(RANGE)
    with pytest.raises(synod.ShutdownError):
        follower.wait_applied(1)
