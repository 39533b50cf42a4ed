"""synod.Config: every key of the configuration file as a keyword, checked
when made, frozen, round-tripping through to_toml/from_file, and a member
started from one."""

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

import synod

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def eventually(what: str, probe: Callable[[], T | None], timeout: float = 20.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = probe()
        if got is not None:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certs")
    synod.write_dev_certs(out, ["node-a", "node-b"], ["ops", "app", "reader"])
    return out


def insecure(tmp_path: Path, **changes: Any) -> dict[str, Any]:
    """The keywords of a one-member insecure cluster on loopback."""
    addr = "127.0.0.1:7999"
    kwargs: dict[str, Any] = dict(
        id="CN=node-a",
        listen=addr,
        data_dir=tmp_path / "data",
        insecure=True,
        bootstrap=[("CN=node-a", addr)],
    )
    kwargs.update(changes)
    return kwargs


def mutual(tmp_path: Path, certs: Path, **changes: Any) -> dict[str, Any]:
    """The keywords of a one-member mutual-TLS cluster."""
    addr = f"127.0.0.1:{free_port()}"
    kwargs: dict[str, Any] = dict(
        id="CN=node-a",
        listen=addr,
        data_dir=tmp_path / "data",
        cert=certs / "node-a.pem",
        key=certs / "node-a-key.pem",
        ca=certs / "ca.pem",
        bootstrap=[("CN=node-a", "data", addr)],
        operators=["CN=ops"],
    )
    kwargs.update(changes)
    return kwargs


#: Every keyword at a value that is not its default (mutual TLS).
def every_field(tmp_path: Path, certs: Path) -> dict[str, Any]:
    crl = tmp_path / "ca.crl.pem"
    crl.write_text("")
    addr = f"127.0.0.1:{free_port()}"
    return dict(
        id="CN=node-a",
        listen=addr,
        data_dir=str(tmp_path / "data"),
        cert=str(certs / "node-a.pem"),
        key=str(certs / "node-a-key.pem"),
        ca=str(certs / "ca.pem"),
        allow_key_readable_by_others=True,
        deny=("CN=old-client", "CN=gone"),
        crl=str(crl),
        bootstrap=(
            ("CN=node-a", "data", addr),
            ("CN=node-b", "witness", "127.0.0.1:7402"),
        ),
        readers=("CN=reader",),
        proposers=("CN=app",),
        operators=("CN=ops",),
        tick_ms=20,
        heartbeat_ticks=2,
        election_ticks=12,
        snapshot_every=500,
        max_learner_lag=0,
        max_pending_calls=100,
        max_inbound_messages=200,
        watch_history=300,
        metrics_listen="127.0.0.1:0",
        max_inbound=8,
        max_client_connections=99,
        max_client_connections_per_identity=3,
    )


def test_every_field_round_trips_through_toml_and_a_file(tmp_path: Path, certs: Path) -> None:
    kwargs = every_field(tmp_path, certs)
    config = synod.Config(**kwargs)
    for name, value in kwargs.items():
        assert getattr(config, name) == value, name
    text = config.to_toml()
    assert "[engine]" in text and "tick_ms = 20" in text and "[transport]" in text
    path = tmp_path / "node.toml"
    path.write_text(text)
    again = synod.Config.from_file(path)
    assert again == config and hash(again) == hash(config)
    for name, value in kwargs.items():
        assert getattr(again, name) == value, name
    assert again.to_toml() == text

    # The keys of the insecure variant and `join`.
    joiner = synod.Config(
        id="CN=node-c",
        listen="10.0.0.3:7401",
        data_dir=tmp_path / "c",
        insecure=True,
        allow_insecure_non_loopback=True,
        join="10.0.0.1:7401",
        metrics_listen=9401,
    )
    assert joiner.insecure and joiner.allow_insecure_non_loopback
    assert (joiner.join, joiner.bootstrap, joiner.metrics_listen) == ("10.0.0.1:7401", None, "9401")
    path.write_text(joiner.to_toml())
    assert synod.Config.from_file(path) == joiner


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    config = synod.Config(**insecure(tmp_path))
    assert config.cert is None and config.deny == () and config.readers == ()
    assert config.tick_ms is None and config.max_inbound is None
    assert config.data_dir == str(tmp_path / "data")
    assert config.bootstrap == (("CN=node-a", "data", "127.0.0.1:7999"),)
    assert "[engine]" not in config.to_toml()

    # A file's relative paths are its directory's; the builder's the
    # working directory's.
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "node.toml"
    path.write_text(config.to_toml().replace(str(tmp_path / "data"), "data/a"))
    assert synod.Config.from_file(path).data_dir == str(tmp_path / "etc" / "data" / "a")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert synod.Config(**insecure(tmp_path, data_dir="rel")).data_dir == str(tmp_path / "rel")
    finally:
        os.chdir(cwd)


def test_frozen_replace_and_repr(tmp_path: Path) -> None:
    config = synod.Config(**insecure(tmp_path, tick_ms=20))
    with pytest.raises(AttributeError):
        config.tick_ms = 5  # type: ignore[misc]
    faster = config.replace(tick_ms=10, readers=["CN=reader"])
    assert (config.tick_ms, faster.tick_ms) == (20, 10)
    assert faster.readers == ("CN=reader",) and config.readers == ()
    assert faster != config and faster.replace(tick_ms=20, readers=()) == config
    assert config.replace(tick_ms=None).tick_ms is None
    with pytest.raises(TypeError, match="bogus"):
        config.replace(bogus=1)
    with pytest.raises(synod.InvalidArgumentError) as info:
        config.replace(tick_ms=0)
    assert info.value.field == "tick_ms"
    assert repr(config) == (
        f"Config(id='CN=node-a', listen='127.0.0.1:7999', data_dir={str(tmp_path / 'data')!r}, "
        "insecure=True, bootstrap=(('CN=node-a', 'data', '127.0.0.1:7999'),), tick_ms=20)"
    )


INVALID: list[tuple[str, Any, str]] = [
    # keyword, value, what the message says
    ("id", "CN=a, O=b", "OpenSSL"),
    ("id", "", "empty"),
    ("listen", "nohost", "listen"),
    ("data_dir", "", "empty"),
    ("insecure", True, "cannot be combined"),
    ("deny", ["CN=x, O=y"], "OpenSSL"),
    ("deny", ["CN=node-a"], "own identity"),
    ("crl", "", "empty"),
    ("bootstrap", [("CN=other", "127.0.0.1:1")], "not among"),
    ("bootstrap", [("CN=node-a", "cluster", "127.0.0.1:1")], "cluster"),
    ("bootstrap", [("CN=node-a", "nohost")], "nohost"),
    ("bootstrap", [], "at least one"),
    ("join", "nohost", "nohost"),
    ("join", "127.0.0.1:1", "not both"),
    ("readers", ["CN=x, O=y"], "OpenSSL"),
    ("proposers", [" "], "proposers"),
    ("operators", ["CN=x, O=y"], "OpenSSL"),
    ("tick_ms", 0, "between 1 and"),
    ("heartbeat_ticks", 0, "between 1 and"),
    ("election_ticks", 1, "greater than heartbeat_ticks"),
    ("election_ticks", 10**9, "a day"),
    ("snapshot_every", 0, "between 1 and"),
    ("max_learner_lag", -1, "between 0"),
    ("max_pending_calls", 0, "between 1 and"),
    ("max_inbound_messages", 0, "between 1 and"),
    ("watch_history", 0, "between 1 and"),
    ("metrics_listen", "nonsense", "neither host:port nor a port"),
    ("metrics_listen", 70000, "not a port"),
    ("max_inbound", 0, "between 1 and"),
    ("max_client_connections", 0, "between 1 and"),
    ("max_client_connections_per_identity", 2**63, "2**63 - 1"),
    ("cert", "", "empty"),
    ("key", "", "empty"),
    ("ca", "", "empty"),
]


@pytest.mark.parametrize(("field", "value", "says"), INVALID)
def test_each_invalid_field_is_named(
    tmp_path: Path, certs: Path, field: str, value: Any, says: str
) -> None:
    if field in ("insecure", "deny", "crl", "cert", "key", "ca"):
        kwargs = mutual(tmp_path, certs, **{field: value})
    else:
        kwargs = insecure(tmp_path, **{field: value})
    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.Config(**kwargs)
    assert info.value.field == field, info.value
    assert str(info.value).startswith(field), info.value
    assert says in str(info.value), info.value


def test_the_flags_tied_to_other_keys_are_named(tmp_path: Path, certs: Path) -> None:
    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.Config(**insecure(tmp_path, allow_insecure_non_loopback=True))
    assert info.value.field == "allow_insecure_non_loopback"
    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.Config(**insecure(tmp_path, allow_key_readable_by_others=True))
    assert info.value.field == "allow_key_readable_by_others"
    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.Config(**insecure(tmp_path, insecure=False))
    assert info.value.field == "cert"
    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.Config(**insecure(tmp_path, bootstrap=None))
    assert info.value.field == "bootstrap"
    with pytest.raises(synod.InvalidIdentityError) as identity:
        synod.Config(**insecure(tmp_path, readers=["CN=x, O=y"]))
    assert identity.value.field == "readers"


def test_wrong_types_are_type_errors_naming_the_keyword(tmp_path: Path) -> None:
    for field, value in [
        ("id", 5),
        ("tick_ms", "5"),
        ("tick_ms", True),
        ("insecure", 1),
        ("readers", "CN=a"),
        ("bootstrap", "CN=a"),
        ("data_dir", 3),
    ]:
        with pytest.raises(TypeError, match=field):
            synod.Config(**insecure(tmp_path, **{field: value}))
    with pytest.raises(TypeError):
        synod.Config(id="CN=a", listen="127.0.0.1:1")  # type: ignore[call-arg]


def test_from_file_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.Config.from_file(path)
    assert info.value.field == "path" and "node.toml" in str(info.value)
    path.write_text(synod.Config(**insecure(tmp_path)).to_toml() + "\n[engine]\ntick_ms = 0\n")
    with pytest.raises(synod.InvalidArgumentError, match="engine"):
        synod.Config.from_file(path)


def test_a_member_starts_from_a_config_and_answers(tmp_path: Path, certs: Path) -> None:
    config = synod.Config(**mutual(tmp_path, certs, tick_ms=10, metrics_listen=0))
    with synod.RunningMember.start(config) as member:
        assert member.id == "CN=node-a" and member.local_addr == config.listen
        assert member.metrics_addr is not None
        eventually("a leader", lambda: member.leader())
        member.node.propose(synod.OwnershipTransition("r", "CN=node-a", 1), timeout=10)
        owner = member.owner_at("r", level="linearizable").value
        assert owner is not None and owner.epoch == 1
        with synod.Client(
            [member.local_addr],
            cert=certs / "ops.pem",
            key=certs / "ops-key.pem",
            ca=certs / "ca.pem",
        ) as client:
            assert client.status().id == "CN=node-a"
            assert client.owner("r") == owner
        with pytest.raises(synod.InvalidArgumentError) as info:
            member.reload_revocation()
        assert info.value.field == "config_path"
    assert member.closed

    # The data directory is the config's: it starts again from it.
    with synod.RunningMember.start(config) as again:
        eventually("a leader", lambda: again.leader())
        assert again.owner_at("r", level="linearizable").value == owner


def test_the_key_file_mode_is_checked_at_start(tmp_path: Path, certs: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_bytes((certs / "node-a-key.pem").read_bytes())
    key.chmod(0o644)
    config = synod.Config(**mutual(tmp_path, certs, key=key))
    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.RunningMember.start(config)
    assert info.value.field == "key" and "chmod 600" in str(info.value)
    with pytest.raises(TypeError, match="config_path"):
        synod.RunningMember.start(5)  # type: ignore[arg-type]
