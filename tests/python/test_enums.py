"""The closed sets as `enum.Enum`s, `Refusal` codes, and pickling of the
result objects."""

import enum
import pickle
import re
from pathlib import Path

import pytest

import synod
from conftest import LEADER, PEER, RANGE

ROOT = Path(__file__).resolve().parents[2]


def test_refusal_is_the_c_headers_codes() -> None:
    header = (ROOT / "include" / "synod.h").read_text()
    codes = {
        name: int(value)
        for name, value in re.findall(r"#define SYNOD_REFUSAL_(\w+) (\d+)", header)
        if name != "NONE"
    }
    assert {r.name: r.value for r in synod.Refusal} == codes
    assert issubclass(synod.Refusal, enum.IntEnum)
    code: int = synod.Refusal.STALE_EPOCH
    assert code == 7
    assert synod.Refusal(12).short_name == "epoch-not-next"


def test_the_closed_sets_are_enums() -> None:
    for cls in (
        synod.MemberKind,
        synod.MemberState,
        synod.Role,
        synod.EventKind,
        synod.OutcomeKind,
        synod.ReadLevel,
    ):
        assert issubclass(cls, enum.Enum), cls
        assert cls.__module__ == "synod._synod"
    assert [k.value for k in synod.MemberKind] == ["data", "witness"]
    assert [s.value for s in synod.MemberState] == ["active", "draining"]
    assert [r.value for r in synod.Role] == ["follower", "candidate", "pre-candidate", "leader"]
    # str enums: equal to their value, str() is the value, and either form
    # is accepted where a kind is.
    data: str = synod.MemberKind.DATA
    assert data == "data" and str(synod.MemberKind.WITNESS) == "witness"
    assert synod.MemberKind("witness") is synod.MemberKind.WITNESS
    assert synod.Admit(PEER, "witness", "h:1").kind is synod.MemberKind.WITNESS
    leader: str = synod.Role.LEADER
    assert leader == "leader"
    for e in (synod.MemberKind.DATA, synod.Role.LEADER, synod.ReadLevel.LINEARIZABLE):
        assert pickle.loads(pickle.dumps(e)) is e


def test_a_refusal_carries_its_code_name_and_facts(node: synod.Node) -> None:
    node.propose(synod.OwnershipTransition(RANGE, PEER, 1))
    with pytest.raises(synod.RefusedError) as info:
        node.propose(synod.OwnershipTransition(RANGE, LEADER, 1))
    e = info.value
    assert e.code is synod.Refusal.STALE_EPOCH and int(e.code) == 7
    assert e.name == synod.Refusal.STALE_EPOCH.short_name == "stale-epoch"
    assert e.details == {"range": RANGE, "current": 1, "proposed": 1}
    back = pickle.loads(pickle.dumps(e))
    assert back.code is synod.Refusal.STALE_EPOCH and back.details == e.details
    with pytest.raises(synod.RefusedError) as skip:
        node.propose(synod.OwnershipTransition(RANGE, LEADER, 5))
    assert skip.value.code is synod.Refusal.EPOCH_NOT_NEXT
    assert skip.value.details == {"range": RANGE, "current": 1, "proposed": 5}


def test_result_objects_pickle_and_keep_their_repr(node: synod.Node) -> None:
    commit = node.propose(synod.OwnershipTransition(RANGE, PEER, 1))
    owner = node.owner(RANGE)
    assert owner is not None
    values: list[object] = [
        commit,
        owner,
        node.fence_check(RANGE, PEER, 1),
        node.fence_check(RANGE, LEADER, 0),
        node.fence_check(RANGE, PEER, 9),
        *node.members(),
        synod.OwnershipTransition(RANGE, PEER, 2),
        synod.Admit(PEER, synod.MemberKind.WITNESS, "h:1"),
        synod.ForcedOwnershipTransition(RANGE, PEER, "CN=op", "why"),
        synod.LeaderConfiguration(3, LEADER),
        synod.BeginDrain(PEER),
        synod.Remove(PEER),
        synod.Outcome(synod.OutcomeKind.REFUSED, refusal=synod.Refusal.STALE_EPOCH),
        synod.Snapshot(7, None, tuple(node.members()), (owner,)),
        synod.ReadAt(owner, 3, 1),
        synod.LeaderInfo(LEADER, "h:1", 1),
    ]
    for v in values:
        back = pickle.loads(pickle.dumps(v))
        assert type(back) is type(v) and back == v, v
        assert repr(back) == repr(v)
    (member, _) = node.members()
    assert repr(member) == (
        "Member(id='CN=node-a', kind=MemberKind.DATA, address='127.0.0.1:7000', "
        "state=MemberState.ACTIVE, peer_id=1)"
    )
    assert member.kind is synod.MemberKind.DATA and member.state is synod.MemberState.ACTIVE
