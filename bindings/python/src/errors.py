# The exception tree of `synod._synod`.
#
# This file is compiled into the extension (`include_str!` in errors.rs) and
# executed once at import, in a namespace whose `__name__` is the extension's
# own, so every class reports `__module__ == "synod._synod"`. It is Python
# rather than `create_exception!` because two classes need two bases
# (`InvalidArgumentError` is also a `ValueError`, `TimeoutError` also the
# builtin `TimeoutError`) and every class carries keyword attributes.
#
# Attributes are plain instance attributes set in `__init__`. Pickling goes
# through `copyreg.__newobj__` plus the instance state, so an exception
# survives a process boundary (multiprocessing, concurrent.futures) with its
# attributes intact even though most of them are keyword-only.

import builtins as _builtins
import copyreg as _copyreg


class SynodError(Exception):
    """The base of every error Synod raises."""

    def __reduce__(self):
        # `args` goes into the state too: OSError subclasses (TimeoutError)
        # do not keep the arguments given to `__new__` alone.
        state = dict(self.__dict__)
        state["args"] = self.args
        return (_copyreg.__newobj__, (type(self), *self.args), state)


class InvalidArgumentError(SynodError, ValueError):
    """An argument was refused before anything reached the control plane.

    `field` names the argument (for example `"range"` or `"timeout"`).
    """

    def __init__(self, message, *, field=None):
        super().__init__(message)
        self.field = field


class InvalidIdentityError(InvalidArgumentError):
    """A member identity (certificate subject) was refused: blank, longer
    than 1024 bytes, or containing a control character."""


class NotLeaderError(SynodError):
    """This member is not the leader. `leader` is the leader it knows of
    (or None), `leader_address` where to reach it (or None)."""

    def __init__(self, message, *, leader=None, leader_address=None):
        super().__init__(message)
        self.leader = leader
        self.leader_address = leader_address


class NoQuorumError(SynodError):
    """The leader could not replicate the entry to a majority."""


class TimeoutError(SynodError, _builtins.TimeoutError):
    """The deadline passed before the outcome was known; the entry may still
    commit later. `timeout` is the deadline that passed, in seconds."""

    def __init__(self, message, *, timeout=None):
        super().__init__(message)
        self.timeout = timeout


class RefusedError(SynodError):
    """The catalog refused the entry; nothing changed.

    `code` is a stable number and `name` a stable short name for the kind of
    refusal, `reason` the human-readable explanation and `details` its
    fields. `index` and `term` are the log position of the refused entry
    when the refusal was computed at apply time, None when the leader refused
    it before it entered the log.
    """

    def __init__(self, message, *, code, name, reason, details, index=None, term=None):
        super().__init__(message)
        self.code = code
        self.name = name
        self.reason = reason
        self.details = details
        self.index = index
        self.term = term


class ShutdownError(SynodError):
    """The node is closed or shutting down, or the member stopped: raised by
    every call on a stopped member, reads included."""


class StorageError(SynodError):
    """Durable storage failed; the member stopped on it and raises this from
    every later call, reads included."""


class UnauthorizedError(SynodError, PermissionError):
    """The member refused the request: the client's identity may not do this
    (read, propose ownership transitions, or use the operator capability).
    `identity` is the identity the client presented (or None)."""

    def __init__(self, message, *, identity=None):
        super().__init__(message)
        self.identity = identity


class UnavailableError(SynodError, ConnectionError):
    """No member could be reached or could serve the call before the
    deadline: connections refused or failed, or the members knew no
    leader."""


class TlsError(UnavailableError):
    """Every member refused this client's TLS handshake, or none presented a
    certificate it trusts (another CA, expired, the wrong name, revoked or
    denied): raised at once, after one round of attempts, not after the
    timeout. Nothing was sent in that round. (A subclass of
    `UnavailableError`, which it was before.)"""


class IndeterminateError(SynodError):
    """Whether the proposal took effect is not known and could not be found
    out: it may have committed (the client's retries ran out after an attempt
    whose outcome was unknown, or the retry is older than the cluster's
    memory of the client's session). Read the state before acting on it.
    Every other error of a proposal means it did not take effect, except
    `TimeoutError`, whose entry may still commit later."""


class OverloadedError(SynodError):
    """The member had as many calls in flight as it takes and none finished
    before the deadline (an asynchronous proposal is told at once). Nothing
    was proposed: the call did not take effect. Retry later, with backoff."""
