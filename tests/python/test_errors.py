"""The exception tree, its attributes, and every proposal error path."""

import builtins
import pickle

import pytest

import synod
from conftest import LEADER, PEER, RANGE

ALL_ERRORS: list[type[synod.SynodError]] = [
    synod.SynodError,
    synod.InvalidArgumentError,
    synod.InvalidIdentityError,
    synod.NotLeaderError,
    synod.NoQuorumError,
    synod.TimeoutError,
    synod.RefusedError,
    synod.ShutdownError,
    synod.StorageError,
    synod.UnauthorizedError,
    synod.UnavailableError,
    synod.IndeterminateError,
    synod.OverloadedError,
]


def test_the_tree() -> None:
    assert issubclass(synod.SynodError, Exception)
    for cls in ALL_ERRORS:
        assert issubclass(cls, synod.SynodError), cls
        assert cls.__module__ == "synod._synod", cls
    assert issubclass(synod.InvalidArgumentError, ValueError)
    assert issubclass(synod.InvalidIdentityError, synod.InvalidArgumentError)
    assert issubclass(synod.InvalidIdentityError, ValueError)
    assert issubclass(synod.TimeoutError, builtins.TimeoutError)
    assert synod.TimeoutError is not builtins.TimeoutError
    for cls in (synod.NotLeaderError, synod.NoQuorumError, synod.RefusedError):
        assert not issubclass(cls, ValueError)
        assert not issubclass(cls, builtins.TimeoutError)
    assert not issubclass(synod.SynodError, ValueError)
    assert issubclass(synod.UnauthorizedError, PermissionError)
    assert issubclass(synod.UnavailableError, ConnectionError)
    assert not issubclass(synod.UnauthorizedError, ConnectionError)
    assert not issubclass(synod.UnavailableError, PermissionError)
    for cls in (synod.UnauthorizedError, synod.UnavailableError):
        assert not issubclass(cls, ValueError)
        assert not issubclass(cls, builtins.TimeoutError)


def test_builtin_handlers_catch_synod_errors() -> None:
    with pytest.raises(builtins.TimeoutError):
        raise synod.TimeoutError("late", timeout=0.5)
    with pytest.raises(ValueError):
        raise synod.InvalidIdentityError("blank", field="member")
    with pytest.raises(PermissionError):
        raise synod.UnauthorizedError("no", identity="CN=reader")
    with pytest.raises(ConnectionError):
        raise synod.UnavailableError("nobody answers")


def test_attributes_are_real_instance_attributes() -> None:
    e = synod.NotLeaderError("go there", leader="CN=b", leader_address="10.0.0.2:7000")
    assert vars(e) == {"leader": "CN=b", "leader_address": "10.0.0.2:7000"}
    assert str(e) == "go there"
    t = synod.TimeoutError("late", timeout=0.25)
    assert (t.timeout, str(t)) == (0.25, "late")
    u = synod.UnauthorizedError("no", identity="CN=reader")
    assert (vars(u), str(u)) == ({"identity": "CN=reader"}, "no")
    r = synod.RefusedError(
        "refused", code=7, name="stale-epoch", reason="why", details={"range": "r"}
    )
    assert (r.code, r.name, r.reason, r.details, r.index, r.term) == (
        7,
        "stale-epoch",
        "why",
        {"range": "r"},
        None,
        None,
    )


@pytest.mark.parametrize(
    "err",
    [
        synod.SynodError("plain"),
        synod.InvalidArgumentError("bad", field="range"),
        synod.InvalidIdentityError("bad", field="member"),
        synod.NotLeaderError("elsewhere", leader="CN=b", leader_address="b:1"),
        synod.NoQuorumError("alone"),
        synod.TimeoutError("late", timeout=1.5),
        synod.RefusedError(
            "no", code=1, name="unknown-member", reason="r", details={}, index=3, term=1
        ),
        synod.ShutdownError("closed"),
        synod.StorageError("disk"),
        synod.UnauthorizedError("no", identity="CN=reader"),
        synod.UnavailableError("nobody answers"),
        synod.IndeterminateError("may have committed"),
        synod.OverloadedError("too many calls in flight"),
    ],
)
def test_errors_pickle_with_their_attributes(err: synod.SynodError) -> None:
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert back.args == err.args
    assert str(back) == str(err)
    assert vars(back) == vars(err)


def test_stale_epoch_is_refused_before_the_log(node: synod.Node) -> None:
    node.propose(synod.OwnershipTransition(RANGE, PEER, 1))
    before = node.commit_index
    with pytest.raises(synod.RefusedError) as info:
        node.propose(synod.OwnershipTransition(RANGE, LEADER, 1))
    e = info.value
    assert e.code == 7
    assert e.name == "stale-epoch"
    assert e.reason == "epoch 1 for users:[0,1000) is not above the current epoch 1"
    assert e.details == {"range": RANGE, "current": 1, "proposed": 1}
    assert (e.index, e.term) == (None, None), "refused before it entered the log"
    assert e.reason in str(e)
    assert node.commit_index == before, "a stale transition is not logged"
    with pytest.raises(synod.RefusedError) as lower:
        node.propose(synod.OwnershipTransition(RANGE, LEADER, 0))
    assert (lower.value.code, lower.value.name) == (7, "stale-epoch")
    assert lower.value.details == {"range": RANGE, "current": 1, "proposed": 0}
    assert node.commit_index == before
    owner = node.owner(RANGE)
    assert owner is not None and (owner.owner, owner.epoch) == (PEER, 1)


def test_an_epoch_that_skips_is_refused_before_the_log(node: synod.Node) -> None:
    before = node.commit_index
    with pytest.raises(synod.RefusedError) as first:
        node.propose(synod.OwnershipTransition(RANGE, PEER, 7))
    assert (first.value.code, first.value.name) == (12, "epoch-not-next")
    assert first.value.reason == "epoch 7 for users:[0,1000) is not the next epoch 1"
    assert node.commit_index == before, "a skipping transition is not logged"
    assert node.owner(RANGE) is None

    node.propose(synod.OwnershipTransition(RANGE, PEER, 1))
    before = node.commit_index
    with pytest.raises(synod.RefusedError) as info:
        node.propose(synod.OwnershipTransition(RANGE, LEADER, 3))
    e = info.value
    assert e.code == 12
    assert e.name == "epoch-not-next"
    assert e.reason == "epoch 3 for users:[0,1000) is not the next epoch 2"
    assert e.details == {"range": RANGE, "current": 1, "proposed": 3}
    assert (e.index, e.term) == (None, None), "refused before it entered the log"
    assert e.reason in str(e)
    assert node.commit_index == before, "a skipping transition is not logged"
    owner = node.owner(RANGE)
    assert owner is not None and (owner.owner, owner.epoch) == (PEER, 1)
    # The next epoch is accepted.
    node.propose(synod.OwnershipTransition(RANGE, LEADER, 2))
    owner = node.owner(RANGE)
    assert owner is not None and (owner.owner, owner.epoch) == (LEADER, 2)


def test_a_refusal_at_apply_reports_its_position(node: synod.Node) -> None:
    with pytest.raises(synod.RefusedError) as info:
        node.propose(synod.BeginDrain("CN=ghost"))
    e = info.value
    assert (e.code, e.name) == (1, "unknown-member")
    assert e.reason == "CN=ghost is not an admitted member"
    assert e.details == {"member": "CN=ghost"}
    assert (e.index, e.term) == (3, 1), "logged at index 3 in term 1, refused at apply"
    assert node.commit_index == 3


def test_refusal_codes_and_names(node: synod.Node) -> None:
    def refusal(entry: synod.Entry) -> tuple[int, str]:
        with pytest.raises(synod.RefusedError) as info:
            node.propose(entry)
        return info.value.code, info.value.name

    node.propose(synod.Admit("CN=w", "witness", "w:1"))
    node.propose(synod.OwnershipTransition(RANGE, PEER, 1))
    assert refusal(synod.OwnershipTransition(RANGE, PEER, 1)) == (7, "stale-epoch")
    assert refusal(synod.OwnershipTransition(RANGE, PEER, 3)) == (12, "epoch-not-next")
    assert refusal(synod.Admit(PEER, "witness", "127.0.0.1:7001")) == (2, "member-conflict")
    assert refusal(synod.Remove(PEER)) == (4, "member-owns-ranges")
    assert refusal(synod.OwnershipTransition("r2", "CN=w", 1)) == (6, "witness-cannot-own")
    # Only the engine records elections: a caller may at most repeat the
    # current one (the catalog's term-regressed and conflicting-leader rules
    # are tested in Rust, where replicated entries reach them).
    not_current = (11, "leader-configuration-not-current")
    assert refusal(synod.LeaderConfiguration(0, LEADER)) == not_current
    assert refusal(synod.LeaderConfiguration(1, PEER)) == not_current
    assert refusal(synod.LeaderConfiguration(2, LEADER)) == not_current
    node.propose(synod.BeginDrain(PEER))
    assert refusal(synod.OwnershipTransition("r3", PEER, 1)) == (3, "member-draining")
    assert refusal(synod.Remove("CN=nobody")) == (1, "unknown-member")
    # Epochs move up one at a time, so no proposal can jump a range to the
    # last epoch (epoch-exhausted, 8, is reached only from a catalog built
    # otherwise; it is tested in Rust, src/catalog/tests.rs).
    last = synod.OwnershipTransition("last", LEADER, 2**64 - 1)
    assert refusal(last) == (12, "epoch-not-next")


def test_a_full_catalog_refuses_growth_and_says_which_limit(node: synod.Node) -> None:
    # The node has two members; the catalog holds at most 256.
    for i in range(254):
        node.propose(synod.Admit(f"CN=m{i:03}", "witness", f"10.0.{i}.1:7000"))
    with pytest.raises(synod.RefusedError) as info:
        node.propose(synod.Admit("CN=one-too-many", "witness", "10.1.0.1:7000"))
    e = info.value
    assert (e.code, e.name) == (13, "catalog-full")
    assert e.details == {"what": "members", "limit": 256}
    assert e.reason == "the catalog holds the most members it may (256); nothing was applied"
    assert e.index is not None, "refused at apply, on every member alike"
    assert len(node.members()) == 256
    # Removing a member makes room.
    node.propose(synod.Remove("CN=m000"))
    node.propose(synod.Admit("CN=one-too-many", "witness", "10.1.0.1:7000"))


def test_removing_the_last_member_is_refused() -> None:
    with synod.Node.single(LEADER, "h:1") as n:
        with pytest.raises(synod.RefusedError) as info:
            n.propose(synod.Remove(LEADER))
        assert (info.value.code, info.value.name) == (5, "last-member")
        assert info.value.details == {"member": LEADER}


def test_not_leader_carries_the_leader() -> None:
    n = synod._synod._scripted_node(
        "CN=follower", "f:1", fail="not-leader", leader="CN=boss", leader_address="10.0.0.1:7000"
    )
    with pytest.raises(synod.NotLeaderError) as info:
        n.propose(synod.Remove(PEER))
    assert info.value.leader == "CN=boss"
    assert info.value.leader_address == "10.0.0.1:7000"
    assert "CN=boss at 10.0.0.1:7000" in str(info.value)


def test_not_leader_without_a_known_leader() -> None:
    n = synod._synod._scripted_node("CN=follower", "f:1", fail="not-leader")
    with pytest.raises(synod.NotLeaderError) as info:
        n.propose(synod.Remove(PEER))
    assert (info.value.leader, info.value.leader_address) == (None, None)


def test_not_leader_with_a_leader_but_no_address() -> None:
    n = synod._synod._scripted_node("CN=follower", "f:1", fail="not-leader", leader="CN=boss")
    with pytest.raises(synod.NotLeaderError) as info:
        n.propose(synod.Remove(PEER))
    assert (info.value.leader, info.value.leader_address) == ("CN=boss", None)


def test_no_quorum() -> None:
    n = synod._synod._scripted_node(LEADER, "h:1", fail="no-quorum")
    with pytest.raises(synod.NoQuorumError, match="no quorum"):
        n.propose(synod.Remove(PEER))


def test_storage_failure() -> None:
    n = synod._synod._scripted_node(LEADER, "h:1", fail="storage")
    with pytest.raises(synod.StorageError, match="injected disk failure"):
        n.propose(synod.Remove(PEER))


def test_timeout_error_carries_the_deadline() -> None:
    n = synod._synod._scripted_node(LEADER, "h:1", delay=30.0)
    with pytest.raises(synod.TimeoutError) as info:
        n.propose(synod.OwnershipTransition(RANGE, LEADER, 1), timeout=0.05)
    assert info.value.timeout == pytest.approx(0.05)
    assert isinstance(info.value, builtins.TimeoutError)
    assert n.owner(RANGE) is None, "the slow proposal never reached the engine"
