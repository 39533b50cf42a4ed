# Hand-written stubs for the extension module `synod._synod`.
# Checked against the built module with `python -m mypy.stubtest synod._synod`
# (tests/python/run.sh); keep both in step.

import builtins
import enum
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Generic, Literal, TypeVar, Union, final

__all__ = [
    "__version__",
    "SynodError",
    "InvalidArgumentError",
    "InvalidIdentityError",
    "NotLeaderError",
    "NoQuorumError",
    "TimeoutError",
    "RefusedError",
    "ShutdownError",
    "StorageError",
    "UnauthorizedError",
    "UnavailableError",
    "TlsError",
    "IndeterminateError",
    "OverloadedError",
    "MemberKind",
    "Admit",
    "BeginDrain",
    "Remove",
    "OwnershipTransition",
    "ForcedOwnershipTransition",
    "LeaderConfiguration",
    "Node",
    "Commit",
    "Ownership",
    "FenceStatus",
    "MemberState",
    "Member",
    "AuditRecord",
    "DurableVote",
    "Client",
    "Peer",
    "Status",
    "RevocationSummary",
    "Config",
    "RunningMember",
    "Watch",
    "EventKind",
    "Role",
    "OutcomeKind",
    "Refusal",
    "ReadLevel",
    "Outcome",
    "Snapshot",
    "Event",
    "ReadAt",
    "LeaderInfo",
    "parse_identity",
    "write_dev_certs",
    "log_dropped",
    "refresh_logging",
    "flush_logs",
]

__version__: str

_KindName = Literal["data", "witness"]
_LevelName = Literal["local", "at-least", "linearizable"]

# ---------------------------------------------------------------- exceptions

class SynodError(Exception):
    """The base of every error Synod raises."""

class InvalidArgumentError(SynodError, ValueError):
    """An argument was refused before anything reached the control plane."""

    field: str | None
    def __init__(self, message: str, *, field: str | None = None) -> None: ...

class InvalidIdentityError(InvalidArgumentError):
    """A member identity (certificate subject) was refused."""

class NotLeaderError(SynodError):
    """This member is not the leader; `leader` is the one it knows of."""

    leader: str | None
    leader_address: str | None
    def __init__(
        self,
        message: str,
        *,
        leader: str | None = None,
        leader_address: str | None = None,
    ) -> None: ...

class NoQuorumError(SynodError):
    """The leader could not replicate the entry to a majority."""

class TimeoutError(SynodError, builtins.TimeoutError):
    """The deadline passed before the outcome was known."""

    timeout: float | None
    def __init__(self, message: str, *, timeout: float | None = None) -> None: ...

class RefusedError(SynodError):
    """The catalog refused the entry; nothing changed. `code` is a `Refusal`
    (an `IntEnum`; a plain int for a code this build does not know)."""

    code: int
    name: str
    reason: str
    details: dict[str, str | int]
    index: int | None
    term: int | None
    def __init__(
        self,
        message: str,
        *,
        code: int,
        name: str,
        reason: str,
        details: dict[str, str | int],
        index: int | None = None,
        term: int | None = None,
    ) -> None: ...

class ShutdownError(SynodError):
    """The node is closed or shutting down, or the member stopped: raised by
    every call on a stopped member, reads included."""

class StorageError(SynodError):
    """Durable storage failed; the member stopped on it and raises this from
    every later call, reads included."""

class UnauthorizedError(SynodError, builtins.PermissionError):
    """The member refused the request: the client's identity may not do this."""

    identity: str | None
    def __init__(self, message: str, *, identity: str | None = None) -> None: ...

class UnavailableError(SynodError, builtins.ConnectionError):
    """No member could be reached or could serve the call before the deadline."""

class TlsError(UnavailableError):
    """Every member refused the TLS handshake, or none presented a trusted certificate: raised at once."""

class IndeterminateError(SynodError):
    """Whether the proposal took effect is not known: it may have committed."""

class OverloadedError(SynodError):
    """The member had too many calls in flight; nothing was proposed."""

# ------------------------------------------------------------------ entries

class MemberKind(str, enum.Enum):
    """What a member does: `DATA` votes and may own ranges, `WITNESS` only
    votes. A `str` enum: `MemberKind.DATA == "data"`."""

    DATA = "data"
    WITNESS = "witness"
    def __new__(cls, value: str) -> MemberKind: ...

@final
class Admit:
    """Admit a member with its kind and peer address."""

    __match_args__: ClassVar[tuple[str, str, str]]
    def __new__(cls, member: str, kind: MemberKind | _KindName, address: str) -> Admit: ...
    @property
    def member(self) -> str: ...
    @property
    def kind(self) -> MemberKind: ...
    @property
    def address(self) -> str: ...

@final
class BeginDrain:
    """Start draining a member: it is no longer eligible as a new owner."""

    __match_args__: ClassVar[tuple[str]]
    def __new__(cls, member: str) -> BeginDrain: ...
    @property
    def member(self) -> str: ...

@final
class Remove:
    """Remove a member from the authorized set (refused while it owns ranges)."""

    __match_args__: ClassVar[tuple[str]]
    def __new__(cls, member: str) -> Remove: ...
    @property
    def member(self) -> str: ...

@final
class OwnershipTransition:
    """A fenced change of a range's owner to `new_owner` at `epoch`."""

    __match_args__: ClassVar[tuple[str, str, str]]
    def __new__(cls, range: str, new_owner: str, epoch: int) -> OwnershipTransition: ...
    @property
    def range(self) -> str: ...
    @property
    def new_owner(self) -> str: ...
    @property
    def epoch(self) -> int: ...

@final
class ForcedOwnershipTransition:
    """An operator's audited override of a range's owner."""

    __match_args__: ClassVar[tuple[str, str, str, str]]
    def __new__(
        cls, range: str, new_owner: str, operator: str, reason: str
    ) -> ForcedOwnershipTransition: ...
    @property
    def range(self) -> str: ...
    @property
    def new_owner(self) -> str: ...
    @property
    def operator(self) -> str: ...
    @property
    def reason(self) -> str: ...

@final
class LeaderConfiguration:
    """The record that `term` elected `leader`."""

    __match_args__: ClassVar[tuple[str, str]]
    def __new__(cls, term: int, leader: str) -> LeaderConfiguration: ...
    @property
    def term(self) -> int: ...
    @property
    def leader(self) -> str: ...

_Entry = Union[
    Admit,
    BeginDrain,
    Remove,
    OwnershipTransition,
    ForcedOwnershipTransition,
    LeaderConfiguration,
]

def parse_identity(subject: str) -> str:
    """Validates a certificate subject as a member identity and returns it."""

# ------------------------------------------------------------------ answers

@final
class Commit:
    """A proposal that committed and took effect."""

    @property
    def index(self) -> int: ...
    @property
    def term(self) -> int: ...
    @property
    def version(self) -> int: ...
    @property
    def changed(self) -> bool: ...

@final
class Ownership:
    """Who owns a range, and which log entry made it so."""

    @property
    def range(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def epoch(self) -> int: ...
    @property
    def version(self) -> int: ...
    @property
    def term(self) -> int: ...
    @property
    def index(self) -> int: ...

@final
class FenceStatus:
    """The answer of `Node.fence_check`; only `"current"` authorizes the pair."""

    @property
    def status(self) -> Literal["current", "stale", "unknown"]: ...
    @property
    def current_owner(self) -> str | None: ...
    @property
    def current_epoch(self) -> int | None: ...
    @property
    def is_current(self) -> bool: ...
    @property
    def is_stale(self) -> bool: ...
    @property
    def is_unknown(self) -> bool: ...

class MemberState(str, enum.Enum):
    """Whether a member is serving (`ACTIVE`) or on its way out (`DRAINING`).
    A `str` enum: `MemberState.ACTIVE == "active"`."""

    ACTIVE = "active"
    DRAINING = "draining"
    def __new__(cls, value: str) -> MemberState: ...

@final
class Member:
    """A member as the catalog knows it."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> MemberKind: ...
    @property
    def address(self) -> str: ...
    @property
    def state(self) -> MemberState: ...
    @property
    def peer_id(self) -> int: ...

@final
class AuditRecord:
    """One forced ownership transition, as kept in the audit list."""

    @property
    def index(self) -> int: ...
    @property
    def term(self) -> int: ...
    @property
    def range(self) -> str: ...
    @property
    def previous_owner(self) -> str | None: ...
    @property
    def previous_epoch(self) -> int: ...
    @property
    def new_owner(self) -> str: ...
    @property
    def epoch(self) -> int: ...
    @property
    def operator(self) -> str: ...
    @property
    def reason(self) -> str: ...

@final
class DurableVote:
    """The persisted vote state."""

    @property
    def term(self) -> int: ...
    @property
    def voted_for(self) -> str | None: ...

# --------------------------------------------------------------------- node

@final
class Node:
    """A control-plane member; `with` closes it.

    A member that stopped (its `RunningMember` closed, a storage failure, its
    removal) raises `ShutdownError` (`StorageError` after a storage failure)
    from every method and property but `id` and `closed`, reads included."""

    @staticmethod
    def single(
        identity: str, address: str, kind: MemberKind | _KindName = "data"
    ) -> Node: ...
    def propose(self, entry: _Entry, timeout: float = 5.0) -> Commit: ...
    def owner(self, range: str) -> Ownership | None: ...
    def fence_check(self, range: str, owner: str, epoch: int) -> FenceStatus: ...
    def members(self) -> list[Member]: ...
    def audit_log(self) -> list[AuditRecord]: ...
    @property
    def id(self) -> str: ...
    @property
    def current_term(self) -> int: ...
    @property
    def leader(self) -> str | None: ...
    @property
    def is_leader(self) -> bool: ...
    @property
    def commit_index(self) -> int | None: ...
    @property
    def applied_index(self) -> int: ...
    @property
    def durable_vote(self) -> DurableVote: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> Node: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

# ------------------------------------------------------------------- network

_StrPath = Union[str, os.PathLike[str]]

@final
class Status:
    """A member's view of itself and the cluster."""

    @property
    def id(self) -> str: ...
    @property
    def peer_id(self) -> int: ...
    @property
    def role(self) -> Role:
        """Its role (a `str` enum: `status.role == "leader"` holds)."""
    @property
    def term(self) -> int: ...
    @property
    def leader(self) -> str | None: ...
    @property
    def leader_address(self) -> str | None: ...
    @property
    def commit(self) -> int: ...
    @property
    def applied(self) -> int: ...
    @property
    def catalog_version(self) -> int: ...
    @property
    def voters(self) -> list[str]:
        """The voters' identities (`peer <id>` for a peer id the catalog does not name yet)."""
    @property
    def learners(self) -> list[str]:
        """The learners' identities, as `voters`."""
    @property
    def peers(self) -> list[Peer]:
        """Every voter and learner; in the leader's status, with each follower's progress."""
    @property
    def is_leader(self) -> bool: ...

@final
class Peer:
    """A voter or learner as a member's status sees it."""

    @property
    def peer_id(self) -> int: ...
    @property
    def id(self) -> str | None: ...
    @property
    def address(self) -> str | None: ...
    @property
    def voter(self) -> bool: ...
    @property
    def matched(self) -> int | None:
        """The highest index known replicated to it (leader's status only)."""
    @property
    def lag(self) -> int | None:
        """Entries behind the leader's last one (leader's status only)."""

@final
class Client:
    """A connection to a cluster over the client protocol; `with` closes it."""

    def __new__(
        cls,
        endpoints: str | Sequence[str],
        *,
        cert: _StrPath | None = None,
        key: _StrPath | None = None,
        ca: _StrPath | None = None,
        insecure: bool = False,
        identity: str = "CN=operator",
        timeout: float = 5.0,
    ) -> Client: ...
    def status(self, timeout: float | None = None) -> Status: ...
    def status_of(self, endpoint: str, timeout: float | None = None) -> Status: ...
    def propose(self, entry: _Entry, timeout: float | None = None) -> Commit: ...
    def owner(
        self, range: str, linearizable: bool = False, timeout: float | None = None
    ) -> Ownership | None: ...
    def fence_check(
        self,
        range: str,
        owner: str,
        epoch: int,
        linearizable: bool = False,
        timeout: float | None = None,
    ) -> FenceStatus: ...
    def members(
        self, linearizable: bool = False, timeout: float | None = None
    ) -> list[Member]: ...
    def ranges(
        self, linearizable: bool = False, timeout: float | None = None
    ) -> list[Ownership]: ...
    def audit_log(
        self, linearizable: bool = False, timeout: float | None = None
    ) -> list[AuditRecord]: ...
    def transfer_leader(self, to: str, timeout: float | None = None) -> None: ...
    def metrics(self, timeout: float | None = None) -> str: ...
    def owner_at(
        self,
        range: str,
        *,
        level: ReadLevel | _LevelName | None = None,
        at_least: int | None = None,
        timeout: float | None = None,
    ) -> ReadAt[Ownership | None]:
        """The owner of `range` at a read level (`LOCAL` by default,
        `AT_LEAST` with `at_least`, `LINEARIZABLE`), with the index and term
        the answer reflects."""
    def fence_check_at(
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
    def members_at(
        self,
        *,
        level: ReadLevel | _LevelName | None = None,
        at_least: int | None = None,
        timeout: float | None = None,
    ) -> ReadAt[tuple[Member, ...]]:
        """The members at a read level, with the index and term they reflect."""
    def leader(self, timeout: float | None = None) -> LeaderInfo | None:
        """The leader the first member that answers knows of, or None."""
    def watch(
        self, from_index: int = 0, *, range: str | None = None, timeout: float | None = None
    ) -> Watch:
        """Every committed entry from `from_index` on, once each and in order
        across member failures, with role changes and snapshots."""
    @property
    def identity(self) -> str: ...
    @property
    def endpoints(self) -> list[str]: ...
    @property
    def timeout(self) -> float: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> Client: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

# -------------------------------------------------------------------- watch

class EventKind(enum.Enum):
    """What a watch `Event` is about."""

    TRANSITION = "transition"
    FORCED_TRANSITION = "forced-transition"
    MEMBERSHIP = "membership"
    LEADER_CONFIGURATION = "leader-configuration"
    ROLE = "role"
    SNAPSHOT = "snapshot"

class Role(str, enum.Enum):
    """A member's raft role. A `str` enum: `Role.LEADER == "leader"`."""

    FOLLOWER = "follower"
    CANDIDATE = "candidate"
    PRE_CANDIDATE = "pre-candidate"
    LEADER = "leader"
    def __new__(cls, value: str) -> Role: ...

class OutcomeKind(enum.Enum):
    """What applying a committed entry did."""

    APPLIED = "applied"
    UNCHANGED = "unchanged"
    REFUSED = "refused"
    REPEAT = "repeat"
    RETRY_TOO_OLD = "retry-too-old"

class Refusal(enum.IntEnum):
    """Why the catalog refused an entry: the stable refusal codes (the C
    header's `SYNOD_REFUSAL_*`)."""

    UNKNOWN_MEMBER = 1
    MEMBER_CONFLICT = 2
    MEMBER_DRAINING = 3
    MEMBER_OWNS_RANGES = 4
    LAST_MEMBER = 5
    WITNESS_CANNOT_OWN = 6
    STALE_EPOCH = 7
    EPOCH_EXHAUSTED = 8
    TERM_REGRESSED = 9
    CONFLICTING_LEADER = 10
    LEADER_CONFIGURATION_NOT_CURRENT = 11
    EPOCH_NOT_NEXT = 12
    CATALOG_FULL = 13
    @property
    def short_name(self) -> str:
        """The stable short name, e.g. `"stale-epoch"` (`RefusedError.name`)."""

class ReadLevel(enum.Enum):
    """How fresh a read must be: `LOCAL` (what the member applied, now),
    `AT_LEAST` (at least the index given as `at_least`), `LINEARIZABLE`
    (everything committed before the call began)."""

    LOCAL = "local"
    AT_LEAST = "at-least"
    LINEARIZABLE = "linearizable"

@dataclass(frozen=True)
class Outcome:
    """What applying a committed entry did (the same on every member)."""

    kind: OutcomeKind
    version: int | None = None
    refusal: Refusal | None = None
    reason: str | None = None
    details: dict[str, str | int] | None = None
    first: Outcome | None = None
    first_index: int | None = None
    first_term: int | None = None
    @property
    def effective(self) -> bool:
        """Whether the entry took effect (for a repeat, whether the first did)."""

@dataclass(frozen=True)
class Snapshot:
    """The catalog as of log index `index`: members and owned ranges."""

    index: int
    term: int | None
    members: tuple[Member, ...]
    ranges: tuple[Ownership, ...]

@dataclass(frozen=True)
class Event:
    """One item of a watch: a committed entry with its outcome (`entry`,
    `outcome`), a role change (`role`, `leader`, `leader_address`) or a
    snapshot (`snapshot`); `kind` says which."""

    kind: EventKind
    index: int | None
    term: int | None
    entry: _Entry | None = None
    outcome: Outcome | None = None
    role: Role | None = None
    leader: str | None = None
    leader_address: str | None = None
    snapshot: Snapshot | None = None

_T = TypeVar("_T")

@dataclass(frozen=True)
class ReadAt(Generic[_T]):
    """A read's answer with the applied index and term it reflects."""

    value: _T
    index: int
    term: int

@dataclass(frozen=True)
class LeaderInfo:
    """The leader as a member knows it."""

    id: str
    address: str | None
    term: int

@final
class Watch:
    """A change feed: an iterator of `Event`s; `with` closes it.

    Iteration releases the GIL and answers Ctrl-C within about 100 ms.
    `timeout` bounds the wait for each event: when it passes with nothing
    new, iteration stops (`StopIteration`); iterating again resumes."""

    def __iter__(self) -> Watch: ...
    def __next__(self) -> Event: ...
    def poll(self, timeout: float | None = None) -> Event | None:
        """The next event within `timeout` seconds, or None."""
    @property
    def next_index(self) -> int: ...
    @property
    def timeout(self) -> float | None: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> Watch: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

@final
class RevocationSummary:
    """What `RunningMember.reload_revocation` put in force."""

    @property
    def denied(self) -> int: ...
    @property
    def crls(self) -> int: ...

_Founder = Union[
    tuple[str, str],
    tuple[str, MemberKind | _KindName, str],
    dict[str, str | MemberKind],
]

@final
class Config:
    """A member's configuration: one keyword per key of the configuration
    file (docs/configuration.md), checked whole when made (a refusal is an
    `InvalidArgumentError` whose `field` is the keyword; a wrong type a
    `TypeError`). Frozen: `replace` makes a new one. `None` (and `False`,
    `()`) means the file's default."""

    def __new__(
        cls,
        *,
        id: str,
        listen: str,
        data_dir: _StrPath,
        cert: _StrPath | None = None,
        key: _StrPath | None = None,
        ca: _StrPath | None = None,
        insecure: bool = False,
        allow_insecure_non_loopback: bool = False,
        allow_key_readable_by_others: bool = False,
        deny: Sequence[str] = (),
        crl: _StrPath | None = None,
        bootstrap: Sequence[_Founder] | None = None,
        join: str | None = None,
        readers: Sequence[str] = (),
        proposers: Sequence[str] = (),
        operators: Sequence[str] = (),
        tick_ms: int | None = None,
        heartbeat_ticks: int | None = None,
        election_ticks: int | None = None,
        snapshot_every: int | None = None,
        max_learner_lag: int | None = None,
        max_pending_calls: int | None = None,
        max_inbound_messages: int | None = None,
        watch_history: int | None = None,
        metrics_listen: str | int | None = None,
        max_inbound: int | None = None,
        max_client_connections: int | None = None,
        max_client_connections_per_identity: int | None = None,
    ) -> Config: ...
    @classmethod
    def from_file(cls, path: _StrPath) -> Config:
        """Reads a configuration file, checked whole; relative paths are
        made absolute against its directory."""
    def replace(self, **changes: Any) -> Config:
        """A new `Config` with `changes` (None resets a key), checked whole."""
    def to_toml(self) -> str:
        """The text of the configuration file it stands for (paths absolute)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    @property
    def id(self) -> str: ...
    @property
    def listen(self) -> str: ...
    @property
    def data_dir(self) -> str: ...
    @property
    def cert(self) -> str | None: ...
    @property
    def key(self) -> str | None: ...
    @property
    def ca(self) -> str | None: ...
    @property
    def insecure(self) -> bool: ...
    @property
    def allow_insecure_non_loopback(self) -> bool: ...
    @property
    def allow_key_readable_by_others(self) -> bool: ...
    @property
    def deny(self) -> tuple[str, ...]: ...
    @property
    def crl(self) -> str | None: ...
    @property
    def bootstrap(self) -> tuple[tuple[str, str, str], ...] | None:
        """The founding members as `(id, kind, address)`; None: it joins."""
    @property
    def join(self) -> str | None: ...
    @property
    def readers(self) -> tuple[str, ...]: ...
    @property
    def proposers(self) -> tuple[str, ...]: ...
    @property
    def operators(self) -> tuple[str, ...]: ...
    @property
    def tick_ms(self) -> int | None: ...
    @property
    def heartbeat_ticks(self) -> int | None: ...
    @property
    def election_ticks(self) -> int | None: ...
    @property
    def snapshot_every(self) -> int | None: ...
    @property
    def max_learner_lag(self) -> int | None: ...
    @property
    def max_pending_calls(self) -> int | None: ...
    @property
    def max_inbound_messages(self) -> int | None: ...
    @property
    def watch_history(self) -> int | None: ...
    @property
    def metrics_listen(self) -> str | None: ...
    @property
    def max_inbound(self) -> int | None: ...
    @property
    def max_client_connections(self) -> int | None: ...
    @property
    def max_client_connections_per_identity(self) -> int | None: ...

@final
class RunningMember:
    """One member of a cluster, running in this process; `with` stops it."""

    @staticmethod
    def start(config_path: _StrPath | Config) -> RunningMember:
        """Starts the member of a configuration file or a `Config`."""
    @property
    def node(self) -> Node: ...
    @property
    def id(self) -> str: ...
    @property
    def local_addr(self) -> str: ...
    @property
    def metrics_addr(self) -> str | None: ...
    def metrics(self) -> str: ...
    def owner_at(
        self,
        range: str,
        *,
        level: ReadLevel | _LevelName | None = None,
        at_least: int | None = None,
        timeout: float = 5.0,
    ) -> ReadAt[Ownership | None]:
        """The owner of `range` at a read level (`LOCAL` by default,
        `AT_LEAST` with `at_least`, `LINEARIZABLE`), with the index and term
        the answer reflects."""
    def fence_check_at(
        self,
        range: str,
        owner: str,
        epoch: int,
        *,
        level: ReadLevel | _LevelName | None = None,
        at_least: int | None = None,
        timeout: float = 5.0,
    ) -> ReadAt[FenceStatus]:
        """`fence_check` at a read level, with the index and term it reflects."""
    def members_at(
        self,
        *,
        level: ReadLevel | _LevelName | None = None,
        at_least: int | None = None,
        timeout: float = 5.0,
    ) -> ReadAt[tuple[Member, ...]]:
        """The members at a read level, with the index and term they reflect."""
    def wait_applied(self, index: int, timeout: float = 5.0) -> tuple[int, int]:
        """Waits until this member applied `index`; returns the `(index, term)`
        it has applied then."""
    def leader(self) -> LeaderInfo | None:
        """The leader this member knows of (identity, address, term), or None."""
    def watch(
        self, from_index: int = 0, *, range: str | None = None, timeout: float | None = None
    ) -> Watch:
        """Every entry this member applies from `from_index` on, with its role
        changes and snapshots."""
    def reload_revocation(self, config_path: _StrPath | None = None) -> RevocationSummary:
        """Puts the configuration's `[tls] deny` and `crl` in force without a restart."""
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> RunningMember: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

def write_dev_certs(
    out_dir: _StrPath, nodes: Sequence[str], clients: Sequence[str] = ()
) -> list[Path]:
    """Writes a development CA and a certificate per name; returns the paths."""

def _scripted_node(
    identity: str,
    address: str,
    *,
    delay: float = 0.0,
    fail: Literal["not-leader", "no-quorum", "storage", "shutdown"] | None = None,
    leader: str | None = None,
    leader_address: str | None = None,
    stopped: Literal["storage", "shutdown"] | None = None,
) -> Node:
    """Test hook, not API: a node whose proposals are slowed or made to fail,
    or that plays a member that stopped (`stopped`)."""

# ------------------------------------------------------------------ logging

def log_dropped() -> int:
    """How many of the library's log records were dropped since import
    because the queue to the `logging` thread was full (or logging had
    stopped). Each loss is also reported by a WARNING on the `synod`
    logger (at most one a second)."""

def refresh_logging() -> None:
    """Re-reads now which levels the `synod` loggers are enabled for (done
    every 0.25 s anyway): call it after configuring logging so that the
    very next records are kept."""

def flush_logs(timeout: float = 5.0) -> bool:
    """Waits until every record made before the call has been handed to
    `logging` (records reach it from a thread of the library); True if so
    within `timeout` seconds. Releases the GIL; Ctrl-C interrupts it."""

def _log_test_emit(
    count: int, level: Literal["error", "warn", "info", "debug", "trace"] = "info"
) -> None:
    """Test hook, not API: `count` records on target `synod::testing`
    (logger `synod.testing`) at `level`, made without releasing the GIL."""
