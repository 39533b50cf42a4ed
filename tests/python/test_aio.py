"""`synod.aio`: the asyncio client against the three-member cluster of
test_cluster (each test drives its coroutine with `asyncio.run`)."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

import synod
import synod.aio
from test_cluster import Cluster, certs, cluster, free_port  # noqa: F401 (fixtures)

RANGE = "users:[0,1000)"
OTHER = "orders:[0,10)"

T = TypeVar("T")


def aio(c: synod.Client) -> synod.aio.Client:
    return synod.aio.Client.wrap(c)


async def eventually(what: str, probe: Callable[[], Awaitable[T | None]], within: float = 10.0) -> T:
    deadline = time.monotonic() + within
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            got = await probe()
            if got is not None:
                return got
        except synod.SynodError as e:
            last = e
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what}: not within {within} s (last error: {last!r})")


async def settle(watch: synod.aio.Watch) -> None:
    """Reads what the watch has to say at once (its first role event)."""
    while await watch.poll(timeout=0.5) is not None:
        pass


def transitions(events: list[synod.Event]) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    for e in events:
        if e.kind is synod.EventKind.TRANSITION:
            assert isinstance(e.entry, synod.OwnershipTransition)
            out.append((e.entry.range, e.entry.new_owner, e.entry.epoch))
    return out


def test_propose_read_and_status_through_the_asyncio_client(cluster: Cluster) -> None:
    lead = cluster.leader()

    async def main() -> None:
        # Made from the same arguments as `synod.Client`.
        ops = synod.aio.Client(
            cluster.endpoints(),
            cert=cluster.certs / "ops.pem",
            key=cluster.certs / "ops-key.pem",
            ca=cluster.certs / "ca.pem",
        )
        async with ops, aio(cluster.client("app")) as app, aio(cluster.client("reader")) as reader:
            assert ops.identity == "CN=ops" and app.identity == "CN=app"
            assert ops.endpoints == cluster.endpoints() and ops.timeout == 5.0
            commit = await app.propose(synod.OwnershipTransition(RANGE, "CN=node-b", 1))
            assert isinstance(commit, synod.Commit) and commit.changed
            await app.propose(synod.OwnershipTransition(OTHER, "CN=node-c", 1))

            # Reads of every kind, several at once.
            owner, at, fence, members_at, ranges, members = await asyncio.gather(
                reader.owner(RANGE, linearizable=True),
                reader.owner_at(RANGE, at_least=commit.index),
                reader.fence_check_at(RANGE, "CN=node-b", 1, level="linearizable"),
                reader.members_at(level=synod.ReadLevel.LINEARIZABLE),
                reader.ranges(linearizable=True),
                reader.members(),
            )
            assert owner is not None and (owner.owner, owner.epoch) == ("CN=node-b", 1)
            assert isinstance(at, synod.ReadAt) and at.index >= commit.index
            assert at.value is not None and at.value.owner == "CN=node-b"
            assert fence.value.is_current and fence.index > commit.index
            assert [m.id for m in members_at.value] == [f"CN=node-{x}" for x in "abc"]
            assert [(o.range, o.owner) for o in ranges] == [
                (OTHER, "CN=node-c"),
                (RANGE, "CN=node-b"),
            ]
            assert [m.id for m in members] == [m.id for m in members_at.value]
            stale = await reader.fence_check(RANGE, "CN=node-a", 1, linearizable=True)
            assert not stale.is_current

            status = await reader.status()
            assert status.leader == lead.id
            assert (await reader.status_of(lead.local_addr)).is_leader
            info = await reader.leader()
            assert info is not None and (info.id, info.address) == (lead.id, lead.local_addr)
            assert "synod_term" in await ops.metrics()

            # Errors are the synchronous client's.
            with pytest.raises(synod.RefusedError) as refused:
                await app.propose(synod.OwnershipTransition(RANGE, "CN=node-c", 1))
            assert refused.value.code == synod.Refusal.STALE_EPOCH
            with pytest.raises(synod.UnauthorizedError):
                await reader.propose(synod.OwnershipTransition(RANGE, "CN=node-c", 2))
            with pytest.raises(synod.InvalidArgumentError):
                await reader.owner("")

            # The operator's calls: a forced transition, its audit record, and
            # a leadership transfer.
            await ops.propose(
                synod.ForcedOwnershipTransition(RANGE, "CN=node-a", "CN=ops", "drill")
            )
            audit = await reader.audit_log(linearizable=True)
            assert [(r.range, r.new_owner, r.reason) for r in audit] == [
                (RANGE, "CN=node-a", "drill")
            ]
            target = next(m for m in cluster.members.values() if m is not lead)
            await ops.transfer_leader(target.id)

            async def moved() -> bool | None:
                s = await reader.status_of(target.local_addr, timeout=1.0)
                return True if s.is_leader else None

            await eventually("the leadership moved", moved)

    asyncio.run(main())


def test_async_for_sees_the_transitions_in_order(cluster: Cluster) -> None:
    owners = ["CN=node-a", "CN=node-b", "CN=node-c"]

    async def main() -> None:
        async with aio(cluster.client("reader")) as reader, aio(cluster.client("app")) as app:
            at = await reader.owner_at(RANGE, level=synod.ReadLevel.LINEARIZABLE)
            start = at.index + 1
            async with reader.watch(from_index=start, timeout=10.0) as watch, reader.watch(
                from_index=start, range=OTHER, timeout=10.0
            ) as only_other:
                assert watch.next_index == start and watch.timeout == 10.0
                for epoch in range(1, 6):
                    await app.propose(synod.OwnershipTransition(RANGE, owners[epoch % 3], epoch))
                await app.propose(synod.OwnershipTransition(OTHER, "CN=node-a", 1))
                events: list[synod.Event] = []
                async for event in watch:
                    events.append(event)
                    if len(transitions(events)) == 6:
                        break
                assert transitions(events) == [
                    (RANGE, owners[e % 3], e) for e in range(1, 6)
                ] + [(OTHER, "CN=node-a", 1)]
                indexed = [e.index for e in events if e.index is not None]
                assert indexed == sorted(set(indexed)) and indexed[0] >= start
                assert watch.next_index == indexed[-1] + 1

                other: list[synod.Event] = []
                async for event in only_other:
                    other.append(event)
                    if transitions(other):
                        break
                assert transitions(other) == [(OTHER, "CN=node-a", 1)]

                # With nothing new, the watch's timeout ends `async for`.
                quiet = reader.watch(from_index=watch.next_index, range="none:[0,1)", timeout=0.3)
                began = time.monotonic()
                assert [e async for e in quiet if e.kind is not synod.EventKind.ROLE] == []
                assert time.monotonic() - began < 5.0
                await quiet.close()
            assert watch.closed and only_other.closed

    asyncio.run(main())


def test_a_cancelled_await_leaves_the_client_and_the_watch_usable(cluster: Cluster) -> None:
    async def main() -> None:
        async with aio(cluster.client("reader")) as reader, aio(cluster.client("app")) as app:
            commit = await app.propose(synod.OwnershipTransition(RANGE, "CN=node-a", 1))
            # A read that waits for an index far ahead: cancelled by
            # wait_for, and by a task's cancel().
            began = time.monotonic()
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(
                    reader.owner_at(RANGE, at_least=commit.index + 1000, timeout=5.0), 0.3
                )
            assert time.monotonic() - began < 2.0, "the cancellation returned at once"
            task = asyncio.create_task(
                reader.owner_at(RANGE, at_least=commit.index + 1000, timeout=5.0)
            )
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not reader.closed
            # The same client answers at once, while those reads still wait
            # on their threads.
            began = time.monotonic()
            owner = await reader.owner(RANGE, linearizable=True, timeout=3.0)
            assert owner is not None and owner.epoch == 1
            assert time.monotonic() - began < 2.0

            # A watch whose wait is cancelled loses nothing: the entry
            # proposed after the cancellation is its next event.
            async with reader.watch(from_index=owner.index + 1, range=RANGE) as watch:
                await settle(watch)
                waiting = asyncio.create_task(watch.poll(timeout=10.0))
                await asyncio.sleep(0.3)
                waiting.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiting
                assert not watch.closed
                await app.propose(synod.OwnershipTransition(RANGE, "CN=node-b", 2))
                # Cancelled again as the event arrives: had the wait got it
                # already, the next wait returns it.
                seen: list[synod.Event] = []
                racing = asyncio.create_task(watch.poll(timeout=10.0))
                await asyncio.sleep(0)
                racing.cancel()
                try:
                    got = await racing
                    if got is not None:
                        seen.append(got)
                except asyncio.CancelledError:
                    pass
                while not transitions(seen):
                    event = await watch.poll(timeout=10.0)
                    assert event is not None, seen
                    seen.append(event)
                assert transitions(seen) == [(RANGE, "CN=node-b", 2)]

            # A proposal cancelled while it runs may still commit: what it
            # did is read back, not assumed.
            proposing = asyncio.create_task(
                app.propose(synod.OwnershipTransition(RANGE, "CN=node-c", 3))
            )
            await asyncio.sleep(0)
            proposing.cancel()
            with pytest.raises(asyncio.CancelledError):
                await proposing
            after = await reader.owner(RANGE, linearizable=True)
            assert after is not None and after.epoch in (2, 3)
            # (It may commit even after that read: another range shows the
            # client still proposes.)
            commit = await app.propose(synod.OwnershipTransition(OTHER, "CN=node-a", 1))
            assert commit.changed

    asyncio.run(main())


def test_a_slow_call_does_not_block_the_event_loop() -> None:
    # Nothing listens there: each call retries until its timeout.
    async def main() -> None:
        async with synod.aio.Client(
            f"127.0.0.1:{free_port()}", insecure=True, timeout=1.0
        ) as c:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.02)
                    ticks += 1

            ticking = asyncio.create_task(ticker())
            began = time.monotonic()
            results = await asyncio.gather(
                *[c.propose(synod.OwnershipTransition(RANGE, "CN=a", e)) for e in range(1, 5)],
                c.status(),
                return_exceptions=True,
            )
            took = time.monotonic() - began
            ticking.cancel()
            assert all(isinstance(r, synod.UnavailableError) for r in results), results
            assert 0.8 <= took < 3.0, "the calls ran side by side, each for its timeout"
            # A ticker on a blocked loop would not tick at all.
            assert ticks >= took / 0.02 * 0.25, (ticks, took)

    asyncio.run(main())


def test_async_with_closes_the_client_and_its_watches(cluster: Cluster) -> None:
    async def main() -> None:
        async with aio(cluster.client("reader")) as reader:
            status = await reader.status()
            watch = reader.watch(from_index=status.applied + 1, timeout=10.0)
            await settle(watch)
            waiting = asyncio.create_task(watch.poll())
            await asyncio.sleep(0.3)
            # Closing the watch ends a wait in progress, promptly.
            began = time.monotonic()
            await watch.close()
            with pytest.raises(synod.ShutdownError):
                await waiting
            assert time.monotonic() - began < 2.0
            assert watch.closed
            with pytest.raises(synod.ShutdownError):
                await watch.poll(0.1)
            await watch.close()  # idempotent
        assert reader.closed
        with pytest.raises(synod.ShutdownError):
            await reader.status()
        with pytest.raises(synod.ShutdownError):
            await reader.propose(synod.OwnershipTransition(RANGE, "CN=node-a", 1))
        with pytest.raises(synod.ShutdownError):
            async for _ in reader.watch():
                pass
        await reader.close()  # idempotent
        assert repr(reader).startswith("synod.aio.Client(")

    asyncio.run(main())
