"""Asyncio face of `synod.Client`.

`synod.aio.Client` has the methods of `synod.Client` as coroutines, and
`watch()` returns an asynchronous iterator of `synod.Event`s:

    import asyncio
    import synod, synod.aio

    async def main() -> None:
        async with synod.aio.Client(["127.0.0.1:7401"], cert="certs/ops.pem",
                                    key="certs/ops-key.pem", ca="certs/ca.pem") as c:
            commit = await c.propose(synod.OwnershipTransition("users:[0,1000)", "CN=node-a", 2))
            print((await c.status()).leader)
            async with c.watch(from_index=commit.index + 1) as changes:
                async for event in changes:
                    print(event.kind, event.index)

    asyncio.run(main())

How it works: each call runs the synchronous client's call (which releases
the GIL) on a thread of the client's own pool, so the event loop is never
blocked; arguments, answers, errors and timeouts are exactly the
synchronous client's (`timeout` in seconds, the client's default when
None). The pool is the client's, not the loop's default executor, so slow
calls do not hold up `asyncio.run`'s exit or the application's own
`to_thread` calls.

Cancellation: cancelling an `await` (`asyncio.wait_for`, a task's
`cancel()`, a `TaskGroup` failing) returns at once and leaves the client
usable: later calls work as before. A call that had already started goes on
alone on its thread until it ends, by its own `timeout` at the latest, and
its answer is dropped. So, as with the synchronous client's interrupted
calls, **a cancelled proposal may still commit**: read the state (e.g.
`owner_at(..., level=ReadLevel.LINEARIZABLE)`) before acting on it. A call
still queued for a thread when cancelled never starts.

Cancelling a watch's `__anext__`/`poll` loses no event and closes nothing:
an event that arrives after the cancellation is the next one the watch
returns. Only `close()` (or leaving `async with`) closes a watch; a watch
dropped unclosed stops when it is garbage-collected.

Python 3.9+; typed (checked with `mypy --strict`).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Callable, Literal, TypeVar, Union

import synod
from synod._synod import (
    AuditRecord,
    Commit,
    Event,
    FenceStatus,
    LeaderInfo,
    Member,
    Ownership,
    ReadAt,
    ReadLevel,
    ShutdownError,
    Status,
)

__all__ = ["Client", "Watch"]

_T = TypeVar("_T")
_StrPath = Union[str, "os.PathLike[str]"]
_LevelName = Literal["local", "at-least", "linearizable"]

#: How long one wait of a watch's thread lasts at most, in seconds: the
#: bound on how long a cancelled or abandoned wait keeps that thread busy.
_SLICE = 0.5

#: The default number of threads of a client's pool: calls beyond it wait
#: for a thread (a cancelled call keeps its thread until it ends).
DEFAULT_MAX_WORKERS = 32


async def _in(executor: ThreadPoolExecutor, fn: Callable[[], _T]) -> _T:
    """Runs `fn` on `executor`, with the caller's context variables (as
    `asyncio.to_thread` does)."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    return await loop.run_in_executor(executor, context.run, fn)


class Client:
    """A connection to a cluster over the client protocol, for asyncio;
    `async with` closes it.

    The arguments are `synod.Client`'s (`endpoints`, mutual TLS with
    `cert`, `key` and `ca`, or `insecure=True` with `identity`, and the
    default `timeout` in seconds), plus `max_workers`: how many calls run
    at once (the others wait for a thread). Making the client reads the
    TLS files at once (a bad one raises `InvalidArgumentError` here)."""

    def __init__(
        self,
        endpoints: str | Sequence[str],
        *,
        cert: _StrPath | None = None,
        key: _StrPath | None = None,
        ca: _StrPath | None = None,
        insecure: bool = False,
        identity: str = "CN=operator",
        timeout: float = 5.0,
        max_workers: int = DEFAULT_MAX_WORKERS,
    ) -> None:
        if max_workers < 1:
            raise synod.InvalidArgumentError(
                f"max_workers must be at least 1, not {max_workers}", field="max_workers"
            )
        self._sync = synod.Client(
            endpoints,
            cert=cert,
            key=key,
            ca=ca,
            insecure=insecure,
            identity=identity,
            timeout=timeout,
        )
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="synod-aio")

    @classmethod
    def wrap(cls, client: synod.Client, *, max_workers: int = DEFAULT_MAX_WORKERS) -> Client:
        """An asyncio client over an existing `synod.Client` (closing
        either closes both)."""
        if max_workers < 1:
            raise synod.InvalidArgumentError(
                f"max_workers must be at least 1, not {max_workers}", field="max_workers"
            )
        self = cls.__new__(cls)
        self._sync = client
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="synod-aio")
        return self

    async def _call(self, fn: Callable[[], _T]) -> _T:
        if self._sync.closed:
            raise ShutdownError("the client is closed")
        return await _in(self._pool, fn)

    # ------------------------------------------------------------ calls

    async def status(self, timeout: float | None = None) -> Status:
        """The status of the first member that answers."""
        return await self._call(lambda: self._sync.status(timeout))

    async def status_of(self, endpoint: str, timeout: float | None = None) -> Status:
        """The status of the member at `endpoint` (`host:port`)."""
        return await self._call(lambda: self._sync.status_of(endpoint, timeout))

    async def propose(self, entry: synod.Entry, timeout: float | None = None) -> Commit:
        """Proposes `entry` at the leader and waits until it commits and
        applies. Cancelled after it started, it may still commit (see the
        module's notes)."""
        return await self._call(lambda: self._sync.propose(entry, timeout))

    async def owner(
        self, range: str, linearizable: bool = False, timeout: float | None = None
    ) -> Ownership | None:
        """The owner of `range`, or None."""
        return await self._call(lambda: self._sync.owner(range, linearizable, timeout))

    async def fence_check(
        self,
        range: str,
        owner: str,
        epoch: int,
        linearizable: bool = False,
        timeout: float | None = None,
    ) -> FenceStatus:
        """Whether (`owner`, `epoch`) currently owns `range`."""
        return await self._call(
            lambda: self._sync.fence_check(range, owner, epoch, linearizable, timeout)
        )

    async def members(
        self, linearizable: bool = False, timeout: float | None = None
    ) -> list[Member]:
        """The members, in identity order."""
        return await self._call(lambda: self._sync.members(linearizable, timeout))

    async def ranges(
        self, linearizable: bool = False, timeout: float | None = None
    ) -> list[Ownership]:
        """Every owned range, in range order."""
        return await self._call(lambda: self._sync.ranges(linearizable, timeout))

    async def audit_log(
        self, linearizable: bool = False, timeout: float | None = None
    ) -> list[AuditRecord]:
        """The forced ownership transitions, oldest first."""
        return await self._call(lambda: self._sync.audit_log(linearizable, timeout))

    async def transfer_leader(self, to: str, timeout: float | None = None) -> None:
        """Asks the leader to hand leadership to member `to`."""
        await self._call(lambda: self._sync.transfer_leader(to, timeout))

    async def metrics(self, timeout: float | None = None) -> str:
        """The metrics of the first member that answers (Prometheus text)."""
        return await self._call(lambda: self._sync.metrics(timeout))

    async def owner_at(
        self,
        range: str,
        *,
        level: ReadLevel | _LevelName | None = None,
        at_least: int | None = None,
        timeout: float | None = None,
    ) -> ReadAt[Ownership | None]:
        """The owner of `range` at a read level, with the index and term the
        answer reflects (see `synod.Client.owner_at`)."""
        return await self._call(
            lambda: self._sync.owner_at(
                range,
                level=level,
                at_least=at_least,
                timeout=timeout,
            )
        )

    async def fence_check_at(
        self,
        range: str,
        owner: str,
        epoch: int,
        *,
        level: ReadLevel | _LevelName | None = None,
        at_least: int | None = None,
        timeout: float | None = None,
    ) -> ReadAt[FenceStatus]:
        """`fence_check` at a read level, with the index and term it reflects."""
        return await self._call(
            lambda: self._sync.fence_check_at(
                range,
                owner,
                epoch,
                level=level,
                at_least=at_least,
                timeout=timeout,
            )
        )

    async def members_at(
        self,
        *,
        level: ReadLevel | _LevelName | None = None,
        at_least: int | None = None,
        timeout: float | None = None,
    ) -> ReadAt[tuple[Member, ...]]:
        """The members at a read level, with the index and term they reflect."""
        return await self._call(
            lambda: self._sync.members_at(
                level=level,
                at_least=at_least,
                timeout=timeout,
            )
        )

    async def leader(self, timeout: float | None = None) -> LeaderInfo | None:
        """The leader the first member that answers knows of, or None."""
        return await self._call(lambda: self._sync.leader(timeout))

    def watch(
        self, from_index: int = 0, *, range: str | None = None, timeout: float | None = None
    ) -> Watch:
        """Every committed entry from `from_index` on, once each and in order
        across member failures, with role changes and snapshots (see
        `synod.Client.watch`), as an asynchronous iterator. It connects on
        the first `poll` or iteration (or `async with`). `timeout` bounds
        the wait for each event: when it passes with nothing new, `async
        for` ends; None waits for ever."""
        return Watch(self, from_index, range, timeout)

    # ------------------------------------------------------- the handle

    @property
    def sync_client(self) -> synod.Client:
        """The `synod.Client` beneath (its calls block the calling thread)."""
        return self._sync

    @property
    def identity(self) -> str:
        """The identity this client presents."""
        return self._sync.identity

    @property
    def endpoints(self) -> list[str]:
        """The member addresses it was given."""
        return self._sync.endpoints

    @property
    def timeout(self) -> float:
        """The default bound on each call, in seconds."""
        return self._sync.timeout

    @property
    def closed(self) -> bool:
        """Whether `close()` has been called."""
        return self._sync.closed

    async def close(self) -> None:
        """Drops the connection; later calls raise `ShutdownError`. Calls in
        flight end with their answer (`ShutdownError` if they failed); calls
        still waiting for a thread raise `ShutdownError`. Idempotent."""
        self._sync.close()
        self._pool.shutdown(wait=False)

    aclose = close

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"synod.aio.{self._sync!r}"


class Watch:
    """A change feed for asyncio: `async for event in watch`, or
    `await watch.poll(timeout)`; `async with` closes it. Made by
    `Client.watch`.

    Waiting happens on a thread of the watch's own, in slices of at most
    0.5 s, so a cancelled or abandoned wait holds nothing for long. A
    cancelled wait loses no event (the next call returns it) and closes
    nothing."""

    def __init__(
        self,
        client: Client,
        from_index: int,
        range: str | None,
        timeout: float | None,
    ) -> None:
        self._client = client
        self._from_index = from_index
        self._range = range
        self._timeout = timeout
        self._lock = threading.Lock()
        self._watch: synod.Watch | None = None
        self._closed = False
        self._pending: asyncio.Future[Event | None] | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="synod-aio-watch")

    def _poll_on_thread(self, wait: float) -> Event | None:
        """One wait of at most `wait` seconds, connecting first if need be."""
        with self._lock:
            if self._closed:
                raise ShutdownError("the watch is closed")
            watch = self._watch
        if watch is None:
            watch = self._client.sync_client.watch(
                self._from_index, range=self._range, timeout=None
            )
            with self._lock:
                if self._closed:
                    watch.close()
                    raise ShutdownError("the watch is closed")
                self._watch = watch
        return watch.poll(timeout=wait)

    async def poll(self, timeout: float | None = None) -> Event | None:
        """The next event within `timeout` seconds (the watch's own
        `timeout` when None, for ever if that is None too), or None."""
        limit = self._timeout if timeout is None else timeout
        if limit is not None and not limit >= 0:
            raise synod.InvalidArgumentError(
                f"timeout must be a non-negative number of seconds, not {limit}",
                field="timeout",
            )
        loop = asyncio.get_running_loop()
        deadline = None if limit is None else loop.time() + limit
        while True:
            pending = self._pending
            if pending is None:
                if self._closed:
                    raise ShutdownError("the watch is closed")
                wait = _SLICE if deadline is None else max(0.0, min(_SLICE, deadline - loop.time()))
                pending = self._pending = loop.run_in_executor(
                    self._thread, self._poll_on_thread, wait
                )
            try:
                # Shielded: cancelling this wait leaves the thread's wait,
                # and the event it may bring, to the next call.
                event = await asyncio.shield(pending)
            except asyncio.CancelledError:
                if pending.cancelled():
                    self._pending = None
                raise
            except BaseException:
                self._pending = None
                raise
            self._pending = None
            if event is not None:
                return event
            if deadline is not None and loop.time() >= deadline:
                return None

    def __aiter__(self) -> Watch:
        return self

    async def __anext__(self) -> Event:
        event = await self.poll()
        if event is None:
            raise StopAsyncIteration
        return event

    @property
    def next_index(self) -> int:
        """The index of the next entry event owed: a new watch from here
        continues where this one is."""
        with self._lock:
            watch = self._watch
        return self._from_index if watch is None else watch.next_index

    @property
    def timeout(self) -> float | None:
        """The bound on the wait for each event, in seconds (None: no bound)."""
        return self._timeout

    @property
    def closed(self) -> bool:
        """Whether `close()` has been called."""
        return self._closed

    async def close(self) -> None:
        """Stops the watch (and its connection); later waits raise
        `ShutdownError`, and so does a wait in progress. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            watch = self._watch
        pending = self._pending
        if pending is not None:
            # Nobody may wait for it any more: its outcome is not an error
            # to report.
            pending.add_done_callback(_quiet)
        self._thread.shutdown(wait=False)
        if watch is not None:
            # Closing waits for the watch's thread to let go of it (at most
            # about 0.1 s): not on the event loop.
            await _in(_closer, watch.close)

    aclose = close

    async def __aenter__(self) -> Watch:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return (
            f"synod.aio.Watch(next_index={self.next_index}, range={self._range!r}, "
            f"closed={self._closed})"
        )


#: Closes watches off the event loop.
_closer = ThreadPoolExecutor(4, thread_name_prefix="synod-aio-close")


def _quiet(future: asyncio.Future[Event | None]) -> None:
    if not future.cancelled():
        future.exception()
