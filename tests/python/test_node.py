"""Node: propose a transition, read the owner back, and the other reads."""

import math
from collections.abc import Callable
from typing import Literal

import pytest

import synod
from conftest import LEADER, PEER, RANGE


def test_propose_a_transition_and_read_the_owner_back(node: synod.Node) -> None:
    assert node.owner(RANGE) is None
    # A fresh range is at epoch 0: its first transition is epoch 1.
    commit = node.propose(synod.OwnershipTransition(RANGE, PEER, 1), timeout=2.0)
    assert isinstance(commit, synod.Commit)
    # Index 1 is the term-1 leader configuration, 2 the admit of CN=node-b.
    assert (commit.index, commit.term, commit.changed) == (3, 1, True)
    owner = node.owner(RANGE)
    assert owner is not None
    assert (owner.range, owner.owner, owner.epoch) == (RANGE, PEER, 1)
    assert (owner.index, owner.term, owner.version) == (3, 1, commit.version)
    assert node.commit_index == 3
    assert node.applied_index == 3


def test_a_later_transition_moves_the_range(node: synod.Node) -> None:
    node.propose(synod.OwnershipTransition(RANGE, PEER, 1))
    node.propose(synod.OwnershipTransition(RANGE, LEADER, 2))
    owner = node.owner(RANGE)
    assert owner is not None and (owner.owner, owner.epoch) == (LEADER, 2)


def test_an_idempotent_repeat_reports_no_change(node: synod.Node) -> None:
    before = node.propose(synod.Admit(PEER, "data", "127.0.0.1:7001"))
    assert before.changed is False
    assert before.index == 3


def test_fence_check_answers(node: synod.Node) -> None:
    assert node.fence_check(RANGE, PEER, 1).status == "unknown", "no owner yet"
    for epoch in range(1, 6):  # each transition moves the range to the next epoch
        node.propose(synod.OwnershipTransition(RANGE, PEER, epoch))

    current = node.fence_check(RANGE, PEER, 5)
    assert current.status == "current" and current.is_current
    assert not current.is_stale and not current.is_unknown
    assert (current.current_owner, current.current_epoch) == (None, None)

    older = node.fence_check(RANGE, PEER, 4)
    assert older.status == "stale" and older.is_stale and not older.is_current
    assert (older.current_owner, older.current_epoch) == (PEER, 5)

    impostor = node.fence_check(RANGE, LEADER, 5)
    assert impostor.is_stale
    assert (impostor.current_owner, impostor.current_epoch) == (PEER, 5)

    newer = node.fence_check(RANGE, PEER, 6)
    assert newer.status == "unknown" and newer.is_unknown
    assert newer.current_owner is None

    assert older == node.fence_check(RANGE, PEER, 4)
    assert hash(older) == hash(node.fence_check(RANGE, PEER, 4))
    assert repr(older) == "FenceStatus(status='stale', current_owner='CN=node-b', current_epoch=5)"


def test_fence_check_validates_its_arguments(node: synod.Node) -> None:
    with pytest.raises(synod.InvalidIdentityError):
        node.fence_check(RANGE, " ", 1)
    with pytest.raises(synod.InvalidArgumentError):
        node.fence_check("", PEER, 1)
    with pytest.raises(synod.InvalidArgumentError):
        node.fence_check(RANGE, PEER, -1)
    with pytest.raises(synod.InvalidArgumentError):
        node.owner("bad\x00range")


def test_members(node: synod.Node) -> None:
    node.propose(synod.Admit("CN=witness", synod.MemberKind.WITNESS, "10.0.0.9:7000"))
    node.propose(synod.BeginDrain(PEER))
    members = node.members()
    assert [m.id for m in members] == [LEADER, PEER, "CN=witness"], "identity order"
    a, b, w = members
    assert (a.kind, a.address, a.state, a.peer_id) == (
        synod.MemberKind.DATA,
        "127.0.0.1:7000",
        synod.MemberState.ACTIVE,
        1,
    )
    assert (b.kind, b.state, b.peer_id) == (synod.MemberKind.DATA, synod.MemberState.DRAINING, 2)
    assert (w.kind, w.address, w.state, w.peer_id) == (
        synod.MemberKind.WITNESS,
        "10.0.0.9:7000",
        synod.MemberState.ACTIVE,
        3,
    )
    assert b.state.value == "draining" and str(w.kind) == "witness"
    node.propose(synod.Remove("CN=witness"))
    assert [m.id for m in node.members()] == [LEADER, PEER]


def test_audit_log_records_forced_transitions(node: synod.Node) -> None:
    assert node.audit_log() == []
    for epoch in range(1, 5):  # each transition moves the range to the next epoch
        node.propose(synod.OwnershipTransition(RANGE, PEER, epoch))
    commit = node.propose(
        synod.ForcedOwnershipTransition(RANGE, LEADER, "CN=operator", "node-b lost its disk")
    )
    (record,) = node.audit_log()
    assert (record.index, record.term) == (commit.index, commit.term)
    assert (record.range, record.previous_owner, record.previous_epoch) == (RANGE, PEER, 4)
    assert (record.new_owner, record.epoch) == (LEADER, 5)
    assert (record.operator, record.reason) == ("CN=operator", "node-b lost its disk")
    owner = node.owner(RANGE)
    assert owner is not None and (owner.owner, owner.epoch) == (LEADER, 5)
    # A forced move of a range without an owner has no previous owner.
    node.propose(synod.ForcedOwnershipTransition("fresh", PEER, "CN=operator", "seed it"))
    assert node.audit_log()[1].previous_owner is None
    assert node.audit_log()[1].previous_epoch == 0


def test_node_properties(node: synod.Node) -> None:
    assert node.id == LEADER
    assert node.current_term == 1
    assert node.leader == LEADER
    assert node.is_leader is True
    vote = node.durable_vote
    assert (vote.term, vote.voted_for) == (1, LEADER)
    assert node.closed is False
    assert "CN=node-a" in repr(node)


def test_single_validates_and_takes_a_kind() -> None:
    with synod.Node.single("  CN=w  ", "h:1", kind="witness") as w:
        assert w.id == "CN=w", "the subject is trimmed"
        assert w.members()[0].kind == synod.MemberKind.WITNESS
    with pytest.raises(synod.InvalidIdentityError):
        synod.Node.single("", "h:1")
    with pytest.raises(synod.InvalidArgumentError) as e:
        synod.Node.single("CN=a", "")
    assert e.value.field == "address"
    with pytest.raises(synod.InvalidArgumentError):
        synod.Node.single("CN=a", "h:1", kind="voter")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        synod.Node()


def test_context_manager_closes_and_proposals_after_close_fail() -> None:
    with synod.Node.single(LEADER, "h:1") as n:
        assert not n.closed
        n.propose(synod.OwnershipTransition(RANGE, LEADER, 1))
    assert n.closed
    with pytest.raises(synod.ShutdownError):
        n.propose(synod.OwnershipTransition(RANGE, LEADER, 2))
    n.close()  # idempotent
    assert n.closed
    with pytest.raises(synod.ShutdownError):
        n.propose(synod.OwnershipTransition(RANGE, LEADER, 2))
    # Reads keep answering from the applied state.
    owner = n.owner(RANGE)
    assert owner is not None and owner.epoch == 1


def test_with_closes_even_when_the_body_raises() -> None:
    with pytest.raises(KeyError):
        with synod.Node.single(LEADER, "h:1") as n:
            raise KeyError("boom")
    assert n.closed
    with pytest.raises(synod.ShutdownError):
        n.propose(synod.Remove(PEER))


@pytest.mark.parametrize(
    ("stopped", "error"),
    [("shutdown", synod.ShutdownError), ("storage", synod.StorageError)],
)
def test_a_stopped_member_raises_from_every_read(
    stopped: Literal["shutdown", "storage"], error: type[synod.SynodError]
) -> None:
    # An engine playing a member that stopped: no read answers None, an
    # empty list or "unknown" for it.
    n = synod._synod._scripted_node(LEADER, "h:1", stopped=stopped)
    calls: list[Callable[[], object]] = [
        lambda: n.owner(RANGE),
        lambda: n.fence_check(RANGE, LEADER, 1),
        lambda: n.members(),
        lambda: n.audit_log(),
        lambda: n.is_leader,
        lambda: n.leader,
        lambda: n.current_term,
        lambda: n.commit_index,
        lambda: n.applied_index,
        lambda: n.durable_vote,
    ]
    for call in calls:
        with pytest.raises(error):
            call()
    # What still answers: its identity, whether the handle is closed, repr.
    assert n.id == LEADER
    assert n.closed is False
    assert repr(n).endswith("is_leader=False, closed=False, stopped=True)")
    # Argument errors still come first.
    with pytest.raises(synod.InvalidArgumentError):
        n.owner("")


def test_a_single_node_engine_answers_reads_after_close() -> None:
    # The single-node engine is not a stopped member after close(): only
    # its proposals fail, as documented.
    n = synod.Node.single(LEADER, "h:1")
    n.propose(synod.OwnershipTransition(RANGE, LEADER, 1))
    n.close()
    assert n.is_leader is True
    assert [m.id for m in n.members()] == [LEADER]
    assert n.fence_check(RANGE, LEADER, 1).is_current


def test_engine_shutdown_is_reported_as_shutdown_error() -> None:
    # The engine itself refusing after shutdown (not the handle's flag).
    n = synod._synod._scripted_node(LEADER, "h:1", fail="shutdown")
    with pytest.raises(synod.ShutdownError):
        n.propose(synod.Remove(PEER))


@pytest.mark.parametrize("bad", [-1.0, -1e-9, math.nan, math.inf, -math.inf, 1e300])
def test_bad_timeouts_are_invalid_arguments(node: synod.Node, bad: float) -> None:
    before = node.commit_index
    with pytest.raises(synod.InvalidArgumentError) as e:
        node.propose(synod.OwnershipTransition(RANGE, PEER, 1), timeout=bad)
    assert e.value.field == "timeout"
    assert isinstance(e.value, ValueError)
    assert node.commit_index == before, "nothing was proposed"


def test_zero_and_int_timeouts_are_accepted(node: synod.Node) -> None:
    node.propose(synod.OwnershipTransition(RANGE, PEER, 1), timeout=0)
    node.propose(synod.OwnershipTransition(RANGE, PEER, 2), timeout=0.0)


@pytest.mark.parametrize(
    "payload",
    [b"user row", bytearray(b"x"), "admit CN=x", {"member": "CN=x"}, None, 42, object()],
)
def test_nothing_but_an_entry_can_be_proposed(node: synod.Node, payload: object) -> None:
    before = node.commit_index
    with pytest.raises(TypeError, match="only a control-plane entry"):
        node.propose(payload)  # type: ignore[arg-type]
    assert node.commit_index == before
