"""The closed entry set: validation in constructors, immutability, hashing."""

from collections.abc import Callable

import pytest

import synod
from conftest import LEADER, PEER, RANGE

ENTRIES: list[synod.Entry] = [
    synod.Admit(PEER, "data", "127.0.0.1:7001"),
    synod.BeginDrain(PEER),
    synod.Remove(PEER),
    synod.OwnershipTransition(RANGE, PEER, 7),
    synod.ForcedOwnershipTransition(RANGE, PEER, "CN=operator", "disk lost"),
    synod.LeaderConfiguration(3, LEADER),
]


def test_parse_identity_trims_and_keeps_verbatim() -> None:
    assert synod.parse_identity("  CN=node-a, O=Synod \n") == "CN=node-a, O=Synod"
    assert synod.parse_identity("x" * 1024) == "x" * 1024


@pytest.mark.parametrize(
    "subject",
    ["", "   ", "\t\n", "x" * 1025, "CN=a\x00b", "CN=a\nCN=b", "CN=a\x7f", "CN=a\x9b"],
)
def test_invalid_identities_are_refused(subject: str) -> None:
    with pytest.raises(synod.InvalidIdentityError) as info:
        synod.parse_identity(subject)
    assert isinstance(info.value, ValueError)
    assert info.value.field == "subject"
    for make in (
        lambda: synod.Admit(subject, "data", "h:1"),
        lambda: synod.BeginDrain(subject),
        lambda: synod.Remove(subject),
        lambda: synod.OwnershipTransition(RANGE, subject, 1),
        lambda: synod.ForcedOwnershipTransition(RANGE, PEER, subject, "why"),
        lambda: synod.LeaderConfiguration(1, subject),
    ):
        with pytest.raises(synod.InvalidIdentityError):
            make()


def test_an_identity_error_names_the_argument() -> None:
    with pytest.raises(synod.InvalidIdentityError) as info:
        synod.ForcedOwnershipTransition(RANGE, PEER, " ", "why")
    assert info.value.field == "operator"
    assert "operator" in str(info.value)
    with pytest.raises(synod.InvalidIdentityError) as info:
        synod.OwnershipTransition(RANGE, "x" * 2000, 1)
    assert info.value.field == "new_owner"
    assert "2000 bytes" in str(info.value)


@pytest.mark.parametrize("value", [None, 42, b"CN=a", ["CN=a"]])
def test_non_str_identities_are_type_errors(value: object) -> None:
    with pytest.raises(TypeError):
        synod.parse_identity(value)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        synod.BeginDrain(value)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        synod.OwnershipTransition(RANGE, value, 1)  # type: ignore[arg-type]


def test_other_names_are_invalid_arguments_not_identities() -> None:
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: synod.OwnershipTransition("", PEER, 1), "range"),
        (lambda: synod.OwnershipTransition("r" * 513, PEER, 1), "range"),
        (lambda: synod.Admit(PEER, "data", "host\x00:1"), "address"),
        (lambda: synod.Admit(PEER, "voter", "h:1"), "kind"),  # type: ignore[arg-type]
        (lambda: synod.ForcedOwnershipTransition(RANGE, PEER, LEADER, "   "), "reason"),
        (lambda: synod.OwnershipTransition(RANGE, PEER, -1), "epoch"),
        (lambda: synod.OwnershipTransition(RANGE, PEER, 2**64), "epoch"),
        (lambda: synod.LeaderConfiguration(-5, LEADER), "term"),
    ]
    for make, field in cases:
        with pytest.raises(synod.InvalidArgumentError) as info:
            make()
        assert not isinstance(info.value, synod.InvalidIdentityError), field
        assert info.value.field == field


def test_numbers_must_be_ints() -> None:
    with pytest.raises(TypeError):
        synod.OwnershipTransition(RANGE, PEER, 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        synod.OwnershipTransition(RANGE, PEER, True)
    with pytest.raises(TypeError):
        synod.LeaderConfiguration("1", LEADER)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        synod.Admit(PEER, 1, "h:1")  # type: ignore[arg-type]
    assert synod.OwnershipTransition(RANGE, PEER, 2**64 - 1).epoch == 2**64 - 1


def test_fields_read_back() -> None:
    a = synod.Admit(" CN=b ", synod.MemberKind.WITNESS, "h:2")
    assert (a.member, a.kind, a.address) == ("CN=b", synod.MemberKind.WITNESS, "h:2")
    assert synod.Admit("CN=b", "witness", "h:2") == a
    assert a.kind.value == "witness"
    t = synod.OwnershipTransition(RANGE, PEER, 7)
    assert (t.range, t.new_owner, t.epoch) == (RANGE, PEER, 7)
    f = synod.ForcedOwnershipTransition(RANGE, PEER, "CN=op", "because")
    assert (f.range, f.new_owner, f.operator, f.reason) == (RANGE, PEER, "CN=op", "because")
    c = synod.LeaderConfiguration(3, LEADER)
    assert (c.term, c.leader) == (3, LEADER)
    assert synod.BeginDrain(PEER).member == PEER
    assert synod.Remove(PEER).member == PEER


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: type(e).__name__)
def test_entries_are_frozen(entry: synod.Entry) -> None:
    for name in ("member", "range", "epoch", "term", "anything"):
        with pytest.raises(AttributeError):
            setattr(entry, name, "x")
    with pytest.raises((AttributeError, TypeError)):
        entry.__dict__  # noqa: B018 - no per-instance dict to smuggle data in


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: type(e).__name__)
def test_entries_are_hashable_values(entry: synod.Entry) -> None:
    twin = eval(repr(entry), vars(synod))  # the repr rebuilds an equal entry
    assert twin == entry and twin is not entry
    assert hash(twin) == hash(entry)
    assert len({entry, twin}) == 1
    assert entry != object()
    assert {e: i for i, e in enumerate(ENTRIES)}[entry] == ENTRIES.index(entry)


def test_different_entries_differ() -> None:
    drain: object = synod.BeginDrain(PEER)
    assert drain != synod.Remove(PEER)
    assert synod.OwnershipTransition(RANGE, PEER, 7) != synod.OwnershipTransition(RANGE, PEER, 8)
    assert len(set(ENTRIES)) == len(ENTRIES)


def test_reprs_and_strs() -> None:
    assert repr(synod.Admit(PEER, "data", "h:1")) == (
        "Admit(member='CN=node-b', kind=MemberKind.DATA, address='h:1')"
    )
    assert repr(synod.LeaderConfiguration(3, LEADER)) == (
        "LeaderConfiguration(term=3, leader='CN=node-a')"
    )
    assert str(synod.OwnershipTransition(RANGE, PEER, 7)) == (
        "move users:[0,1000) to CN=node-b at epoch 7"
    )
    assert repr(synod.MemberKind.DATA) == "MemberKind.DATA"


def test_entries_support_match() -> None:
    entry: synod.Entry = synod.OwnershipTransition(RANGE, PEER, 7)
    match entry:
        case synod.OwnershipTransition(range, owner, epoch):
            assert (range, owner, epoch) == (RANGE, PEER, 7)
        case _:
            pytest.fail("no match")


def test_entry_classes_cannot_be_subclassed() -> None:
    with pytest.raises(TypeError):
        type("Sneaky", (synod.OwnershipTransition,), {})
