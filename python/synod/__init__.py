"""Synod: a Raft-replicated control-plane log.

It holds cluster membership, the elected leader, each member's durable vote
and a fenced shard/range ownership catalog. User data never enters it: the
only things `Node.propose` accepts are the six entry classes re-exported
here (`Admit`, `BeginDrain`, `Remove`, `OwnershipTransition`,
`ForcedOwnershipTransition`, `LeaderConfiguration`).

    import synod

    with synod.Node.single("CN=node-a", "127.0.0.1:7000") as node:
        node.propose(synod.OwnershipTransition("users:[0,1000)", "CN=node-a", 1))
        assert node.owner("users:[0,1000)").owner == "CN=node-a"

Every blocking call releases the GIL and takes a `timeout` in seconds. Every
error is a `SynodError`; invalid arguments are also `ValueError`s and
`synod.TimeoutError` is also the builtin `TimeoutError`.
"""

from typing import Union

from synod._synod import (
    Admit,
    AuditRecord,
    BeginDrain,
    Commit,
    DurableVote,
    FenceStatus,
    ForcedOwnershipTransition,
    InvalidArgumentError,
    InvalidIdentityError,
    LeaderConfiguration,
    Member,
    MemberKind,
    MemberState,
    Node,
    NoQuorumError,
    NotLeaderError,
    Ownership,
    OwnershipTransition,
    RefusedError,
    Remove,
    ShutdownError,
    StorageError,
    SynodError,
    TimeoutError,
    __version__,
    parse_identity,
)

#: Any entry `Node.propose` accepts: the closed set, nothing else.
Entry = Union[
    Admit,
    BeginDrain,
    Remove,
    OwnershipTransition,
    ForcedOwnershipTransition,
    LeaderConfiguration,
]

__all__ = [
    "Admit",
    "AuditRecord",
    "BeginDrain",
    "Commit",
    "DurableVote",
    "Entry",
    "FenceStatus",
    "ForcedOwnershipTransition",
    "InvalidArgumentError",
    "InvalidIdentityError",
    "LeaderConfiguration",
    "Member",
    "MemberKind",
    "MemberState",
    "Node",
    "NoQuorumError",
    "NotLeaderError",
    "Ownership",
    "OwnershipTransition",
    "RefusedError",
    "Remove",
    "ShutdownError",
    "StorageError",
    "SynodError",
    "TimeoutError",
    "__version__",
    "parse_identity",
]
