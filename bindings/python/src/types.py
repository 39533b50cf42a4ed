# The closed sets and the immutable result objects of `synod._synod` that are
# plain Python: `enum.Enum`s (and `Refusal`, an `enum.IntEnum`) and frozen
# dataclasses.
#
# Like errors.py, this file is compiled into the extension (`include_str!`
# in pytypes.rs) and executed once at import in a namespace whose `__name__`
# is the extension's, so every class reports `__module__ == "synod._synod"`
# and pickles by reference to it. Frozen dataclasses give what the
# conventions ask of a result object for free: immutable, a `repr` with
# every field, equality, hashing and pickling. The Rust side builds them by
# calling the class with keyword arguments.

import dataclasses as _dataclasses
import enum as _enum
import typing as _typing
from typing import Any as _Any, Dict as _Dict, Optional as _Opt, Tuple as _Tuple, Union as _Union


class MemberKind(str, _enum.Enum):
    """What a member does: `DATA` members vote and may own ranges, `WITNESS`
    members vote and never own a range. A `str` enum: `MemberKind.DATA ==
    "data"`, and either form is accepted wherever a kind is."""

    DATA = "data"
    WITNESS = "witness"

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"MemberKind.{self.name}"


class MemberState(str, _enum.Enum):
    """Whether a member is serving (`ACTIVE`) or on its way out
    (`DRAINING`). A `str` enum: `MemberState.ACTIVE == "active"`."""

    ACTIVE = "active"
    DRAINING = "draining"

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"MemberState.{self.name}"


class EventKind(_enum.Enum):
    """What a watch `Event` is about."""

    #: An `OwnershipTransition` committed (`entry`, `outcome`).
    TRANSITION = "transition"
    #: A `ForcedOwnershipTransition` committed (`entry`, `outcome`).
    FORCED_TRANSITION = "forced-transition"
    #: An `Admit`, `BeginDrain` or `Remove` committed (`entry`, `outcome`).
    MEMBERSHIP = "membership"
    #: A `LeaderConfiguration` committed (`entry`, `outcome`).
    LEADER_CONFIGURATION = "leader-configuration"
    #: The role or known leader of the member the watch reads from changed
    #: (`role`, `term`, `leader`, `leader_address`); not part of the log.
    ROLE = "role"
    #: The events up to `index` are not available: `snapshot` is the
    #: catalog as of `index`, and the events that follow continue after it.
    SNAPSHOT = "snapshot"

    def __str__(self) -> str:
        return self.value


class Role(str, _enum.Enum):
    """A member's raft role. A `str` enum: `Role.LEADER == "leader"`."""

    FOLLOWER = "follower"
    CANDIDATE = "candidate"
    PRE_CANDIDATE = "pre-candidate"
    LEADER = "leader"

    def __str__(self) -> str:
        return self.value


class OutcomeKind(_enum.Enum):
    """What applying a committed entry did."""

    #: It changed the catalog, now at `version`.
    APPLIED = "applied"
    #: It was already in effect (an idempotent repeat); `version` unchanged.
    UNCHANGED = "unchanged"
    #: The catalog refused it (`refusal`, `reason`, `details`); nothing changed.
    REFUSED = "refused"
    #: A retry (same client session) of a proposal already applied at
    #: `first_index`: nothing changed now, `first` is what the first did.
    REPEAT = "repeat"
    #: A retry older than the catalog remembers: nothing changed now, and
    #: whether the first attempt took effect is no longer known.
    RETRY_TOO_OLD = "retry-too-old"

    def __str__(self) -> str:
        return self.value


class Refusal(_enum.IntEnum):
    """Why the catalog refused an entry: the stable refusal codes (never
    renumbered; the C header's `SYNOD_REFUSAL_*`). `short_name` is the
    stable short name (`RefusedError.name`, e.g. `"stale-epoch"`)."""

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
        """The stable short name, e.g. `"stale-epoch"`."""
        return self.name.lower().replace("_", "-")


class ReadLevel(_enum.Enum):
    """How fresh a read must be (`docs/adr/0008-read-levels.md`).

    `LOCAL`: what the member asked has applied, now (never waits; may be
    behind). `AT_LEAST`: at least the index given as `at_least` applied
    there (waits for it; read-your-writes from any member: pass a commit's
    index). `LINEARIZABLE`: everything committed before the call began."""

    LOCAL = "local"
    AT_LEAST = "at-least"
    LINEARIZABLE = "linearizable"

    def __str__(self) -> str:
        return self.value


@_dataclasses.dataclass(frozen=True)
class Outcome:
    """What applying a committed entry did (the same on every member)."""

    kind: OutcomeKind
    #: The catalog version after it (APPLIED, UNCHANGED), else None.
    version: _Opt[int] = None
    #: For REFUSED: why (also the refusal of `first` for a REPEAT of one).
    refusal: _Opt[Refusal] = None
    #: For REFUSED: the human-readable reason.
    reason: _Opt[str] = None
    #: For REFUSED: the refusal's facts (e.g. `range`, `current`,
    #: `proposed` for a stale epoch). Not part of the hash.
    details: _Opt[_Dict[str, _Union[str, int]]] = _dataclasses.field(default=None, hash=False)
    #: For REPEAT: what the first attempt did, and where it was applied.
    first: _Opt["Outcome"] = None
    first_index: _Opt[int] = None
    first_term: _Opt[int] = None

    @property
    def effective(self) -> bool:
        """Whether the entry took effect (applied or already in effect; for
        a repeat, whether the first attempt did)."""
        if self.kind in (OutcomeKind.APPLIED, OutcomeKind.UNCHANGED):
            return True
        if self.kind is OutcomeKind.REPEAT and self.first is not None:
            return self.first.effective
        return False


@_dataclasses.dataclass(frozen=True)
class Snapshot:
    """The catalog as of log index `index`: every member (identity order)
    and every owned range (range order)."""

    index: int
    #: The term of the entry at `index`, when the source says it (an
    #: embedded member does; a snapshot over the network does not).
    term: _Opt[int]
    members: _Tuple[_Any, ...]
    ranges: _Tuple[_Any, ...]


@_dataclasses.dataclass(frozen=True)
class Event:
    """One item of a watch: a committed entry with its outcome, a role
    change of the member read from, or a snapshot (see `EventKind`)."""

    kind: EventKind
    #: The entry's log index; for SNAPSHOT the index it is as of; None for ROLE.
    index: _Opt[int]
    #: The entry's term; for ROLE the member's term; for SNAPSHOT the term
    #: of the entry at `index` if known.
    term: _Opt[int]
    #: The committed entry (`Admit`, ..., `LeaderConfiguration`), else None.
    entry: _Any = None
    #: What applying it did, else None.
    outcome: _Opt[Outcome] = None
    #: For ROLE: the member's role now, and the leader it knows of.
    role: _Opt[Role] = None
    leader: _Opt[str] = None
    leader_address: _Opt[str] = None
    #: For SNAPSHOT: the catalog as of `index`.
    snapshot: _Opt[Snapshot] = None


_T = _typing.TypeVar("_T")


@_dataclasses.dataclass(frozen=True)
class ReadAt(_typing.Generic[_T]):
    """A read's answer (`value`) with the applied index, and the term of
    the entry at that index, it reflects."""

    value: _T
    index: int
    term: int


@_dataclasses.dataclass(frozen=True)
class LeaderInfo:
    """The leader as a member knows it: identity, address (if known) and
    the term it leads in."""

    id: str
    address: _Opt[str]
    term: int
