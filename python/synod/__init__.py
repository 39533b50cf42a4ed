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

A real cluster is driven over the network with `Client` (mutual TLS; it
follows the leader), and a member can run inside this process with
`RunningMember.start(config)`, `config` a configuration file's path or a
`synod.Config` built in code (one keyword per key of the file, checked when
made); `write_dev_certs` makes a development CA:

    with synod.Client(["127.0.0.1:7401"], cert="certs/ops.pem",
                      key="certs/ops-key.pem", ca="certs/ca.pem") as client:
        client.propose(synod.OwnershipTransition("users:[0,1000)", "CN=node-a", 2))
        print(client.status().leader)

Every blocking call releases the GIL and takes a `timeout` in seconds. Every
error is a `SynodError`; invalid arguments are also `ValueError`s,
`synod.TimeoutError` is also the builtin `TimeoutError`,
`UnauthorizedError` a `PermissionError` and `UnavailableError` (no member
reachable) a `ConnectionError`. A proposal that fails with any error but
`TimeoutError` and `IndeterminateError` did not take effect; after those two,
read the state before acting. `OverloadedError` (the member has as many calls
in flight as it takes) means nothing was proposed: retry later. A member that stopped (closed, failed on its
storage, removed) raises `ShutdownError` (`StorageError` after a storage
failure) from every call, reads included, rather than answer None or an
empty list.

Logging: the library's records go to Python's `logging`, under the `synod`
logger (target `synod::transport::tcp` to the logger `synod.transport.tcp`,
raft's records to `synod.raft`), with their key/value fields in
`record.synod_fields` (a dict, also appended to the message as `key=value`).
Nothing is printed unless the application configures logging. Records reach
`logging` from a thread of the library through a bounded queue: a level no
`synod` logger is enabled for costs nothing (the levels are re-read every
0.25 s, or at once by `refresh_logging()`), records dropped when the queue
is full are counted by `log_dropped()` and reported as a WARNING, and
`flush_logs()` waits until those made so far were handed over.

For asyncio, `synod.aio.Client` has `Client`'s methods as coroutines and an
`async for` watch (import `synod.aio`).
"""

from typing import Union

from synod._synod import (
    Admit,
    AuditRecord,
    BeginDrain,
    Client,
    Commit,
    Config,
    DurableVote,
    Event,
    EventKind,
    FenceStatus,
    ForcedOwnershipTransition,
    IndeterminateError,
    InvalidArgumentError,
    InvalidIdentityError,
    LeaderConfiguration,
    LeaderInfo,
    Member,
    MemberKind,
    MemberState,
    NoQuorumError,
    Node,
    NotLeaderError,
    Outcome,
    OutcomeKind,
    OverloadedError,
    Ownership,
    OwnershipTransition,
    ReadAt,
    ReadLevel,
    Refusal,
    RefusedError,
    Remove,
    RevocationSummary,
    Role,
    RunningMember,
    ShutdownError,
    Snapshot,
    Peer,
    Status,
    StorageError,
    SynodError,
    TimeoutError,
    UnauthorizedError,
    UnavailableError,
    TlsError,
    Watch,
    __version__,
    flush_logs,
    log_dropped,
    parse_identity,
    refresh_logging,
    write_dev_certs,
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
    "Client",
    "Commit",
    "Config",
    "DurableVote",
    "Entry",
    "Event",
    "EventKind",
    "FenceStatus",
    "ForcedOwnershipTransition",
    "IndeterminateError",
    "InvalidArgumentError",
    "InvalidIdentityError",
    "LeaderConfiguration",
    "LeaderInfo",
    "Member",
    "MemberKind",
    "MemberState",
    "NoQuorumError",
    "Node",
    "NotLeaderError",
    "Outcome",
    "OutcomeKind",
    "OverloadedError",
    "Ownership",
    "OwnershipTransition",
    "ReadAt",
    "ReadLevel",
    "Refusal",
    "RefusedError",
    "Remove",
    "RevocationSummary",
    "Role",
    "RunningMember",
    "ShutdownError",
    "Snapshot",
    "Peer",
    "Status",
    "StorageError",
    "SynodError",
    "TimeoutError",
    "UnauthorizedError",
    "UnavailableError",
    "TlsError",
    "Watch",
    "__version__",
    "flush_logs",
    "log_dropped",
    "parse_identity",
    "refresh_logging",
    "write_dev_certs",
]
