"""Watches: `Client.watch` across a failover and `RunningMember.watch`, on a
three-member cluster in this process (the `cluster` fixture of
test_cluster)."""

import pickle
import time
from collections.abc import Callable

import pytest

import synod
from test_cluster import Cluster, certs, cluster, eventually  # noqa: F401 (fixtures)

RANGE = "users:[0,1000)"
OTHER = "orders:[0,10)"


def transitions(events: list[synod.Event]) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    for e in events:
        if e.kind is synod.EventKind.TRANSITION:
            assert isinstance(e.entry, synod.OwnershipTransition)
            out.append((e.entry.range, e.entry.new_owner, e.entry.epoch))
    return out


def collect_until(
    watch: synod.Watch,
    done: Callable[[list[synod.Event]], bool],
    events: list[synod.Event],
    within: float = 20.0,
) -> None:
    """Reads `watch` into `events` until `done(events)` is true."""
    deadline = time.monotonic() + within
    while not done(events):
        assert time.monotonic() < deadline, f"not within {within} s: {events!r}"
        e = watch.poll(timeout=1.0)
        if e is not None:
            events.append(e)


def test_a_client_watch_sees_every_transition_once_across_a_leader_failure(
    cluster: Cluster,
) -> None:
    lead = cluster.leader()
    others = [m for m in cluster.members.values() if m is not lead]
    # The watch reads from its first endpoint: the leader, closed below.
    endpoints = [lead.local_addr] + [m.local_addr for m in others]
    owners = ["CN=node-a", "CN=node-b", "CN=node-c"]
    with cluster.client("reader", endpoints=endpoints) as reader, cluster.client(
        "app", timeout=15.0
    ) as app:
        # From past everything committed so far: the transitions below are
        # events of this watch, never folded into a snapshot (a watch from
        # 0 starts with the catalog as it is when it connects, which may
        # already hold them).
        start = reader.owner_at(RANGE, level=synod.ReadLevel.LINEARIZABLE).index + 1
        watch = reader.watch(from_index=start, timeout=10.0)
        assert isinstance(watch, synod.Watch) and watch.next_index == start
        for epoch in range(1, 4):
            app.propose(synod.OwnershipTransition(RANGE, owners[epoch % 3], epoch))
        events: list[synod.Event] = []
        collect_until(watch, lambda ev: len(transitions(ev)) >= 3, events)
        lead.close()
        for epoch in range(4, 8):
            app.propose(synod.OwnershipTransition(RANGE, owners[epoch % 3], epoch))
        collect_until(watch, lambda ev: len(transitions(ev)) >= 7, events)
        watch.close()
        assert watch.closed
        with pytest.raises(synod.ShutdownError):
            next(watch)

    expected = [(RANGE, owners[e % 3], e) for e in range(1, 8)]
    assert transitions(events) == expected, "every transition once, in order"
    indexed = [e.index for e in events if e.index is not None]
    assert len(indexed) == len([e for e in events if e.kind is not synod.EventKind.ROLE])
    assert indexed == sorted(set(indexed)), "no index twice, in log order"
    for e in events:
        if e.kind is synod.EventKind.TRANSITION:
            assert e.outcome is not None and e.outcome.kind is synod.OutcomeKind.APPLIED
            assert e.outcome.effective and e.outcome.version is not None
            assert e.term is not None and e.term >= 1


def test_a_member_watch_yields_entries_roles_and_a_snapshot(cluster: Cluster) -> None:
    follower = cluster.followers()[0]
    with cluster.client("app") as app:
        first = app.propose(synod.OwnershipTransition(OTHER, "CN=node-a", 1))
        # From 0: this member's history may start later, so it may begin
        # with the catalog as of an index (a SNAPSHOT), then the events.
        watch = follower.watch(timeout=5.0)
        events: list[synod.Event] = []
        collect_until(
            watch,
            lambda ev: any(
                (e.kind is synod.EventKind.TRANSITION and e.index == first.index)
                or (
                    e.kind is synod.EventKind.SNAPSHOT
                    and e.snapshot is not None
                    and e.snapshot.index >= first.index
                )
                for e in ev
            ),
            events,
        )
        commit = app.propose(synod.OwnershipTransition(RANGE, "CN=node-b", 1))
        with pytest.raises(synod.RefusedError):
            app.propose(synod.OwnershipTransition(RANGE, "CN=node-c", 3))
        collect_until(
            watch, lambda ev: any(e.index == commit.index for e in ev), events
        )
    snapshots = [e for e in events if e.kind is synod.EventKind.SNAPSHOT]
    for s in snapshots:
        assert s.snapshot is not None and s.snapshot.index == s.index
        assert s.snapshot.term is not None, "a member's snapshot knows its term"
        assert [m.id for m in s.snapshot.members] == ["CN=node-a", "CN=node-b", "CN=node-c"]
    ev = next(e for e in events if e.index == commit.index)
    assert ev.kind is synod.EventKind.TRANSITION
    assert ev.entry == synod.OwnershipTransition(RANGE, "CN=node-b", 1)
    assert (ev.index, ev.term) == (commit.index, commit.term)
    assert ev.outcome == synod.Outcome(synod.OutcomeKind.APPLIED, version=commit.version)
    assert watch.next_index == commit.index + 1
    # Nothing more within the timeout: iteration stops, and resumes later.
    t0 = time.monotonic()
    later = list(follower.watch(commit.index + 1, timeout=0.3))
    # A new watch first says the member's role as it is.
    assert [e.kind for e in later] == [synod.EventKind.ROLE]
    assert later[0].role is synod.Role.FOLLOWER
    assert time.monotonic() - t0 < 3.0
    # Pickling and repr of what a watch yields.
    assert pickle.loads(pickle.dumps(ev)) == ev
    assert repr(ev).startswith("Event(kind=<EventKind.TRANSITION: 'transition'>, index=")
    assert "OwnershipTransition(range='users:[0,1000)'" in repr(ev)
    with pytest.raises(AttributeError):
        ev.index = 7  # type: ignore[misc]
    watch.close()


def test_a_watch_limited_to_a_range_and_role_changes(cluster: Cluster) -> None:
    lead = cluster.leader()
    target = cluster.followers()[0]
    with cluster.client("ops") as ops:
        start = ops.propose(synod.OwnershipTransition(OTHER, "CN=node-a", 1)).index + 1
        watch = target.watch(start, range=RANGE, timeout=5.0)
        ops.propose(synod.OwnershipTransition(OTHER, "CN=node-a", 2))
        ops.propose(synod.OwnershipTransition(RANGE, "CN=node-a", 1))
        ops.transfer_leader(target.id)
        events: list[synod.Event] = []
        collect_until(
            watch,
            lambda ev: any(e.role is synod.Role.LEADER for e in ev) and len(transitions(ev)) == 1,
            events,
        )
    assert transitions(events) == [(RANGE, "CN=node-a", 1)], "only the range's entries"
    role = next(e for e in events if e.role is synod.Role.LEADER)
    assert role.kind is synod.EventKind.ROLE and role.index is None
    assert (role.leader, role.leader_address) == (target.id, target.local_addr)
    assert role.role == "leader", "Role is a str enum"
    assert lead.id != target.id
    with pytest.raises(synod.InvalidArgumentError):
        target.watch(range="")
    with pytest.raises(synod.InvalidArgumentError):
        target.watch(-1)
